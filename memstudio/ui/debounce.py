"""One debouncer for the studio: call a slot once, a quiet spell after the last request for it.

Not superqt's ``QSignalDebouncer``: that one restarts its timer after every emission (it shares its machinery
with the throttler), and its ``cancel()`` leaves the timer running, so after any edit a window holds live timers
that will do nothing — which a closing window would carry and the suite's leak check rightly reports. A
single-shot QTimer restarted on each request is all a trailing debounce needs.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class Debouncer(QObject):
    """Call ``slot`` once ``timeout_ms`` after the last :meth:`throttle` (each call restarts the wait)."""

    def __init__(self, timeout_ms: int, slot: Callable[[], object], parent: QObject) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(slot)

    def throttle(self) -> None:
        """Ask for the call: it comes ``timeout_ms`` after the last such request."""
        self._timer.start()

    def stop(self) -> None:
        """Drop a pending call."""
        self._timer.stop()

    def pending(self) -> bool:
        return self._timer.isActive()
