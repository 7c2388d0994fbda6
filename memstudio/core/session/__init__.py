"""The studio's work as Qt-free commands over a :class:`~memstudio.core.pipeline.Pipeline` (issue 13).

The engine-thread logic that used to live in ``memstudio/ui`` lives here, one module per area, so the CLI, the
tests and the studio's engine run the same code. A command is a frozen value built on the GUI thread:

- a *request* has ``run(pipeline) -> result`` and is sent with ``Engine.request(command, key=...)`` (a newer
  request with the same key supersedes the older one);
- a *job command* has a ``title`` and ``steps(pipeline) -> iterator of Progress`` and is sent with
  ``Engine.submit(command)``.

Both answer on a per-call handle (:mod:`memstudio.engine.commands`). The studio's model is
:class:`~memstudio.core.session.studio.StudioSession` (subject, edits, α, layer weights, the generator by
content hash and its latents, ovalize per assessor and subject). The areas: directions, faces, figures (the
export dialog), generators, heatmaps, memgame, ratings, scoring.
"""
