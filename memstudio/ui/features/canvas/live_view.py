"""The studio's live loop: the assessors scored live, frame requests to the engine, frames and scores back.

Every state change asks for a frame of the session's current request (it names the subject's generator and the
ovalize setting); frames and scores carry their request id, and anything older than what is on the canvas is
dropped, so the screen never shows a stale frame or scores of another frame as current. The scores of the
cheap per-frame assessors arrive before the slower ones and are merged into one result per frame. The assessors
themselves are listed on the engine thread (the registry imports torch, which the window must not wait for),
and no frame is requested until they are, so the first frame comes scored.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

from memstudio.core.session.assessors import ListAssessors
from memstudio.engine import Engine, Failure, Frame, ScoreResult
from memstudio.ui.canvas import ImageCanvas
from memstudio.ui.score_board import ScoreBoard
from memstudio.ui.state import StudioState

if TYPE_CHECKING:
    from memstudio.core.assessors.registry import LiveAssessor
    from memstudio.core.requests import Subject


class LiveView(QObject):
    """Requests, shows and scores frames for ``canvas``; reports what is on screen (the property strip and the
    features follow these signals)."""

    frame_shown = Signal(int)
    scores_shown = Signal(int)
    frame_changed = Signal(object)  # the Frame now on the canvas
    assessors_changed = Signal(object)  # list[LiveAssessor]: every available assessor
    live_assessors_changed = Signal(object)  # list[LiveAssessor]: those scored live (before assessors_changed)
    scores_pending = Signal()  # a new frame was asked for: the scores on screen are about to be old
    scores_arrived = Signal(object)  # ScoreResult: the frame's scores so far (the cheap ones come first)
    problem = Signal(str)  # a short message for the status bar

    def __init__(
        self,
        state: StudioState,
        engine: Engine,
        canvas: ImageCanvas,
        timing: QLabel,
        wanted: tuple[str, ...] | None,
        parent: QObject,
    ) -> None:
        """``wanted`` limits the live scores to those names (when available); None: every available one."""
        super().__init__(parent)
        self.state, self.engine, self.canvas, self._timing = state, engine, canvas, timing
        self._wanted = wanted
        #: The assessors scored live, None until the engine has listed them.
        self.live_assessors: list[LiveAssessor] | None = None
        #: Every available assessor, also those not scored live (for the heatmap and export choices).
        self.available_assessors: list[LiveAssessor] = []
        self._assessors: tuple[str, ...] = ()
        self.scores = ScoreBoard(self._assessors, {})
        self._partial: ScoreResult | None = None
        #: The subject of each frame requested (until it is shown), and of the frame on the canvas.
        self._requested: dict[int, Subject] = {}
        self.shown_subject: Subject | None = None
        self._last_sent = self._last_shown = self._last_scored = 0
        self._sent_at: dict[int, float] = {}
        self._render_ms = 0.0
        self.last_latency_ms: float | None = None
        self.current_frame: Frame | None = None
        self.last_scores: ScoreResult | None = None
        self.closed = False
        engine.rendered.connect(self.show_frame)
        engine.scored.connect(self.show_scores)

    # ----- the assessors --------------------------------------------------------------------------------
    def refresh_assessors(self) -> None:
        """List the available assessors again (on the engine thread); the strip follows when they arrive."""
        handle = self.engine.request(ListAssessors(), key="list-assessors")  # a newer listing supersedes
        handle.done.connect(self._assessors_listed)
        handle.failed.connect(self._assessors_failed)

    def _assessors_listed(self, available: list[LiveAssessor]) -> None:
        if not self.closed:
            self.set_live_assessors(available)

    def _assessors_failed(self, failure: Failure) -> None:
        self.problem.emit(f"could not list the assessors ({failure.message}); scoring none")
        if self.live_assessors is None:
            self.set_live_assessors([])

    def set_live_assessors(self, available: list[LiveAssessor]) -> None:
        """Score ``available`` (less those not wanted) live, grouped in the strip."""
        live = [a for a in available if self._wanted is None or a.name in self._wanted]
        if self.live_assessors is not None and (live, available) == (self.live_assessors, self.available_assessors):
            return
        self.live_assessors, self.available_assessors = live, list(available)
        self._assessors = tuple(a.name for a in live)
        self.scores.set_assessors(self._assessors, {a.name: a.decimals for a in live})
        self.live_assessors_changed.emit(live)
        self.assessors_changed.emit(self.available_assessors)
        self.request_frame()

    # ----- frames ---------------------------------------------------------------------------------------
    def request_frame(self) -> None:
        """Ask for a frame of the current subject with the current edits (the newest request wins)."""
        values = self.state.values
        if values.subject is None or self.live_assessors is None:
            return  # until the assessors are listed (a moment after start-up): the frame then comes scored
        request = self.state.render_request(self.engine.next_request_id(), self._assessors)
        self._last_sent = request.request_id
        self._sent_at[request.request_id] = time.perf_counter()
        self._requested[request.request_id] = values.subject
        self.scores_pending.emit()
        self.engine.request_render(request)

    @property
    def last_request_id(self) -> int:
        """Id of the newest frame requested (frames and scores for older ids are stale)."""
        return self._last_sent

    def show_frame(self, frame: Frame) -> None:
        if frame.request_id <= self._last_shown or self.closed:
            return  # an older frame arriving late, or one the engine finished while the window closed
        self._last_shown = frame.request_id
        self.current_frame = frame
        self.shown_subject = self._requested.get(frame.request_id, self.shown_subject)
        for old in [i for i in self._requested if i < frame.request_id]:
            self._requested.pop(old)
        self.canvas.set_frame(frame.pixels)
        self.scores.frame_shown(frame.request_id)
        self.canvas.set_scores(self.scores.lines())  # the old values stay, marked "updating…"
        self.canvas.repaint()
        sent = self._sent_at.pop(frame.request_id, None)
        for stale in [i for i in self._sent_at if i < frame.request_id]:
            self._sent_at.pop(stale)
        if sent is not None:
            self.last_latency_ms = (time.perf_counter() - sent) * 1000.0
        self._render_ms = frame.render_ms
        self._timing.setText(f"render {frame.render_ms:.0f} ms")
        self.frame_shown.emit(frame.request_id)
        self.frame_changed.emit(frame)

    def show_scores(self, result: ScoreResult) -> None:
        """Per-frame assessors arrive first, slower ones later; each shows as soon as it is there."""
        if result.request_id != self._last_shown or result.request_id < self._last_scored:
            return  # scores of a frame no longer on screen
        self._last_scored = result.request_id
        if self._partial is not None and self._partial.request_id == result.request_id:
            result = ScoreResult(
                result.request_id,
                {**self._partial.values, **result.values},
                {**self._partial.errors, **result.errors},
                self._partial.score_ms + result.score_ms,
                result.complete,
                self._partial.ovalized + result.ovalized,
            )
        self._partial = result
        self.scores.add(result)
        self.canvas.set_scores(self.scores.lines())
        self.scores_arrived.emit(result)
        self._timing.setText(f"render {self._render_ms:.0f} ms · score {result.score_ms:.0f} ms")
        if result.errors:
            name, message = next(iter(result.errors.items()))
            self.problem.emit(f"{name} could not score: {message}")
        if result.complete:
            self.last_scores = result
            self.scores_shown.emit(result.request_id)

    def render_failed(self, failure: Failure) -> None:
        """A refused render: the state goes back to the subject the canvas shows (undo past a switch)."""
        subject = self._requested.pop(failure.ident, None) if isinstance(failure.ident, int) else None
        if subject is not None and subject != self.shown_subject:
            self.state.withdraw_subject(subject, self.shown_subject)
