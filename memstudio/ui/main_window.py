"""The studio window: wiring between the state, the docks, the canvas and the engine (no logic of its own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from memstudio.core.imaging import IMAGE_SUFFIXES
from memstudio.core.requests import LatentSubject, PhotoSubject, Subject
from memstudio.core.session.assessors import ListAssessors
from memstudio.engine import Engine, Failure, Frame, JobDone, ScoreResult
from memstudio.ui.canvas import ImageCanvas
from memstudio.ui.docks import add_dock
from memstudio.ui.gestures import guard_wheel
from memstudio.ui.help_menu import HelpMenu
from memstudio.ui.jobs_dock import JobsPanel
from memstudio.ui.layout import StudioLayout
from memstudio.ui.message_bar import MessageBar
from memstudio.ui.property_strip import PropertyStrip
from memstudio.ui.score_board import ScoreBoard
from memstudio.ui.seed_browser import SeedBrowser
from memstudio.ui.state import StudioState

if TYPE_CHECKING:
    from memstudio.core.assessors.registry import LiveAssessor

#: Id prefix of the engine task that lists the assessors available here.


class MainWindow(QMainWindow):
    """The studio. ``frame_shown(request_id)`` and ``scores_shown(request_id)`` report what is on screen."""

    frame_shown = Signal(int)
    scores_shown = Signal(int)
    #: The frame now on the canvas (``engine.Frame``), for features that follow the image (heatmaps).
    frame_changed = Signal(object)
    #: Emitted when the window closes, before the engine stops: features close their own windows.
    closing = Signal()
    #: The available assessors changed (``list[LiveAssessor]``): after start-up, an import or a training.
    assessors_changed = Signal(object)

    def __init__(self, assessors: tuple[str, ...] | None = None, engine: Engine | None = None) -> None:
        """``assessors`` limits the live scores to those names (when available); None: every available one."""
        super().__init__()
        guard_wheel(QApplication.instance())  # before any widget is polished: they get Qt.StrongFocus
        self.setObjectName("memstudioMainWindow")
        self.setWindowTitle("memstudio")
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self.state = StudioState(self)
        self.engine = engine or Engine()
        self._owns_engine = engine is None
        self._wanted = assessors
        #: The assessors scored live (:class:`memstudio.core.assessors.registry.LiveAssessor`), None until the
        #: engine has listed them: the registry imports torch, so the window asks the engine rather than wait.
        self.live_assessors: list[LiveAssessor] | None = None
        #: Every available assessor, also those not scored live (for the heatmap and export choices).
        self.available_assessors: list[LiveAssessor] = []
        self._assessors: tuple[str, ...] = ()
        self.scores = ScoreBoard(self._assessors, {})
        self._partial: ScoreResult | None = None
        #: The subject of each frame requested (until it is shown), and of the frame on the canvas.
        self._requested: dict[int, Subject] = {}
        self.shown_subject: Subject | None = None
        self._last_sent = 0
        self._last_shown = 0
        self._last_scored = 0
        self._sent_at: dict[int, float] = {}
        self.last_latency_ms: float | None = None
        self.current_frame: Frame | None = None
        self.last_scores: ScoreResult | None = None
        self._docks = []
        #: Features claim the paths they open (generator checkpoints, directions, latents): each handler takes
        #: the paths and returns those it left, plus sentences saying what it did with the others.
        self.path_handlers: list[Callable[[list[Path]], tuple[list[Path], list[str]]]] = []

        self.canvas = ImageCanvas()
        self.messages = MessageBar()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.messages)
        column.addWidget(self.canvas, 1)
        self.setCentralWidget(central)

        self.browser = SeedBrowser()
        self.strip = PropertyStrip()
        self.jobs = JobsPanel()
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.browser_dock = self.add_feature_dock(self.browser, "Seed browser", "seedBrowserDock", left)
        self.strip_dock = self.add_feature_dock(self.strip, "Properties", "propertyStripDock", right)
        # Under the photos: the canvas keeps the full height of the window.
        self.jobs_dock = self.add_feature_dock(self.jobs, "Jobs", "jobsDock", left)

        self._device_label = QLabel("device: starting…")
        self._timing_label = QLabel("")
        self.statusBar().addPermanentWidget(self._timing_label)
        self.statusBar().addPermanentWidget(self._device_label)

        self._build_menus()
        from memstudio.ui.features import install_all

        self.features = install_all(self)
        self.layout_ = StudioLayout(self, self._docks, self.browser_dock, self.strip_dock, self.jobs_dock)
        self.layout_.arrange()
        self.layout_.restore()

        self.state.changed.connect(self.request_frame)
        self.state.changed.connect(self._sync_controls)
        self.strip.value_changed.connect(self.state.set_value)
        self.strip.drag_started.connect(self.state.begin_drag)
        self.strip.drag_finished.connect(self.state.end_drag)
        self.state.subject_changed.connect(self._follow_subject)
        self.strip.reset_requested.connect(self.state.reset_edits)
        self.browser.photo_chosen.connect(self.open_photo)
        self.browser.problem.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.jobs.cancel_requested.connect(self.engine.cancel_job)

        self.engine.ready.connect(self._engine_ready)
        self.engine.rendered.connect(self._show_frame)
        self.engine.scored.connect(self._show_scores)
        self.engine.failed.connect(self._show_failure)
        self.engine.job_progress.connect(self.jobs.update_job)
        self.engine.job_finished.connect(self._job_finished)
        self.engine.died.connect(self._engine_died)
        self.engine.stopped.connect(self._engine_stopped)
        self._closing_wait = False
        self._closed = False
        self.refresh_assessors()
        if self._owns_engine:
            # Started after the window is shown: torch is imported on the engine thread meanwhile.
            QTimer.singleShot(0, self.engine.start)

    # ----- menus ----------------------------------------------------------------------------------------
    def add_feature_dock(self, widget: QWidget, title: str, object_name: str, area: Qt.DockWidgetArea):
        """Add a dock (stable objectName), listed in View and restored by Reset layout."""
        dock = add_dock(self, widget, title, object_name, area)
        self._docks.append(dock)
        if hasattr(self, "view_menu"):
            self.view_menu.insertAction(self._view_separator, dock.toggleViewAction())
        return dock

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if hasattr(self, "layout_"):
            self.layout_.window_resized(event.size())

    def _build_menus(self) -> None:
        self.file_menu = file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Add &photos…", self.browser.choose_files, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &folder…", self.browser.choose_folder)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit_menu = self.menuBar().addMenu("&Edit")
        undo = self.state.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.state.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        edit_menu.addAction(undo)
        edit_menu.addAction(redo)
        self._action(edit_menu, "Reset edits", self.state.reset_edits)

        self.tools_menu = self.menuBar().addMenu("&Tools")
        # After `memstudio import-model` or `assessor train` in a shell while the studio runs.
        self.rescan_action = self._action(self.tools_menu, "Rescan &assessors", self.refresh_assessors)
        self.tools_menu.addSeparator()
        self.view_menu = view_menu = self.menuBar().addMenu("&View")
        for dock in self._docks:
            view_menu.addAction(dock.toggleViewAction())
        self._view_separator = view_menu.addSeparator()
        self.reset_layout_action = self._action(view_menu, "Reset layout", self.reset_layout)
        self.help = HelpMenu(self)
        self.closing.connect(self.help.close_all)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    # ----- layout ---------------------------------------------------------------------------------------
    def save_layout(self) -> None:
        self.layout_.save()

    def reset_layout(self) -> None:
        self.layout_.reset()

    # ----- opening things -------------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> str:
        """Open dropped or command-line paths; returns a sentence saying what was done with them."""
        said: list[str] = []
        for handler in self.path_handlers:
            paths, messages = handler(paths)
            said += messages
        images = [p for p in paths if p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES]
        unknown = [p for p in paths if p not in images]
        added = self.browser.add_paths(images)
        if added:
            self.open_photo(added[0])
            said.append(f"added {len(added)} photo(s) to the seed browser and opened {Path(added[0]).name}")
        elif images:
            self.open_photo(str(images[0]))
            said.append(f"opened {images[0].name}")
        if unknown:
            said.append(f"ignored {', '.join(p.name for p in unknown)} (not an image, folder or checkpoint)")
        message = "; ".join(said) or "nothing to open"
        self.statusBar().showMessage(message, 10_000)
        return message

    def open_photo(self, path: str) -> None:
        self.browser.select(str(path))
        self.state.set_subject(PhotoSubject(str(path)), keep_edits=True)

    def _follow_subject(self) -> None:
        """The seed browser selects what the state shows (after undo too), and nothing else."""
        subject = self.state.subject
        if isinstance(subject, LatentSubject):
            self.browser.select_latent(subject.key)
        else:
            self.browser.select(subject.path if isinstance(subject, PhotoSubject) else None)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    # ----- live assessors --------------------------------------------------------------------------------
    def refresh_assessors(self) -> None:
        """List the available assessors again (on the engine thread); the strip follows when they arrive."""
        handle = self.engine.request(ListAssessors(), key="list-assessors")  # a newer listing supersedes
        handle.done.connect(self._assessors_listed)
        handle.failed.connect(self._assessors_failed)

    def _assessors_listed(self, available: list[LiveAssessor]) -> None:
        if not self._closed:
            self.set_live_assessors(available)

    def _assessors_failed(self, failure: Failure) -> None:
        self.statusBar().showMessage(f"could not list the assessors ({failure.message}); scoring none", 10_000)
        if self.live_assessors is None:
            self.set_live_assessors([])

    def set_live_assessors(self, available: list[LiveAssessor]) -> None:
        """Score ``available`` (less those the window was not asked for) live, grouped in the strip."""
        live = [a for a in available if self._wanted is None or a.name in self._wanted]
        if self.live_assessors is not None and (live, available) == (self.live_assessors, self.available_assessors):
            return
        self.live_assessors, self.available_assessors = live, list(available)
        self._assessors = tuple(a.name for a in live)
        self.scores.set_assessors(self._assessors, {a.name: a.decimals for a in live})
        self.strip.set_assessors(live)
        self.assessors_changed.emit(self.available_assessors)
        self.request_frame()

    # ----- frames ---------------------------------------------------------------------------------------
    def request_frame(self) -> None:
        values = self.state.values
        if values.subject is None or self.live_assessors is None:
            return  # until the assessors are listed (a moment after start-up): the frame then comes scored
        # The session's request names the subject's generator and the ovalize setting it is scored with.
        request = self.state.render_request(self.engine.next_request_id(), self._assessors)
        self._last_sent = request.request_id
        self._sent_at[request.request_id] = time.perf_counter()
        self._requested[request.request_id] = values.subject
        self.strip.mark_scores_stale()
        self.engine.request_render(request)

    @property
    def last_request_id(self) -> int:
        """Id of the newest frame requested (frames and scores for older ids are stale)."""
        return self._last_sent

    def _sync_controls(self) -> None:
        self.strip.set_edit_values(self.state.values.edits)
        self.strip.set_edits_enabled(isinstance(self.state.subject, PhotoSubject))
        self.setWindowTitle(f"memstudio — {self.state.subject_label()}" if self.state.subject else "memstudio")

    def _show_frame(self, frame: Frame) -> None:
        if frame.request_id <= self._last_shown or self._closed:
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
        self._timing_label.setText(f"render {frame.render_ms:.0f} ms")
        self.frame_shown.emit(frame.request_id)
        self.frame_changed.emit(frame)

    def _show_scores(self, result: ScoreResult) -> None:
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
        self.strip.set_scores(result.values, result.errors)
        self._timing_label.setText(f"render {getattr(self, '_render_ms', 0):.0f} ms · score {result.score_ms:.0f} ms")
        if result.errors:
            name, message = next(iter(result.errors.items()))
            self.statusBar().showMessage(f"{name} could not score: {message}", 10_000)
        if result.complete:
            self.last_scores = result
            self.scores_shown.emit(result.request_id)

    def _show_failure(self, failure: Failure) -> None:
        message = failure.message
        if failure.origin == "render":
            subject = self._requested.pop(failure.ident, None) if isinstance(failure.ident, int) else None
            if subject is not None and subject != self.shown_subject:
                self.state.withdraw_subject(subject, self.shown_subject)  # back to what the canvas shows
        row = self.jobs.rows.get(str(failure.ident)) if failure.origin == "job" else None
        if row is not None:
            # A failed job says so where the user looks: the message bar names it, its card comes into view.
            message = f"{row.job_title} failed: {failure.message}"
            self.jobs_dock.show()
            self.jobs_dock.raise_()
            scroll = self.jobs_dock.widget()
            if isinstance(scroll, QScrollArea):
                scroll.ensureWidgetVisible(row)
        self.messages.show_problem(message, failure.details)
        self.statusBar().showMessage(message, 10_000)

    def _engine_died(self, failure: Failure) -> None:
        """The engine thread ended on its own: nothing renders any more, and the user must know."""
        self._device_label.setText("device: engine stopped")
        self.messages.show_problem(
            f"The engine stopped ({failure.message}): nothing will render or score; save your work and restart "
            "memstudio (the log has the details).",
            failure.details,
        )

    def _engine_ready(self, device: str) -> None:
        self._device_label.setText(f"device: {device}")

    # ----- jobs -----------------------------------------------------------------------------------------
    def _job_finished(self, done: JobDone) -> None:
        summary = ""
        warnings = tuple(getattr(done.result, "warnings", ()))
        if isinstance(getattr(done.result, "summary", None), str):
            summary = done.result.summary
        elif isinstance(done.result, dict) and isinstance(done.result.get("summary"), str):
            summary = done.result["summary"]
        elif isinstance(done.result, dict) and "csv" in done.result:
            summary = f"{done.result['scored']} scored, {done.result['failed']} failed → {done.result['csv']}"
        self.jobs.finish_job(done, summary, warnings)
        if summary:
            self.statusBar().showMessage(" · ".join([summary, *warnings]), 10_000)

    # ----- closing --------------------------------------------------------------------------------------
    #: How long closing waits for the engine to finish its current step before waiting in the background.
    STOP_TIMEOUT_MS = 5_000

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._closing_wait:
            # Still waiting for the engine's step: the window closes by itself when the thread has ended.
            event.ignore()
            return
        if not self._closed:
            self._closed = True
            self.closing.emit()
            self.save_layout()
            self.browser.shutdown()
        if self._owns_engine and not self.engine.stop(self.STOP_TIMEOUT_MS):
            # A long step (a model load, a training step on a slow CPU) is still running. Quitting now would
            # destroy a running QThread and abort the process, so the window stays, says so, and closes itself
            # once the engine has ended (:meth:`_engine_stopped`).
            self._closing_wait = True
            self.setEnabled(False)
            self.messages.show_problem(
                "Closing: waiting for the engine to finish its current step (jobs are cancelled and keep their "
                "checkpoints)…"
            )
            event.ignore()
            return
        event.accept()

    def _engine_stopped(self) -> None:
        if self._closing_wait:
            self._closing_wait = False
            self.close()
