"""The studio's debouncer: one call after a quiet spell, no timer left running after it, a stop that drops it."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from memstudio.ui.debounce import Debouncer


def _live_timers(owner: QObject) -> list[QTimer]:
    return [timer for timer in owner.findChildren(QTimer) if timer.isActive()]


def test_one_call_after_the_last_throttle_and_nothing_left_running(qtbot) -> None:
    owner = QObject()
    calls: list[int] = []
    # 200 ms: the five throttles 5 ms apart stay inside it even when a loaded machine stretches each wait.
    debouncer = Debouncer(200, lambda: calls.append(1), owner)
    for _ in range(5):
        debouncer.throttle()
        qtbot.wait(5)
    assert debouncer.pending() and calls == []
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)
    assert _live_timers(owner) == []  # the call came and nothing waits any more
    qtbot.wait(300)
    assert calls == [1]


def test_stop_drops_the_pending_call(qtbot) -> None:
    owner = QObject()
    calls: list[int] = []
    debouncer = Debouncer(30, lambda: calls.append(1), owner)
    debouncer.throttle()
    debouncer.stop()
    assert not debouncer.pending() and _live_timers(owner) == []
    qtbot.wait(80)
    assert calls == []
