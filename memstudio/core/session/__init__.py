"""The studio's work as Qt-free commands over a :class:`~memstudio.core.pipeline.Pipeline` (issue 13).

This package is where the engine-thread logic that used to live in ``memstudio/ui/*_tasks.py`` moves, one
feature at a time, so the CLI, the tests and the studio's engine run the same code. A *job command* is a
frozen value with a ``title`` and ``steps(pipeline) -> iterator of Progress`` (the engine runs it with
``Engine.submit`` and reports on a per-call handle); the remaining *tasks* are functions of the pipeline
that ``Engine.call`` runs; a *one-shot* command (:mod:`memstudio.core.session.commands`) is a job of one call.
The studio's model is :class:`~memstudio.core.session.studio.StudioSession` (subject, edits, α, layer weights,
the generator by content hash and its latents, ovalize per assessor and subject). Directions
(:mod:`~memstudio.core.session.directions`), heatmaps, faces (:mod:`~memstudio.core.session.faces`) and
generators (:mod:`~memstudio.core.session.generators`) are here.
"""
