"""One QThread owns the models; requests come in, results go out as queued signals.

Rules (ARCHITECTURE.md): a render slot holds only the newest request (latest wins), every result carries its
request id, and per request the order is render → show → score, a newer render abandoning stale scoring.
Other work waits its turn: tasks (load a model, open a direction) before job steps. Long jobs are Python
generators (:mod:`memstudio.core.jobs`), advanced one step at a time with pending renders answered in
between, so the studio stays live while a job runs; cancelling closes the generator within one step. An
exception anywhere becomes a :class:`Failure` for the user and the thread keeps serving.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import Progress
from memstudio.core.requests import RenderRequest
from memstudio.core.unavailable import Score

if TYPE_CHECKING:
    import torch

    from memstudio.core.pipeline import Pipeline


@dataclass(frozen=True)
class Frame:
    """A rendered image (``[H, W, 3]`` uint8) for request ``request_id``."""

    request_id: int
    pixels: np.ndarray
    render_ms: float
    tensor: torch.Tensor


@dataclass(frozen=True)
class ScoreResult:
    request_id: int
    values: dict[str, Score]  # Unavailable where the assessor has no score for the frame (valence: no face)
    errors: dict[str, str]
    score_ms: float


@dataclass(frozen=True)
class Failure:
    """Something went wrong; ``message`` is for the user, ``details`` (traceback) for a bug report."""

    origin: str
    ident: int | str
    message: str
    details: str


@dataclass(frozen=True)
class TaskDone:
    task_id: str
    result: Any


@dataclass(frozen=True)
class JobUpdate:
    job_id: str
    title: str
    fraction: float
    message: str
    eta_s: float | None
    preview: np.ndarray | None


@dataclass(frozen=True)
class JobDone:
    job_id: str
    title: str
    result: Any
    cancelled: bool
    error: str | None


@dataclass
class _JobState:
    title: str
    factory: Callable[[Pipeline], Iterator[Progress]]
    iterator: Iterator[Progress] | None = None
    started: float = 0.0
    last_emit: float = 0.0


_live_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def live_engines() -> list[Engine]:
    """Engines whose thread still runs (the test suite fails a test that leaks one)."""
    return [e for e in _live_engines if e.is_running()]


class Engine(QObject):
    """The studio's inference engine. Create, :meth:`start`, send requests, :meth:`stop` on close."""

    ready = Signal(str)
    rendered = Signal(object)
    scored = Signal(object)
    failed = Signal(object)
    task_done = Signal(object)
    job_progress = Signal(object)
    job_finished = Signal(object)

    #: Progress signals per job are throttled to this interval unless they carry a preview.
    PROGRESS_INTERVAL_S = 0.1

    def __init__(self, device: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._device_name = device
        self.device_description = "starting…"
        self.pipeline: Pipeline | None = None
        self._cond = threading.Condition()
        self._render: RenderRequest | None = None
        self._tasks: deque[tuple[str, Callable[[Pipeline], Any]]] = deque()
        self._jobs: OrderedDict[str, _JobState] = OrderedDict()
        self._cancel: set[str] = set()
        self._stopping = False
        self._ids = itertools.count(1)
        self._thread = _WorkerThread(self)
        _live_engines.add(self)

    # ----- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Cancel jobs, finish the current step and join the thread; True when it has stopped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        return self._thread.wait(timeout_ms) if self._thread.isRunning() else True

    def is_running(self) -> bool:
        return self._thread.isRunning()

    # ----- requests (GUI thread) ------------------------------------------------------------------------
    def next_request_id(self) -> int:
        return next(self._ids)

    def request_render(self, request: RenderRequest) -> None:
        """Replace any pending render with ``request`` (latest wins)."""
        with self._cond:
            self._render = request
            self._cond.notify_all()

    def call(self, task_id: str, fn: Callable[[Pipeline], Any]) -> None:
        """Run ``fn(pipeline)`` on the engine thread; its result arrives as :attr:`task_done`."""
        with self._cond:
            self._tasks.append((task_id, fn))
            self._cond.notify_all()

    def submit_job(self, job_id: str, title: str, factory: Callable[[Pipeline], Iterator[Progress]]) -> None:
        """Start a stepped job; ``factory(pipeline)`` is called on the engine thread and returns the steps."""
        with self._cond:
            if job_id in self._jobs:
                raise MemstudioError(f"a job called {job_id!r} is already running")
            self._jobs[job_id] = _JobState(title, factory)
            self._cond.notify_all()

    def cancel_job(self, job_id: str) -> None:
        with self._cond:
            self._cancel.add(job_id)
            self._cond.notify_all()

    def has_newer_render(self) -> bool:
        return self._render is not None

    # ----- engine thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        from memstudio.core.heap import long_lived

        # torch is imported here, on the engine thread, so the window is on screen and live meanwhile.
        with long_lived():
            import torch

            from memstudio.core.device import default_device, describe
            from memstudio.core.pipeline import Pipeline

            device = torch.device(self._device_name) if self._device_name else default_device()
            self.pipeline = Pipeline(device)
            self.device_description = describe(device)
        self.ready.emit(self.device_description)
        torch.set_grad_enabled(False)
        while True:
            with self._cond:
                while not (self._stopping or self._render or self._tasks or self._jobs or self._cancel):
                    self._cond.wait()
                if self._stopping:
                    break
                request, self._render = self._render, None
                task = self._tasks.popleft() if request is None and self._tasks else None
                cancels, self._cancel = self._cancel, set()
            for job_id in cancels:
                self._finish_job(job_id, cancelled=True)
            if request is not None:
                self._serve_render(request)
            elif task is not None:
                self._serve_task(*task)
            elif self._jobs:
                self._step_next_job()
        for job_id in list(self._jobs):
            self._finish_job(job_id, cancelled=True)

    def _serve_render(self, request: RenderRequest) -> None:
        from memstudio.core.imaging import tensor_to_uint8

        start = time.perf_counter()
        try:
            image = self.pipeline.render(request)
            pixels = tensor_to_uint8(image)[0]
        except Exception as exc:  # noqa: BLE001 - reported to the user; the engine keeps serving
            self.failed.emit(_failure("render", request.request_id, exc))
            return
        render_ms = (time.perf_counter() - start) * 1000.0
        self.rendered.emit(Frame(request.request_id, pixels, render_ms, image.detach().cpu()))
        if not request.assessors or self.has_newer_render():
            return
        start = time.perf_counter()
        scores = self.pipeline.score(image, request.assessors, should_stop=self.has_newer_render)
        if len(scores.values) + len(scores.errors) < len(request.assessors):
            return  # abandoned for a newer frame: these scores would be stale
        self.scored.emit(
            ScoreResult(
                request.request_id, scores.values, scores.errors, (time.perf_counter() - start) * 1000.0
            )
        )

    def _serve_task(self, task_id: str, fn: Callable[[Pipeline], Any]) -> None:
        try:
            result = fn(self.pipeline)
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(_failure("task", task_id, exc))
            return
        self.task_done.emit(TaskDone(task_id, result))

    def _step_next_job(self) -> None:
        import torch

        from memstudio.core.imaging import tensor_to_uint8

        with self._cond:
            if not self._jobs:
                return
            job_id, state = next(iter(self._jobs.items()))
            self._jobs.move_to_end(job_id)  # round-robin between jobs
        try:
            with torch.enable_grad():
                if state.iterator is None:
                    state.started = time.perf_counter()
                    state.iterator = iter(state.factory(self.pipeline))
                step = next(state.iterator)
        except StopIteration as stop:
            self._drop_job(job_id)
            self.job_finished.emit(JobDone(job_id, state.title, stop.value, cancelled=False, error=None))
            return
        except Exception as exc:  # noqa: BLE001
            self._drop_job(job_id)
            failure = _failure("job", job_id, exc)
            self.failed.emit(failure)
            self.job_finished.emit(JobDone(job_id, state.title, None, cancelled=False, error=failure.message))
            return
        now = time.perf_counter()
        if step.preview is None and now - state.last_emit < self.PROGRESS_INTERVAL_S and step.fraction < 1.0:
            return
        state.last_emit = now
        elapsed = now - state.started
        fraction = min(max(step.fraction, 0.0), 1.0)
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0.01 else None
        preview = tensor_to_uint8(step.preview[:1])[0] if step.preview is not None else None
        self.job_progress.emit(JobUpdate(job_id, state.title, fraction, step.message, eta, preview))

    def _drop_job(self, job_id: str) -> _JobState | None:
        with self._cond:
            return self._jobs.pop(job_id, None)

    def _finish_job(self, job_id: str, cancelled: bool) -> None:
        state = self._drop_job(job_id)
        if state is None:
            return
        error = None
        if state.iterator is not None and hasattr(state.iterator, "close"):
            try:
                state.iterator.close()  # runs the job's finally: it saves what it needs to resume
            except Exception as exc:  # noqa: BLE001
                error = str(exc)
        self.job_finished.emit(JobDone(job_id, state.title, None, cancelled=cancelled, error=error))


class _WorkerThread(QThread):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self.setObjectName("memstudio-engine")

    def run(self) -> None:
        self._engine._run()


def _failure(origin: str, ident: int | str, exc: BaseException) -> Failure:
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, MemstudioError):
        message = str(exc)
    elif type(exc).__name__ == "OutOfMemoryError":
        message = "the GPU ran out of memory; try a smaller batch, fp16, or the CPU (MEMSTUDIO_DEVICE=cpu)"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return Failure(origin, ident, message, details)
