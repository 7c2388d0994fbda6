"""The studio window: wiring between the state, the docks, the canvas and the engine (no logic of its own)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from memstudio.core.imaging import IMAGE_SUFFIXES
from memstudio.core.requests import LatentSubject, PhotoSubject, Subject
from memstudio.engine import Engine, Failure, Frame, JobDone, ScoreResult
from memstudio.ui.canvas import ImageCanvas
from memstudio.ui.docks import add_dock
from memstudio.ui.gestures import guard_wheel
from memstudio.ui.help_menu import HelpMenu
from memstudio.ui.jobs_dock import JobsPanel
from memstudio.ui.layout import StudioLayout
from memstudio.ui.live_view import LiveView
from memstudio.ui.message_bar import MessageBar
from memstudio.ui.property_strip import PropertyStrip
from memstudio.ui.seed_browser import SeedBrowser
from memstudio.ui.state import StudioState

if TYPE_CHECKING:
    from memstudio.core.assessors.registry import LiveAssessor

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
        self.live = LiveView(self.state, self.engine, self.canvas, self.strip, self._timing_label, assessors, self)
        for signal in ("frame_shown", "scores_shown", "frame_changed", "assessors_changed"):
            getattr(self.live, signal).connect(getattr(self, signal))
        self.live.problem.connect(lambda message: self.statusBar().showMessage(message, 10_000))

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
        self.engine.failed.connect(self._show_failure)
        self.engine.job_progress.connect(self.jobs.update_job)
        self.engine.job_finished.connect(self._job_finished)
        self.engine.died.connect(self._engine_died)
        self.engine.stopped.connect(self._engine_stopped)
        self._closing_wait = False
        self._closed = False
        self.live.refresh_assessors()
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

    # ----- the live view (features and tests read these from the window) --------------------------------
    def request_frame(self) -> None:
        self.live.request_frame()

    def refresh_assessors(self) -> None:
        self.live.refresh_assessors()

    @property
    def last_request_id(self) -> int:
        return self.live.last_request_id

    @property
    def current_frame(self) -> Frame | None:
        return self.live.current_frame

    @property
    def last_scores(self) -> ScoreResult | None:
        return self.live.last_scores

    @property
    def shown_subject(self) -> Subject | None:
        return self.live.shown_subject

    @property
    def live_assessors(self) -> list[LiveAssessor] | None:
        return self.live.live_assessors

    @property
    def available_assessors(self) -> list[LiveAssessor]:
        return self.live.available_assessors

    @property
    def last_latency_ms(self) -> float | None:
        return self.live.last_latency_ms

    def _sync_controls(self) -> None:
        self.strip.set_edit_values(self.state.values.edits)
        self.strip.set_edits_enabled(isinstance(self.state.subject, PhotoSubject))
        self.setWindowTitle(f"memstudio — {self.state.subject_label()}" if self.state.subject else "memstudio")

    def _show_failure(self, failure: Failure) -> None:
        message = failure.message
        if failure.origin == "render":
            self.live.render_failed(failure)
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
            self.live.closed = True  # frames the engine finishes from now on are dropped
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
