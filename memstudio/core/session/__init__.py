"""The studio's work as Qt-free commands over a :class:`~memstudio.core.pipeline.Pipeline` (issue 13).

This package is where the engine-thread logic that used to live in ``memstudio/ui/*_tasks.py`` moves, one
feature at a time, so the CLI, the tests and the studio's engine run the same code. A *job command* is a
frozen value with a ``title`` and ``steps(pipeline) -> iterator of Progress`` (the engine runs it with
``Engine.submit`` and reports on a per-call handle); the remaining *tasks* are functions of the pipeline
that ``Engine.call`` runs. Directions are here (:mod:`memstudio.core.session.directions`).
"""
