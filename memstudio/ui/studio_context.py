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
    from PySide6.QtCore import Qt, SignalInstance
    from PySide6.QtWidgets import QDockWidget, QMenu, QStatusBar, QWidget

    from memstudio.core.assessors.registry import LiveAssessor
    from memstudio.engine import Engine, Frame, ScoreResult
    from memstudio.ui.canvas import ImageCanvas
    from memstudio.ui.jobs_dock import JobsPanel
    from memstudio.ui.message_bar import MessageBar
    from memstudio.ui.property_strip import PropertyStrip
    from memstudio.ui.seed_browser import SeedBrowser
    from memstudio.ui.state import StudioState


class StudioContext(Protocol):
    """The studio as its features see it (the main window implements it; it is also their Qt parent)."""

    state: StudioState
    engine: Engine
    canvas: ImageCanvas
    messages: MessageBar
    browser: SeedBrowser
    browser_dock: QDockWidget
    strip: PropertyStrip
    strip_dock: QDockWidget
    jobs: JobsPanel
    file_menu: QMenu
    tools_menu: QMenu
    #: Each handler takes dropped or command-line paths and returns those it left, plus what it did.
    path_handlers: list[Callable[[list[Path]], tuple[list[Path], list[str]]]]
    #: Every assessor available here (built in, imported, trained), as the property strip lists them.
    available_assessors: list[LiveAssessor]
    #: The assessors scoring the canvas now (None until they are listed), as a saved session records them.
    live_assessors: list[LiveAssessor] | None
    current_frame: Frame | None
    last_scores: ScoreResult | None
    closing: SignalInstance
    frame_changed: SignalInstance
    scores_shown: SignalInstance
    assessors_changed: SignalInstance

    def add_feature_dock(self, widget: QWidget, title: str, object_name: str, area: Qt.DockWidgetArea) -> QDockWidget:
        """Add a dock, listed in View and arranged by the studio's layout."""

    def request_frame(self) -> None:
        """Render the current subject with the current edits again."""

    def open_photo(self, path: str) -> None:
        """Make the photo at ``path`` the subject."""

    def refresh_assessors(self) -> None:
        """List the available assessors again (after an import or a training)."""

    def statusBar(self) -> QStatusBar:  # noqa: N802 - Qt's name
        """The window's status bar, for short messages."""

    def splitDockWidget(self, first: QDockWidget, second: QDockWidget, orientation: Qt.Orientation) -> None:  # noqa: N802
        """Qt's dock placement (the generator dock goes under the photos)."""

    def resizeDocks(self, docks: list[QDockWidget], sizes: list[int], orientation: Qt.Orientation) -> None:  # noqa: N802
        """Qt's dock sizing."""

    def dockWidgetArea(self, dock: QDockWidget) -> Qt.DockWidgetArea:  # noqa: N802
        """Qt's dock area of ``dock``."""
