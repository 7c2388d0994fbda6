"""One QThread owns the models; requests come in, results go out as queued signals.

Rules (ARCHITECTURE.md): a render slot holds only the newest request (latest wins), every result carries its
request id, and per request the order is render → show → score, a newer render abandoning stale scoring.
Other work waits its turn: requests (open a direction, an export preview) in the order sent, before job
steps. Requests and jobs are typed commands (:mod:`memstudio.engine.commands`) answered on a handle of their
own; a request may name a key, and a newer request with the same key supersedes the older one. Long jobs are
Python generators (:mod:`memstudio.core.jobs`), advanced one step at a time with pending renders answered in
between, so the studio stays live while a job runs; cancelling closes the generator within one step.

The loop is sealed: a device that cannot be used at start-up (``MEMSTUDIO_DEVICE=gpu``, CUDA without a
driver) becomes a :class:`Failure` and the engine serves on the CPU; a malformed job step, an exception anywhere
in an iteration or a model that fails to load becomes a :class:`Failure` and the thread keeps serving. If the
thread ever ends without being asked to, :attr:`Engine.died` says so. Failures also go to the log.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import traceback
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import Progress
from memstudio.core.requests import RenderRequest
from memstudio.core.unavailable import Score

if TYPE_CHECKING:
    import torch

    from memstudio.core.pipeline import Pipeline
    from memstudio.engine.commands import Command, JobCommand, JobHandle, RequestHandle

log = logging.getLogger("memstudio.engine")


@dataclass(frozen=True)
class Frame:
    """A rendered image (``[H, W, 3]`` uint8) for request ``request_id``."""

    request_id: int
    pixels: np.ndarray
    render_ms: float
    tensor: torch.Tensor


@dataclass(frozen=True)
class ScoreResult:
    """Scores of frame ``request_id``. The per-frame assessors (image factors) come first in a result of their
    own (``complete`` False when slower ones follow), so they never wait for ResMem; ``ovalized`` names the
    assessors that scored the face oval instead of the whole frame."""

    request_id: int
    values: dict[str, Score]  # Unavailable where the assessor has no score for the frame (valence: no face)
    errors: dict[str, str]
    score_ms: float
    complete: bool = True
    ovalized: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failure:
    """Something went wrong; ``message`` is for the user, ``details`` (traceback) for a bug report."""

    origin: str
    ident: int | str
    message: str
    details: str


@dataclass(frozen=True)
class JobUpdate:
    job_id: str
    title: str
    fraction: float
    message: str
    eta_s: float | None
    preview: np.ndarray | None


@dataclass
class _Work:
    """One queued request: the command's ``run`` and the handle that reports on it."""

    run: Callable[[Pipeline], Any]
    handle: RequestHandle


