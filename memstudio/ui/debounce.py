"""superqt's trailing debouncer, with a ``stop`` that also halts its timer.

``QSignalDebouncer.cancel()`` only drops the pending emission and leaves the internal timer running until it
times out: a closing window (and the suite's leak check) would see live work that does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from superqt.utils import QSignalDebouncer


class Debouncer(QSignalDebouncer):
    """Call ``slot`` once ``timeout_ms`` after the last :meth:`throttle` (a restartable quiet spell)."""

    def __init__(self, timeout_ms: int, slot: Callable[[], object], parent: QObject) -> None:
        super().__init__(parent=parent)
        self.setTimeout(timeout_ms)
        self.triggered.connect(slot)

    def stop(self) -> None:
        """Drop a pending call and stop the timer."""
        self.cancel()
        self.flush(restart_timer=False)
