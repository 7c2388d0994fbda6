"""Input that must mean what the user meant: a slider gesture is one undo step; the wheel never edits blind.

:class:`SliderGestures` watches the mouse on a slider and brackets everything from press to release (Qt's
jump to the pressed position, the drag, a page step from a click on the groove) so the state merges it into
one undo command. :func:`guard_wheel` installs one application-wide filter that lets spin boxes, combo boxes
and sliders take wheel events only when they have focus; otherwise the wheel scrolls the dock they sit in, as
users expect, instead of silently changing "align size" or the number of inversion steps.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QWidget

#: The widget classes whose value a wheel event changes.
WHEEL_EDITED = (QAbstractSpinBox, QComboBox, QAbstractSlider)


class SliderGestures(QObject):
    """Calls ``begin()`` on a mouse press on ``slider`` (before Qt moves it) and ``end()`` on release."""

    def __init__(self, slider: QWidget, begin: Callable[[], None], end: Callable[[], None]) -> None:
        super().__init__(slider)
        self._begin, self._end = begin, end
        # superqt's labelled sliders wrap a QSlider: the mouse lands on that one.
        inner = [slider] if not slider.findChildren(QAbstractSlider) else slider.findChildren(QAbstractSlider)
        for widget in inner:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.MouseButtonPress:
            self._begin()
        elif event.type() == QEvent.Type.MouseButtonRelease:
            self._end()  # a release moves nothing, so ending before Qt handles it loses no change
        return False


class _WheelGuard(QObject):
    """Application-wide: value widgets get Qt.StrongFocus, and a wheel without focus goes to their parent."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind == QEvent.Type.Wheel and isinstance(watched, WHEEL_EDITED) and not watched.hasFocus():
            # Ignored and filtered: QApplication passes an ignored wheel event on to the parent (the dock's
            # scroll area), so the dock scrolls and the value stays.
            event.ignore()
            return True
        if kind == QEvent.Type.Polish and isinstance(watched, WHEEL_EDITED):
            watched.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # no focus by wheel (Qt's WheelFocus default)
        return False


def guard_wheel(app: QApplication) -> QObject:
    """Install the wheel guard on ``app`` once; returns it (the same object on later calls)."""
    guard = app.findChild(_WheelGuard)
    if guard is None:
        guard = _WheelGuard(app)
        app.installEventFilter(guard)
    return guard
