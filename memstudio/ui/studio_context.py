"""What a studio feature may use of the window it is installed in: the narrow context each feature is given.

Features get the main window typed as this protocol, never as ``MainWindow``, and
``tests/test_feature_rooms.py`` checks that every attribute a feature reads from it is declared here. A feature
that needs something new adds it here, in plain sight, instead of reaching into the window or into another
feature (an import-linter ``independence`` contract forbids features importing each other or the window).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    from PySide6.QtCore import QObject, Qt, SignalInstance
    from PySide6.QtWidgets import QDockWidget, QGroupBox, QListWidgetItem, QMenu, QPushButton, QStatusBar, QWidget

    from memstudio.core.assessors.registry import LiveAssessor
    from memstudio.engine import Engine, Frame, ScoreResult
    from memstudio.ui.canvas import ImageCanvas
    from memstudio.ui.message_bar import MessageBar
    from memstudio.ui.state import StudioState


class PhotoShelf(Protocol):
    """What other rooms use of the seed browser (the browser room's panel)."""

    latent_chosen: SignalInstance  # str: the key of an inverted face the user picked

    def add_paths(self, paths: list[Path]) -> list[str]: ...
    def add_latent(self, key: str, label: str, thumbnail: np.ndarray | None = None) -> QListWidgetItem: ...
    def show_latents(self, keys: list[str]) -> None: ...
    def select_latent(self, key: str) -> None: ...
    def selected_paths(self) -> list[str]: ...


class JobCard(Protocol):
    """A job's card, for the room that submitted the job."""

    def set_busy(self) -> None: ...
    def say(self, text: str) -> None: ...
    def add_action(self, button: QPushButton) -> None: ...


class JobBoard(Protocol):
    """What other rooms use of the Jobs dock (the jobs room's panel); cards appear by themselves on submit."""

    def card(self, job_id: str) -> JobCard | None: ...
    def add_entry(self, button: QPushButton) -> None: ...


class ScoreStrip(Protocol):
    """What other rooms use of the property strip (the properties room's panel)."""

    #: Where the directions room puts its sliders, under the scores.
    directions_box: QGroupBox


class StudioContext(Protocol):
    """The studio as its features see it (the main window implements it; it is also their Qt parent).

    The window provides the state, the engine, the menus and the message bar; the core rooms, installed first,
    provide the rest: the canvas room the canvas and the live view's signals, the browser room the seed browser
    and the path handlers, the properties room the strip, the jobs room the job board.
    """

    state: StudioState
    engine: Engine
    messages: MessageBar
    file_menu: QMenu
    tools_menu: QMenu
    closing: SignalInstance
    #: The names given on the command line (``gui --assessors``) to score live, or None: every available one.
    wanted_assessors: tuple[str, ...] | None
    canvas: ImageCanvas
    browser: PhotoShelf
    browser_dock: QDockWidget
    strip: ScoreStrip
    strip_dock: QDockWidget
    jobs: JobBoard
    #: Each handler takes dropped or command-line paths and returns those it left, plus what it did.
    path_handlers: list[Callable[[list[Path]], tuple[list[Path], list[str]]]]
    #: Every assessor available here (built in, imported, trained), as the property strip lists them.
    available_assessors: list[LiveAssessor]
    #: The assessors scoring the canvas now (None until they are listed), as a saved session records them.
    live_assessors: list[LiveAssessor] | None
    current_frame: Frame | None
    last_scores: ScoreResult | None
    frame_changed: SignalInstance
    scores_shown: SignalInstance
    assessors_changed: SignalInstance
    live_assessors_changed: SignalInstance
    scores_pending: SignalInstance
    scores_arrived: SignalInstance

    def show_in_centre(self, widget: QWidget) -> None:
        """Put ``widget`` (the canvas) in the middle of the window, under the message bar."""

    def add_feature_dock(self, widget: QWidget, title: str, object_name: str, area: Qt.DockWidgetArea) -> QDockWidget:
        """Add a dock, listed in View and arranged by the studio's layout."""

    def request_frame(self) -> None:
        """Render the current subject with the current edits again."""

    def open_photo(self, path: str) -> None:
        """Make the photo at ``path`` the subject."""

    def refresh_assessors(self) -> None:
        """List the available assessors again (after an import or a training)."""

    def setWindowTitle(self, title: str) -> None:  # noqa: N802 - Qt's name
        """The window's title (it names the subject)."""

    def setAcceptDrops(self, on: bool) -> None:  # noqa: N802 - Qt's name
        """Let files be dropped on the window (the browser room opens them)."""

    def installEventFilter(self, watcher: QObject) -> None:  # noqa: N802 - Qt's name
        """Qt's event filter (the browser room watches drops)."""

    def statusBar(self) -> QStatusBar:  # noqa: N802 - Qt's name
        """The window's status bar, for short messages."""

    def splitDockWidget(self, first: QDockWidget, second: QDockWidget, orientation: Qt.Orientation) -> None:  # noqa: N802
        """Qt's dock placement (the generator dock goes under the photos)."""

    def resizeDocks(self, docks: list[QDockWidget], sizes: list[int], orientation: Qt.Orientation) -> None:  # noqa: N802
        """Qt's dock sizing."""

    def dockWidgetArea(self, dock: QDockWidget) -> Qt.DockWidgetArea:  # noqa: N802
        """Qt's dock area of ``dock``."""
