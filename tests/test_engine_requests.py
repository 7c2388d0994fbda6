"""Typed one-shot requests: per-call handles, supersede-by-key, failures that leave the engine serving."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial

import pytest

from memstudio.core.errors import MemstudioError
from memstudio.engine import Engine

TIMEOUT = 10_000


@dataclass(frozen=True, eq=False)
class Record:
    """Appends its label to ``ran`` (on the engine thread), optionally after waiting for ``gate``."""

    label: str
    ran: list[str]
    gate: threading.Event | None = None
    started: threading.Event = field(default_factory=threading.Event)

    def run(self, pipeline) -> str:
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(TIMEOUT / 1000)
        self.ran.append(self.label)
        return f"{self.label} on {pipeline.device}"


@dataclass(frozen=True)
class Raise:
    def run(self, pipeline) -> None:
        raise ValueError("the command broke")


@pytest.fixture
def engine(qtbot):
    eng = Engine(device="cpu")
    eng.start()
    qtbot.waitUntil(lambda: eng.pipeline is not None, timeout=TIMEOUT)
    yield eng
    assert eng.stop()


def outcome(handle) -> dict[str, list]:
    seen: dict[str, list] = {"done": [], "failed": [], "cancelled": []}
    handle.done.connect(seen["done"].append)
    handle.failed.connect(seen["failed"].append)
    handle.cancelled.connect(lambda: seen["cancelled"].append(True))
    return seen


def test_a_newer_request_with_the_same_key_supersedes_waiting_ones(qtbot, engine):
    ran: list[str] = []
    gate = threading.Event()
    hold = Record("hold", ran, gate)
    hold_seen = outcome(engine.request(hold))
    assert hold.started.wait(TIMEOUT / 1000)  # the engine is busy: the previews below all wait
    handles = [engine.request(Record(f"preview {i}", ran), key="preview") for i in range(5)]
    other = engine.request(Record("other key", ran), key="inventory")
    seen = [outcome(h) for h in handles]
    other_seen = outcome(other)
    gate.set()
    qtbot.waitUntil(lambda: bool(seen[-1]["done"]) and bool(other_seen["done"]), timeout=TIMEOUT)
    qtbot.wait(50)  # anything else queued to the GUI thread has arrived by now
    assert ran == ["hold", "preview 4", "other key"]  # superseded previews never ran
    assert seen[-1]["done"] == ["preview 4 on cpu"] and hold_seen["done"] == ["hold on cpu"]
    for old, handle in zip(seen[:-1], handles[:-1], strict=True):
        assert old == {"done": [], "failed": [], "cancelled": [True]} and handle.superseded
    assert not handles[-1].superseded and other_seen["done"] == ["other key on cpu"]


def test_a_running_request_that_is_superseded_has_its_result_discarded(qtbot, engine):
    ran: list[str] = []
    gate = threading.Event()
    first = Record("first", ran, gate)
    first_seen = outcome(engine.request(first, key="k"))
    assert first.started.wait(TIMEOUT / 1000)
    second_seen = outcome(engine.request(Record("second", ran), key="k"))
    qtbot.waitUntil(lambda: bool(first_seen["cancelled"]), timeout=TIMEOUT)  # at once, while it still runs
    gate.set()
    qtbot.waitUntil(lambda: bool(second_seen["done"]), timeout=TIMEOUT)
    qtbot.wait(50)
    assert ran == ["first", "second"]  # it ran to its end, but only the latest result is delivered
    assert first_seen["done"] == [] and second_seen["done"] == ["second on cpu"]


def test_a_command_that_raises_becomes_a_failure_and_the_next_request_is_served(qtbot, engine):
    broadcast = []
    engine.failed.connect(broadcast.append)
    seen = outcome(engine.request(Raise()))
    ran: list[str] = []
    after = outcome(engine.request(Record("after", ran)))
    qtbot.waitUntil(lambda: bool(after["done"]), timeout=TIMEOUT)
    (failure,) = seen["failed"]
    assert failure.origin == "request" and failure.message == "ValueError: the command broke"
    assert "Traceback" in failure.details and failure.ident.startswith("Raise-")
    assert broadcast == [failure] and seen["done"] == [] and engine.is_running()
    assert after["done"] == ["after on cpu"]


def test_cancelling_a_waiting_request_means_it_never_runs(qtbot, engine):
    ran: list[str] = []
    gate = threading.Event()
    hold = Record("hold", ran, gate)
    engine.request(hold)
    assert hold.started.wait(TIMEOUT / 1000)
    handle = engine.request(Record("cancelled", ran))
    seen = outcome(handle)
    handle.cancel()
    last = outcome(engine.request(Record("last", ran)))
    gate.set()
    qtbot.waitUntil(lambda: bool(last["done"]), timeout=TIMEOUT)
    assert ran == ["hold", "last"] and seen == {"done": [], "failed": [], "cancelled": [True]}


def test_requests_still_waiting_when_the_engine_stops_are_cancelled(qtbot):
    eng = Engine(device="cpu")
    eng.start()
    ran: list[str] = []
    gate = threading.Event()
    hold = Record("hold", ran, gate)
    eng.request(hold)
    assert hold.started.wait(TIMEOUT / 1000)
    seen = outcome(eng.request(Record("never", ran)))
    threading.Timer(0.2, gate.set).start()
    assert eng.stop()
    qtbot.waitUntil(lambda: bool(seen["cancelled"]), timeout=TIMEOUT)
    assert ran == ["hold"]


def not_a_command(pipeline) -> None:
    raise AssertionError("never run")


@pytest.mark.parametrize("bad", [lambda pipeline: None, not_a_command, partial(not_a_command)])
def test_closures_are_refused(engine, bad):
    with pytest.raises(MemstudioError, match="the engine runs commands with a run"):
        engine.request(bad)


def test_commands_defined_in_the_window_code_are_refused(engine):
    command_type = type("Sneaky", (), {"run": lambda self, pipeline: None, "__module__": "memstudio.ui.features.x"})
    with pytest.raises(MemstudioError, match="belong in memstudio.core.session"):
        engine.request(command_type())
    job_type = type("SneakyJob", (), {"steps": lambda self, p: iter(()), "title": "t", "__module__": "memstudio.ui"})
    with pytest.raises(MemstudioError, match="belong in memstudio.core.session"):
        engine.submit(job_type())


@dataclass(frozen=True, eq=False)
class Count:
    """A job of ``n`` slow steps; ``closed`` records that its ``finally`` ran."""

    label: str
    n: int
    closed: list[str]

    @property
    def title(self) -> str:
        return f"Count {self.label}"

    def steps(self, pipeline):
        import time

        from memstudio.core.jobs import Progress

        try:
            for i in range(self.n):
                time.sleep(0.01)
                yield Progress((i + 1) / self.n, f"{self.label} {i}")
        finally:
            self.closed.append(self.label)
        return self.label


def test_a_newer_job_with_the_same_key_cancels_the_older_one(qtbot, engine):
    closed: list[str] = []
    old = engine.submit(Count("old", 10_000, closed), key="map")
    old_seen = outcome(old)
    progress: list = []
    old.progress.connect(progress.append)
    qtbot.waitUntil(lambda: bool(progress), timeout=TIMEOUT)
    new_seen = outcome(engine.submit(Count("new", 5, closed), key="map"))
    seen_before = len(progress)
    qtbot.waitUntil(lambda: bool(new_seen["done"]), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: bool(old_seen["cancelled"]), timeout=TIMEOUT)
    assert new_seen["done"] == ["new"] and old_seen["done"] == [] and old_seen["failed"] == []
    assert "old" in closed and len(progress) == seen_before  # no progress of the superseded job after it
