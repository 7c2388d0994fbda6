"""The studio's dock layout: the default arrangement, column widths that follow the window, saved layouts.

Default: the canvas gets the middle at full height; the right column is one tab group at full height, so
every dock's controls show without scrolling at 1400×900 (Properties in front); the left column holds the
photos over the jobs (tall enough for a card's status line), and the Generator dock only once a generator
is open. While the columns are as the default left them, they follow the window's size, so
at 1024×700 the canvas keeps most of the screen; once the user moves them (or a saved layout is restored)
they stay put.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QScrollArea, QWidget

from memstudio.ui.settings import studio_settings

#: Bump when docks are added, renamed or rearranged: a saved layout from another version is ignored.
LAYOUT_VERSION = 4
_LEFT, _RIGHT = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea


class StudioLayout:
    """Arranges ``window``'s docks: ``photos`` heads the left column, ``properties`` the right one."""

    def __init__(
        self,
        window: QMainWindow,
        docks: list[QDockWidget],
        photos: QDockWidget,
        properties: QDockWidget,
        jobs: QDockWidget,
    ) -> None:
        self.window, self.docks = window, docks
        self.photos, self.properties, self.jobs = photos, properties, jobs
        #: The column widths Qt settled on after the last fit; None: fit at the next resize; False: never.
        self._fitted: tuple[int, int] | None | bool = None
        self._default = QByteArray()

    def arrange(self) -> None:
        """Build the default layout from wherever the features put their docks, and remember it."""
        window = self.window
        # The right column becomes one tab group (Properties in front). The left column stays split, photos
        # over jobs: a tab group made there before the window is shown leaves a stale copy of its tab bar
        # drawn over the jobs (a Qt quirk), and its only other dock (Generator) hides while empty.
        right = [d for d in self.docks if d is not self.properties and window.dockWidgetArea(d) == _RIGHT]
        for dock in [self.properties, *right]:
            dock.show()
        for dock in right:
            if dock not in window.tabifiedDockWidgets(self.properties):  # tabifying again duplicates the tab bar
                window.tabifyDockWidget(self.properties, dock)
        self.properties.raise_()
        self.fit(window.size())
        self._default = window.saveState(LAYOUT_VERSION)

    def fit(self, size: QSize) -> None:
        """Side columns sized to the window: narrow enough that the canvas keeps most of a small screen."""
        width, height = size.width(), size.height()
        # At least as wide as the jobs' buttons (plus a scroll bar): no sideways scrolling in the column.
        floor = max(_widget(self.photos).minimumWidth(), _widget(self.jobs).minimumSizeHint().width() + 24)
        left = max(floor, min(290, int(width * 0.2)))
        right = max(_widget(self.properties).minimumWidth(), min(420, int(width * 0.28)))
        self.window.resizeDocks([self.photos, self.properties], [left, right], Qt.Orientation.Horizontal)
        jobs = max(150, min(240, int(height * 0.25)))
        self.window.resizeDocks([self.photos, self.jobs], [max(height - jobs, 200), jobs], Qt.Orientation.Vertical)
        if self.window.isVisible():
            QTimer.singleShot(0, self._remember_fit)  # the widths Qt settled on, once it has laid them out

    def _remember_fit(self) -> None:
        self._fitted = self._widths()

    def _widths(self) -> tuple[int, int]:
        return (self.photos.width(), self.properties.width())

    def window_resized(self, size: QSize) -> None:
        """Follow the window while the columns are as the default layout left them."""
        fitted = self._fitted
        if fitted is None or (fitted and all(abs(a - b) <= 4 for a, b in zip(fitted, self._widths(), strict=True))):
            self.fit(size)

    def restore(self) -> None:
        """The layout saved at the last close, if it is of this version (else the default stays)."""
        settings = studio_settings()
        if settings.value("window/layoutVersion", 0, type=int) != LAYOUT_VERSION:
            return
        geometry = settings.value("window/geometry")
        state = settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.window.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and self.window.restoreState(state, LAYOUT_VERSION):
            self._fitted = False  # the user's own layout: the columns keep their widths

    def save(self) -> None:
        settings = studio_settings()
        settings.setValue("window/layoutVersion", LAYOUT_VERSION)
        settings.setValue("window/geometry", self.window.saveGeometry())
        settings.setValue("window/state", self.window.saveState(LAYOUT_VERSION))
        settings.sync()

    def reset(self) -> None:
        for dock in self.docks:
            dock.setFloating(False)
            dock.show()
        self.window.restoreState(self._default, LAYOUT_VERSION)
        self._fitted = None
        self.fit(self.window.size())


def _widget(dock: QDockWidget) -> QWidget:
    """The dock's own panel (inside the scroll area :func:`memstudio.ui.docks.add_dock` may have added)."""
    inner = dock.widget()
    return inner.widget() if isinstance(inner, QScrollArea) and inner.widget() is not None else inner
