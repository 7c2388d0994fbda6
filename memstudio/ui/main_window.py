"""The studio window: assembly only. It builds the frame (menus, message bar, status bar), installs the rooms
in order (:mod:`memstudio.ui.features`), lays out their docks, shows failures and closes the engine."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from memstudio.engine import Engine, Failure
from memstudio.ui.docks import add_dock
from memstudio.ui.gestures import guard_wheel
from memstudio.ui.help_menu import HelpMenu
from memstudio.ui.layout import StudioLayout
from memstudio.ui.message_bar import MessageBar
from memstudio.ui.state import StudioState


class _Provided:
    """A context member that a room provides, read from the installed room on every access (the window never
    copies a room's state)."""

    def __init__(self, room: str, path: str) -> None:
        self.room, self._get = room, attrgetter(path)

    def __get__(self, window: MainWindow | None, owner: type) -> Any:
        if window is None:
            return self
        return self._get(window.features[self.room])


class MainWindow(QMainWindow):
    """The studio. ``frame_shown(request_id)`` and ``scores_shown(request_id)`` report what is on screen."""

    #: Emitted when the window closes, before the engine stops: rooms close their own windows.
    closing = Signal()

    canvas = _Provided("canvas", "canvas")
    frame_shown = _Provided("canvas", "live.frame_shown")
    scores_shown = _Provided("canvas", "live.scores_shown")
    frame_changed = _Provided("canvas", "live.frame_changed")
    assessors_changed = _Provided("canvas", "live.assessors_changed")
    live_assessors_changed = _Provided("canvas", "live.live_assessors_changed")
    scores_pending = _Provided("canvas", "live.scores_pending")
    scores_arrived = _Provided("canvas", "live.scores_arrived")
    request_frame = _Provided("canvas", "live.request_frame")
    refresh_assessors = _Provided("canvas", "live.refresh_assessors")
    last_request_id = _Provided("canvas", "live.last_request_id")
    current_frame = _Provided("canvas", "live.current_frame")
    last_scores = _Provided("canvas", "live.last_scores")
    shown_subject = _Provided("canvas", "live.shown_subject")
    live_assessors = _Provided("canvas", "live.live_assessors")
    available_assessors = _Provided("canvas", "live.available_assessors")
    last_latency_ms = _Provided("canvas", "live.last_latency_ms")
    browser = _Provided("browser", "browser")
    browser_dock = _Provided("browser", "dock")
    path_handlers = _Provided("browser", "path_handlers")
    open_paths = _Provided("browser", "open_paths")
    open_photo = _Provided("browser", "open_photo")
    strip = _Provided("properties", "strip")
    strip_dock = _Provided("properties", "dock")
    jobs = _Provided("jobs", "panel")
    jobs_dock = _Provided("jobs", "dock")

    def __init__(self, assessors: tuple[str, ...] | None = None, engine: Engine | None = None) -> None:
        """``assessors`` limits the live scores to those names (when available); None: every available one."""
        super().__init__()
        guard_wheel(QApplication.instance())  # before any widget is polished: they get Qt.StrongFocus
        self.setObjectName("memstudioMainWindow")
        self.setWindowTitle("memstudio")
        self.resize(1400, 900)
        self.wanted_assessors = assessors
        self.state = StudioState(self)
        self.engine = engine or Engine()
        self._owns_engine = engine is None
        self._docks = []
        self.messages = MessageBar()
        central = QWidget()
        self._centre = QVBoxLayout(central)
        self._centre.setContentsMargins(0, 0, 0, 0)
        self._centre.setSpacing(0)
        self._centre.addWidget(self.messages)
        self.setCentralWidget(central)
        self._build_menus()

        from memstudio.ui.features import install_all

        #: The installed rooms by name, filled in order: a room sees those installed before it.
        self.features: dict[str, object] = {}
        install_all(self, self.features)
        self._device_label = QLabel("device: starting…")
        self.statusBar().addPermanentWidget(self._device_label)
        self.layout_ = StudioLayout(self, self._docks, self.browser_dock, self.strip_dock, self.jobs_dock)
        self.layout_.arrange()
        self.layout_.restore()

        self.engine.ready.connect(self._engine_ready)
        self.engine.failed.connect(self._show_failure)
        self.engine.died.connect(self._engine_died)
        self.engine.stopped.connect(self._engine_stopped)
        self._closing_wait = False
        self._closed = False
        if self._owns_engine:
            # Started after the window is shown: torch is imported on the engine thread meanwhile.
            QTimer.singleShot(0, self.engine.start)

    # ----- the frame the rooms are installed in ---------------------------------------------------------
    def show_in_centre(self, widget: QWidget) -> None:
        self._centre.addWidget(widget, 1)

    def add_feature_dock(self, widget: QWidget, title: str, object_name: str, area: Qt.DockWidgetArea):
        """Add a dock (stable objectName), listed in View and restored by Reset layout."""
        dock = add_dock(self, widget, title, object_name, area)
        self._docks.append(dock)
        self.view_menu.insertAction(self._view_separator, dock.toggleViewAction())
        return dock

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if hasattr(self, "layout_"):
            self.layout_.window_resized(event.size())

    def _build_menus(self) -> None:
        self.file_menu = file_menu = self.menuBar().addMenu("&File")
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
        self.rescan_action = self._action(self.tools_menu, "Rescan &assessors", lambda: self.refresh_assessors())
        self.tools_menu.addSeparator()
        self.view_menu = view_menu = self.menuBar().addMenu("&View")
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

    # ----- the engine -----------------------------------------------------------------------------------
    def _show_failure(self, failure: Failure) -> None:
        """A request, render or start-up failed (a job's failure is on its card, shown by the jobs room)."""
        self.messages.show_problem(failure.message, failure.details)
        self.statusBar().showMessage(failure.message, 10_000)

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
