"""The studio's debouncer: one call after a quiet spell, and a stop that leaves no timer running."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from memstudio.ui.debounce import Debouncer


def test_one_call_after_the_last_throttle(qtbot) -> None:
    owner = QObject()
    calls: list[int] = []
    debouncer = Debouncer(30, lambda: calls.append(1), owner)
    for _ in range(5):
        debouncer.throttle()
        qtbot.wait(5)
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)
    qtbot.wait(80)
    assert calls == [1]
    debouncer.throttle()
    debouncer.stop()
    assert not any(timer.isActive() for timer in debouncer.findChildren(QTimer))
    qtbot.wait(80)
    assert calls == [1]  # the stopped call never came
