"""A feature's pending handles: remembered while the command runs, forgotten once it settles, however it does."""

from __future__ import annotations

import threading

import pytest
from engine_commands import OnEngine

from memstudio.engine import Engine
from memstudio.ui.pending import PendingHandles


@pytest.fixture
def engine(qtbot):
    engine = Engine(device="cpu")
    with qtbot.waitSignal(engine.ready, timeout=30_000):
        engine.start()
    yield engine
    assert engine.stop()


def test_each_handle_leaves_when_it_settles(qtbot, engine) -> None:
    pending = PendingHandles()
    release = threading.Event()
    running = pending.add("slow", engine.request(OnEngine(lambda p: release.wait(10))))
    failing = pending.add("bad", engine.request(OnEngine(lambda p: 1 / 0)))
    waiting = pending.add("dropped", engine.request(OnEngine(lambda p: 2)))
    assert pending.get("slow") is running and pending.get("bad") is failing and pending.get("dropped") is waiting
    with qtbot.waitSignal(waiting.cancelled, timeout=10_000):
        waiting.cancel()
    assert pending.get("dropped") is None and pending.get("slow") is running
    release.set()
    qtbot.waitUntil(lambda: pending.get("slow") is None and pending.get("bad") is None, timeout=10_000)
