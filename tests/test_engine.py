"""The inference engine: latest-wins renders, stale scores dropped, errors reported, jobs stepped and cancelled."""

from __future__ import annotations

import time

import pytest
import torch

from memstudio.core.assessors import registry
from memstudio.core.assessors.base import Assessor
from memstudio.core.jobs import Progress
from memstudio.core.pipeline import PhotoSubject, RenderRequest
from memstudio.engine import Engine


class SlowBrightness(Assessor):
    name = "slow-brightness"
    property = "brightness"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        time.sleep(0.05)
        return images.mean(dim=(1, 2, 3))


class Exploding(Assessor):
    name = "exploding"
    property = "nothing"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("kaboom inside the assessor")


@pytest.fixture
def test_assessors(monkeypatch):
    for cls in (SlowBrightness, Exploding):
        info = registry.AssessorInfo(
            cls.name, cls.property, "test", "test", lambda d, c=cls: c(), registry._always
        )
        monkeypatch.setitem(registry.ASSESSORS, cls.name, info)
    yield
    for key in [k for k in registry._cache if k[0] in ("slow-brightness", "exploding")]:
        registry._cache.pop(key)


@pytest.fixture
def engine(qtbot):
    eng = Engine(device="cpu")
    eng.start()
    yield eng
    assert eng.stop()
    assert not eng.is_running()


def collect(signal):
    items = []
    signal.connect(items.append)
    return items


def request(engine, photo, exposure=0.0, assessors=("slow-brightness",)):
    return RenderRequest(
        engine.next_request_id(), PhotoSubject(str(photo)), (("exposure", exposure),), assessors=assessors
    )


def test_latest_request_wins_and_stale_results_are_dropped(qtbot, engine, test_assessors, photos_dir):
    frames, scores = collect(engine.rendered), collect(engine.scored)
    photo = photos_dir / "chelsea.png"
    sent = []
    for i in range(40):
        req = request(engine, photo, exposure=i / 100)
        sent.append(req.request_id)
        engine.request_render(req)
        time.sleep(0.002)
    qtbot.waitUntil(lambda: bool(scores) and scores[-1].request_id == sent[-1], timeout=20_000)
    assert frames[-1].request_id == sent[-1]
    assert len(frames) < len(sent)  # intermediate requests were skipped, not queued
    ids = [f.request_id for f in frames]
    assert ids == sorted(ids)
    # brightness of the last frame is what the slow assessor reported for it
    assert scores[-1].values["slow-brightness"] == pytest.approx(float(frames[-1].tensor.mean()), abs=1e-6)
    assert all(s.request_id in ids for s in scores)


def test_assessor_exception_is_reported_and_engine_keeps_serving(qtbot, engine, test_assessors, photos_dir):
    scores = collect(engine.scored)
    photo = photos_dir / "coffee.png"
    engine.request_render(request(engine, photo, assessors=("exploding", "slow-brightness")))
    qtbot.waitUntil(lambda: len(scores) == 1, timeout=20_000)
    assert "kaboom inside the assessor" in scores[0].errors["exploding"]
    assert "slow-brightness" in scores[0].values
    engine.request_render(request(engine, photo, exposure=0.3, assessors=("slow-brightness",)))
    qtbot.waitUntil(lambda: len(scores) == 2, timeout=20_000)
    assert scores[1].values["slow-brightness"] > scores[0].values["slow-brightness"]


def test_render_failure_becomes_a_message(qtbot, engine, tmp_path, photos_dir):
    failures, frames = collect(engine.failed), collect(engine.rendered)
    bad = tmp_path / "broken.jpg"
    bad.write_text("not a photo")
    engine.request_render(request(engine, bad, assessors=()))
    qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
    assert "not an image" in failures[0].message and str(bad) in failures[0].message
    assert "Traceback" in failures[0].details
    engine.request_render(request(engine, photos_dir / "rocket.jpg", assessors=()))
    qtbot.waitUntil(lambda: bool(frames), timeout=10_000)


def test_jobs_report_progress_and_cancel_within_a_step(qtbot, engine):
    updates, done = collect(engine.job_progress), collect(engine.job_finished)
    state = {"steps": 0, "closed": False}

    def slow_job(pipeline):
        try:
            for i in range(1_000):
                time.sleep(0.01)
                state["steps"] += 1
                yield Progress((i + 1) / 1_000, f"step {i}")
        finally:
            state["closed"] = True

    engine.submit_job("count", "Counting", slow_job)
    qtbot.waitUntil(lambda: len(updates) >= 3 and updates[-1].fraction > 0.02, timeout=10_000)
    assert updates[-1].fraction > 0 and updates[-1].eta_s is not None and updates[-1].eta_s > 0
    engine.cancel_job("count")
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    assert done[0].cancelled and state["closed"]
    steps = state["steps"]
    time.sleep(0.1)
    assert state["steps"] == steps < 1_000


def test_job_result_and_renders_between_steps(qtbot, engine, photos_dir):
    frames, done = collect(engine.rendered), collect(engine.job_finished)

    def job(pipeline):
        for i in range(30):
            time.sleep(0.01)
            yield Progress((i + 1) / 30)
        return "answer"

    engine.submit_job("j", "Job", job)
    engine.request_render(request(engine, photos_dir / "coffee.png", assessors=()))
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    assert frames, "a render requested during the job was answered before the job ended"
    assert done[0].result == "answer" and not done[0].cancelled


def test_job_exception_is_reported(qtbot, engine):
    failures, done = collect(engine.failed), collect(engine.job_finished)

    def broken(pipeline):
        yield Progress(0.1)
        raise ValueError("bad settings")

    engine.submit_job("b", "Broken", broken)
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    assert done[0].error and "bad settings" in done[0].error
    assert failures and failures[0].origin == "job"


def test_stop_joins_the_thread(qtbot):
    eng = Engine(device="cpu")
    eng.start()
    assert eng.is_running()
    assert eng.stop(5_000)
    assert not eng.is_running()
