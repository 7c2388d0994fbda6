"""Typed commands and the per-call handles that report on one of them.

A command is a frozen, Qt-free value that says what to do; it lives in :mod:`memstudio.core.session` beside
the other commands of its area, and the CLI can run it too. Two kinds:

- a **request** (:class:`Command`): one call, ``run(pipeline) -> result`` (open a direction, render an export
  preview, write a map). ``Engine.request(command, key=...)`` returns a :class:`RequestHandle`. A newer request
  with the same ``key`` supersedes the older one: if it is still waiting it is dropped, if it is running its
  result is discarded, so only the latest result for a key is ever delivered (export previews while the user
  keeps changing the dialog).
- a **job** (:class:`JobCommand`): a title for the Jobs dock and ``steps(pipeline)``, a generator of
  :class:`~memstudio.core.jobs.Progress`. ``Engine.submit(command)`` returns a :class:`JobHandle`.

Each handle's signals belong to that call alone, so no feature routes results by a string prefix of an id.
Signals arrive on the thread the handle was made on (the GUI's), never before the call that made the handle
has returned; a handle settles once (done, failed or cancelled) and is silent afterwards.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, Signal

from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import Progress

if TYPE_CHECKING:
    from memstudio.core.pipeline import Pipeline
    from memstudio.engine.engine import Engine


class Command(Protocol):
    """A one-shot request the engine can run: given the pipeline, return a plain value for the GUI thread."""

    def run(self, pipeline: Pipeline) -> Any: ...


class JobCommand(Protocol):
    """A stepped job the engine can run: a title for the Jobs dock and the steps, given the pipeline."""

    @property
    def title(self) -> str: ...

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]: ...


def check_command(command: object, method: str) -> None:
    """Refuse what is not a command: a function or lambda, or a command defined in the window's code (the
    engine thread runs core code only, so what it does can be run and tested without a window)."""
    module = type(command).__module__ or ""
    if not callable(getattr(command, method, None)) or callable(command):
        raise MemstudioError(
            f"the engine runs commands with a {method}(pipeline) method, not {type(command).__name__} objects"
        )
    if module == "memstudio.ui" or module.startswith("memstudio.ui."):
        raise MemstudioError(
            f"{type(command).__name__} is defined in {module}: engine commands belong in memstudio.core.session"
        )


@dataclass(frozen=True)
class JobDone:
    """How a job ended, as its handle's ``ended`` signal says: done (``result``), cancelled, or failed
    (``error`` for the user, ``details`` for a bug report)."""

    job_id: str
    title: str
    result: Any
    cancelled: bool
    error: str | None
    details: str = ""


class RequestHandle(QObject):
    """One request. ``done(result)``, ``failed(Failure)``, or ``cancelled()`` (cancelled or superseded)."""

    done = Signal(object)
    failed = Signal(object)  # Failure
    cancelled = Signal()

    def __init__(self, engine: Engine, command: Command, key: Hashable | None, serial: int) -> None:
        super().__init__()
        self._engine = engine
        self.command = command
        self.key = key
        self.serial = serial
        #: True once settled: delivered, failed, cancelled or superseded.
        self.settled = False
        #: True when a newer request with the same key took this one's place.
        self.superseded = False
        #: True once cancelled or superseded: whatever the command returns is dropped.
        self.discarded = False

    @property
    def ident(self) -> str:
        """How logs and failures name this request."""
        return f"{type(self.command).__name__}-{self.serial}"

    def deliver(self, kind: str, payload: object) -> bool:
        """Emit ``kind`` unless the handle has settled; True when it was emitted (GUI thread)."""
        if self.settled:
            return False
        self.settled = True
        if kind == "cancelled":
            self.cancelled.emit()
        else:
            getattr(self, kind).emit(payload)
        return True

    def cancel(self) -> None:
        """Drop the request if it still waits; if it is running, its result is discarded."""
        self._engine.cancel_request(self)


class JobHandle(QObject):
    """One submitted job. Signals arrive on the thread the handle was made on (the GUI's).

    It settles once: ``done(result)``, ``failed(Failure)`` or ``cancelled()``, each followed by ``ended(JobDone)``,
    which says the same for whoever follows every job (the Jobs dock) or only wants to know how it ended.
    """

    progress = Signal(object)  # JobUpdate
    done = Signal(object)  # the command's result
    failed = Signal(object)  # Failure
    cancelled = Signal()
    ended = Signal(object)  # JobDone

    def __init__(self, engine: Engine, job_id: str, title: str, listed: bool = True) -> None:
        super().__init__()
        self._engine = engine
        self.job_id = job_id
        self.title = title
        #: False for a transient job its caller shows itself: no card in the Jobs dock.
        self.listed = listed
        self.settled = False
        #: True once a newer job with the same key took this one's place.
        self.discarded = False

    def deliver(self, kind: str, payload: object) -> bool:
        """Emit the signal called ``kind``, then ``ended`` if the job is over (the engine routes its reports
        here on the GUI thread); a cancel's payload is why its clean-up failed, if it did."""
        if self.settled:
            return False
        if kind == "progress":
            self.progress.emit(payload)
            return True
        self.settled = True
        if kind == "cancelled":
            self.cancelled.emit()
            ended = JobDone(self.job_id, self.title, None, True, payload if isinstance(payload, str) else None)
        elif kind == "failed":
            self.failed.emit(payload)
            ended = JobDone(self.job_id, self.title, None, False, payload.message, payload.details)
        else:
            self.done.emit(payload)
            ended = JobDone(self.job_id, self.title, payload, False, None)
        self.ended.emit(ended)
        return True

    def cancel(self) -> None:
        """Stop the job within one step (its ``finally`` runs: GANalyze saves its checkpoint)."""
        self._engine.cancel_job(self.job_id)