@dataclass
class _JobState:
    title: str
    factory: Callable[[Pipeline], Iterator[Progress]]
    handle: JobHandle
    key: Hashable | None = None
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
    #: The thread ended without :meth:`stop` (a :class:`Failure` says why): nothing will be served any more.
    died = Signal(object)
    #: The thread has ended, asked to or not.
    stopped = Signal()
    rendered = Signal(object)
    scored = Signal(object)
    #: What failed outside a job: a request, a render, the start-up (a job's failure goes to its handle alone).
    failed = Signal(object)
    #: A job was submitted (its :class:`JobHandle`, emitted inside :meth:`submit` on the GUI thread): the Jobs
    #: dock follows each job through its own handle, connected before anyone else's.
    job_submitted = Signal(object)

    # Engine thread → GUI thread: (handle, kind, payload), re-emitted there by the handle (see :meth:`submit`).
    _to_handle = Signal(object, str, object)

    #: Progress signals per job are throttled to this interval unless they carry a preview.
    PROGRESS_INTERVAL_S = 0.1

    def __init__(self, device: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._device_name = device
        self.device_description = "starting…"
        self.pipeline: Pipeline | None = None
        self._cond = threading.Condition()
        self._render: RenderRequest | None = None
        self._tasks: deque[_Work] = deque()
        self._running: RequestHandle | None = None  # the request being run now (engine thread sets it)
        #: Handles whose answer is still to come: kept alive here, however the caller holds them.
        self._outstanding: set[RequestHandle] = set()
        self._request_ids = itertools.count(1)
        self._jobs: OrderedDict[str, _JobState] = OrderedDict()
        self._cancel: set[str] = set()
        self._stopping = False
        self._ids = itertools.count(1)
        self._job_ids = itertools.count(1)
        #: Why the thread ended on its own (set on the engine thread just before it ends).
        self.death: Failure | None = None
        self._thread = _WorkerThread(self)
        self._thread.finished.connect(self._thread_finished)
        # Queued even when emitted on the GUI thread (a superseded request): a handle never answers inside the
        # call that made or superseded it.
        self._to_handle.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        _live_engines.add(self)

    # ----- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (a no-op once :meth:`stop` was called: a window closed before its engine started)."""
        if not self._stopping:
            self._thread.start()

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Cancel jobs, finish the current step and join the thread; True when it has stopped."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        return self._thread.wait(timeout_ms) if self._thread.isRunning() else True

    def is_running(self) -> bool:
        return self._thread.isRunning()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (the thread may still be finishing a step)."""
        return self._stopping

    @Slot()
    def _thread_finished(self) -> None:
        if not self._stopping:
            death = self.death or Failure(
                "engine", "thread", "the engine thread stopped unexpectedly; restart memstudio", ""
            )
            log.error("engine thread died: %s\n%s", death.message, death.details)
            self.died.emit(death)
        self.stopped.emit()

    # ----- requests (GUI thread) ------------------------------------------------------------------------
    def next_request_id(self) -> int:
        return next(self._ids)

    def request_render(self, request: RenderRequest) -> None:
        """Replace any pending render with ``request`` (latest wins)."""
        with self._cond:
            self._render = request
            self._cond.notify_all()

    def request(self, command: Command, key: Hashable | None = None) -> RequestHandle:
        """Run ``command.run(pipeline)`` once on the engine thread; its :class:`RequestHandle` says how it went.

        With a ``key``, this request supersedes any earlier one with the same key: a waiting one is dropped, a
        running one has its result discarded, and each of them reports ``cancelled`` (``superseded`` True).
        Only the result is discarded, not what the command did: give keys to commands whose only effect is
        their answer (previews, listings, checks), never to one that changes the pipeline.
        A command that raises becomes a :class:`Failure` on the handle and on :attr:`failed` (the window shows
        it); the engine keeps serving. The handle's signals come from the GUI thread's event loop, never before
        this call has returned, so connecting right after ``request`` misses nothing.
        """
        from memstudio.engine.commands import RequestHandle, check_command

        check_command(command, "run")
        handle = RequestHandle(self, command, key, next(self._request_ids))
        with self._cond:
            older: list[RequestHandle] = []
            if key is not None:
                waiting = [w for w in self._tasks if w.handle.key == key]
                for work in waiting:
                    self._tasks.remove(work)
                older = [w.handle for w in waiting]
                if self._running is not None and self._running.key == key:
                    older.append(self._running)
            self._tasks.append(_Work(command.run, handle=handle))
            self._outstanding.add(handle)
            self._cond.notify_all()
        for old in older:
            old.superseded = True
            self._discard(old)
        return handle

    def cancel_request(self, handle: RequestHandle) -> None:
        """Drop ``handle``'s request if it waits; a running one finishes, and its result is discarded."""
        with self._cond:
            for work in [w for w in self._tasks if w.handle is handle]:
                self._tasks.remove(work)
        self._discard(handle)

    def _discard(self, handle: RequestHandle) -> None:
        """No result of ``handle`` will be delivered; it says ``cancelled`` from the event loop, like any answer."""
        handle.discarded = True
        self._to_handle.emit(handle, "cancelled", None)

    def _settle(self, handle: RequestHandle, kind: str, payload: object) -> None:
        """GUI thread: the handle's first answer is delivered, later ones dropped; a discarded handle's answer
        is ``cancelled`` whatever the command did."""
        self._outstanding.discard(handle)
        if handle.discarded:
            kind, payload = "cancelled", None
        if handle.deliver(kind, payload) and kind == "failed":
            self.failed.emit(payload)

    @Slot(object, str, object)
    def _deliver(self, handle: JobHandle | RequestHandle, kind: str, payload: object) -> None:
        from memstudio.engine.commands import RequestHandle

        if isinstance(handle, RequestHandle):
            self._settle(handle, kind, payload)
        elif handle.discarded:
            # Superseded: its progress is stale, and whatever else it reports now, to its caller it ended.
            if kind != "progress":
                handle.deliver("cancelled", payload if kind == "cancelled" else None)
        else:
            handle.deliver(kind, payload)

    def submit(
        self, command: JobCommand, job_id: str | None = None, key: Hashable | None = None, listed: bool = True
    ) -> JobHandle:
        """Run a typed job command; its :class:`JobHandle` reports progress, done, failed and cancelled.

        ``listed`` False: a transient job its caller shows itself (a heatmap, a training estimate), which the
        Jobs dock leaves out (the handle says so; :attr:`job_submitted` is emitted for every job).

        With a ``key``, the job supersedes running jobs with the same key: they are cancelled within a step
        (their ``finally`` runs), their handles deliver no more progress and report ``cancelled``.
        The handle's signals are emitted on the GUI thread from its event loop, never before this call has
        returned, so connecting to them right after ``submit`` misses nothing even when the job fails at once.
        """
        from memstudio.engine.commands import JobHandle, check_command

        check_command(command, "steps")
        job_id = job_id or f"{type(command).__name__}-{next(self._job_ids)}"
        handle = JobHandle(self, job_id, command.title, listed)
        with self._cond:
            if job_id in self._jobs:
                raise MemstudioError(f"a job called {job_id!r} is already running")
            older = [(i, s.handle) for i, s in self._jobs.items() if key is not None and s.key == key]
            self._cancel.update(i for i, _ in older)
            self._jobs[job_id] = _JobState(command.title, command.steps, handle, key)
            self._cond.notify_all()
        for _, old in older:
            if old is not None:
                old.discarded = True
        self.job_submitted.emit(handle)
        return handle

    def cancel_job(self, job_id: str) -> None:
        with self._cond:
            self._cancel.add(job_id)
            self._cond.notify_all()

    def has_newer_render(self) -> bool:
        return self._render is not None

    # ----- engine thread --------------------------------------------------------------------------------
    def _run(self) -> None:
        self._start_up()
        import torch

        torch.set_grad_enabled(False)
        while True:
            try:
                if not self._serve_next():
                    break
            except Exception as exc:  # noqa: BLE001 - sealed: one bad iteration never ends the thread
                self._report(_failure("engine", "loop", exc))
        for job_id in list(self._jobs):
            self._close_job(job_id)
        with self._cond:
            left, self._tasks = list(self._tasks), deque()
        for work in left:
            if work.handle is not None:
                self._to_handle.emit(work.handle, "cancelled", None)

    def _start_up(self) -> None:
        """Import torch and build the pipeline on the wanted device, or on the CPU when that device fails."""
        from memstudio.core.heap import long_lived

        # torch is imported here, on the engine thread, so the window is on screen and live meanwhile.
        with long_lived():
            import torch

            from memstudio.core.device import describe
            from memstudio.core.pipeline import Pipeline

            try:
                device = _usable_device(self._device_name)
                self.pipeline = Pipeline(device)
                self.device_description = describe(device)
            except Exception as exc:  # noqa: BLE001 - any device problem: say so and serve on the CPU
                failure = _failure("startup", "device", exc)
                self._report(
                    Failure(failure.origin, failure.ident, f"{failure.message}; running on the CPU", failure.details)
                )
                cpu = torch.device("cpu")
                self.pipeline = Pipeline(cpu)
                self.device_description = f"{describe(cpu)} (fallback)"
        log.info("engine ready on %s", self.device_description)
        self.ready.emit(self.device_description)

    def _serve_next(self) -> bool:
        """Wait for work and do one piece of it; False when the engine is stopping."""
        with self._cond:
            while not (self._stopping or self._render or self._tasks or self._jobs or self._cancel):
                self._cond.wait()
            if self._stopping:
                return False
            request, self._render = self._render, None
            task = self._tasks.popleft() if request is None and self._tasks else None
            if task is not None:
                # Marked running in the same lock that took it off the queue: a newer request with its key,
                # arriving while cancelled jobs are closed below, still finds it and supersedes it.
                self._running = task.handle
            cancels, self._cancel = self._cancel, set()
        for job_id in cancels:
            self._close_job(job_id)
        if request is not None:
            self._serve_render(request)
        elif task is not None:
            self._serve_task(task)
        elif self._jobs:
            self._step_next_job()
        return True

    def _report(self, failure: Failure) -> None:
        log.error("%s %s failed: %s\n%s", failure.origin, failure.ident, failure.message, failure.details)
        self.failed.emit(failure)

    def _serve_render(self, request: RenderRequest) -> None:
        from memstudio.core.imaging import tensor_to_uint8

        start = time.perf_counter()
        try:
            image = self.pipeline.render(request)
            pixels = tensor_to_uint8(image)[0]
        except Exception as exc:  # noqa: BLE001 - reported to the user; the engine keeps serving
            self._report(_failure("render", request.request_id, exc))
            return
        render_ms = (time.perf_counter() - start) * 1000.0
        self.rendered.emit(Frame(request.request_id, pixels, render_ms, image.detach().cpu()))
        if not request.assessors or self.has_newer_render():
            return
        from memstudio.core.assessors.registry import per_frame

        cheap = tuple(name for name in request.assessors if per_frame(name))
        slow = tuple(name for name in request.assessors if name not in cheap)
        for names, complete in ((cheap, not slow), (slow, True)):
            if not names:
                continue
            if self.has_newer_render():
                return  # the frame is already old: its slower scores would be stale on arrival
            start = time.perf_counter()
            scores = self.pipeline.score(image, names, should_stop=self.has_newer_render)
            if len(scores.values) + len(scores.errors) < len(names):
                return  # abandoned for a newer frame: these scores would be stale
            ovalized = tuple(name for name in names if name in self.pipeline.ovalize)
            elapsed = (time.perf_counter() - start) * 1000.0
            self.scored.emit(
                ScoreResult(request.request_id, scores.values, scores.errors, elapsed, complete, ovalized)
            )

    def _serve_task(self, work: _Work) -> None:
        handle = work.handle
        try:
            result = work.run(self.pipeline)
        except Exception as exc:  # noqa: BLE001 - sealed: the failure goes to the handle, the loop goes on
            failure = _failure("request", handle.ident, exc)
            log.error("request %s failed: %s\n%s", failure.ident, failure.message, failure.details)
            self._to_handle.emit(handle, "failed", failure)
        else:
            self._to_handle.emit(handle, "done", result)
        finally:
            with self._cond:
                self._running = None

    def _step_next_job(self) -> None:
        import torch

        from memstudio.core.imaging import tensor_to_uint8

        with self._cond:
            if not self._jobs:
                return
            job_id, state = next(iter(self._jobs.items()))
            self._jobs.move_to_end(job_id)  # round-robin between jobs
        try:
            with torch.inference_mode(False), torch.enable_grad():
                if state.iterator is None:
                    state.started = time.perf_counter()
                    state.iterator = iter(state.factory(self.pipeline))
                step = next(state.iterator)
            if not isinstance(step, Progress):
                raise MemstudioError(
                    f"job {state.title!r} yielded a {type(step).__name__}, not a Progress (a bug in the job)"
                )
            now = time.perf_counter()
            if step.preview is None and now - state.last_emit < self.PROGRESS_INTERVAL_S and step.fraction < 1.0:
                return
            fraction = min(max(float(step.fraction), 0.0), 1.0)
            preview = tensor_to_uint8(step.preview[:1])[0] if step.preview is not None else None
        except StopIteration as stop:
            self._drop_job(job_id)
            self._to_handle.emit(state.handle, "done", stop.value)
            return
        except Exception as exc:  # noqa: BLE001
            self._fail_job(job_id, state, _failure("job", job_id, exc))
            return
        state.last_emit = now
        elapsed = now - state.started
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0.01 else None
        update = JobUpdate(job_id, state.title, fraction, step.message, eta, preview)
        self._to_handle.emit(state.handle, "progress", update)

    def _fail_job(self, job_id: str, state: _JobState, failure: Failure) -> None:
        """A job that raised or yielded nonsense: closed (its ``finally`` runs), reported, and gone."""
        self._drop_job(job_id)
        if state.iterator is not None and hasattr(state.iterator, "close"):
            try:
                state.iterator.close()
            except Exception as exc:  # noqa: BLE001 - the first failure is the one to report
                log.warning("closing failed job %s: %s", job_id, exc)
        log.error("job %s failed: %s\n%s", job_id, failure.message, failure.details)
        self._to_handle.emit(state.handle, "failed", failure)

    def _drop_job(self, job_id: str) -> _JobState | None:
        with self._cond:
            return self._jobs.pop(job_id, None)

    def _close_job(self, job_id: str) -> None:
        """Cancel ``job_id`` now: its generator is closed (its ``finally`` runs) and its handle says so."""
        state = self._drop_job(job_id)
        if state is None:
            return
        error = None
        if state.iterator is not None and hasattr(state.iterator, "close"):
            try:
                state.iterator.close()  # runs the job's finally: it saves what it needs to resume
            except Exception as exc:  # noqa: BLE001 - said on the card: cancelled, but its clean-up failed
                error = f"cancelled, but its clean-up failed: {type(exc).__name__}: {exc}"
                log.warning("closing job %s: %s", job_id, error)
        self._to_handle.emit(state.handle, "cancelled", error)


class _WorkerThread(QThread):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self.setObjectName("memstudio-engine")

    def run(self) -> None:
        try:
            self._engine._run()
        except BaseException as exc:  # noqa: BLE001 - recorded so the window can say why the engine stopped
            self._engine.death = _failure("engine", "thread", exc)
            log.critical("engine thread ended: %s\n%s", self._engine.death.message, self._engine.death.details)


def _usable_device(name: str | None) -> torch.device:
    """The device to serve on, checked by allocating on it: a name torch does not know, or CUDA without a
    driver or GPU, fails here with a clear message rather than on the first frame."""
    import torch

    from memstudio.core.device import default_device

    told = f"device {name!r}" if name else f"MEMSTUDIO_DEVICE={os.environ.get('MEMSTUDIO_DEVICE', '')!r}"
    try:
        device = torch.device(name) if name else default_device()
    except RuntimeError as exc:
        raise MemstudioError(f"{told} is not a torch device (use cpu, cuda or cuda:N): {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MemstudioError(f"{told} asks for CUDA, but CUDA is not available here (no driver or no GPU)")
    torch.zeros(1, device=device)
    return device


def _failure(origin: str, ident: int | str, exc: BaseException) -> Failure:
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, MemstudioError):
        message = str(exc)
    elif type(exc).__name__ == "OutOfMemoryError":
        message = "the GPU ran out of memory; try a smaller batch, fp16, or the CPU (MEMSTUDIO_DEVICE=cpu)"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return Failure(origin, ident, message, details)
