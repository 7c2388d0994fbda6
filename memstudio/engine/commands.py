"""Typed job commands and the per-call handle that reports on one of them.

``Engine.submit_job(job_id, title, factory)`` runs whatever closure it is given and routes its results by
job-id prefix. A command instead is a frozen, Qt-free value that says what to do (for example
:class:`memstudio.core.session.directions.TrainDirection`), and ``Engine.submit(command)`` returns a
:class:`JobHandle` whose signals belong to that call alone: progress, done (with the command's result),
failed (a :class:`Failure`) and cancelled. The remaining closures move to commands one feature at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, Signal

from memstudio.core.jobs import Progress

if TYPE_CHECKING:
    from memstudio.core.pipeline import Pipeline
    from memstudio.engine.engine import Engine


class JobCommand(Protocol):
    """A stepped job the engine can run: a title for the Jobs dock and the steps, given the pipeline."""

    @property
    def title(self) -> str: ...

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]: ...


class JobHandle(QObject):
    """One submitted command. Signals arrive on the thread the handle was made on (the GUI's)."""

    progress = Signal(object)  # JobUpdate
    done = Signal(object)  # the command's result
    failed = Signal(object)  # Failure
    cancelled = Signal()

    def __init__(self, engine: Engine, job_id: str, title: str) -> None:
        super().__init__()
        self._engine = engine
        self.job_id = job_id
        self.title = title

    def deliver(self, kind: str, payload: object) -> None:
        """Emit the signal called ``kind`` (the engine routes its reports here on the GUI thread)."""
        if kind == "cancelled":
            self.cancelled.emit()
        else:
            getattr(self, kind).emit(payload)

    def cancel(self) -> None:
        """Stop the job within one step (its ``finally`` runs: GANalyze saves its checkpoint)."""
        self._engine.cancel_job(self.job_id)
