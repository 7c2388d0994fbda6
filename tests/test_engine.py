"""The inference engine: latest-wins renders, stale scores dropped, errors reported, jobs stepped and cancelled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from engine_commands import OnEngine, StepsOf, every_job

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
    signal.connect(lambda *args: items.append(args[0] if len(args) == 1 else args))
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
    updates, done = every_job(engine, "progress"), every_job(engine)
    state = {"steps": 0, "closed": False}

    def slow_job(pipeline):
        try:
            for i in range(1_000):
                time.sleep(0.01)
                state["steps"] += 1
                yield Progress((i + 1) / 1_000, f"step {i}")
        finally:
            state["closed"] = True

    engine.submit(StepsOf("Counting", slow_job), "count")
    qtbot.waitUntil(lambda: len(updates) >= 3 and updates[-1].fraction > 0.02, timeout=10_000)
    assert updates[-1].fraction > 0 and updates[-1].eta_s is not None and updates[-1].eta_s > 0
    engine.cancel_job("count")
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    assert done[0].cancelled and state["closed"]
    steps = state["steps"]
    time.sleep(0.1)
    assert state["steps"] == steps < 1_000


def test_job_result_and_renders_between_steps(qtbot, engine, photos_dir):
    frames, done = collect(engine.rendered), every_job(engine)

    def job(pipeline):
        for i in range(30):
            time.sleep(0.01)
            yield Progress((i + 1) / 30)
        return "answer"

    engine.submit(StepsOf("Job", job), "j")
    engine.request_render(request(engine, photos_dir / "coffee.png", assessors=()))
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    assert frames, "a render requested during the job was answered before the job ended"
    assert done[0].result == "answer" and not done[0].cancelled


def test_job_exception_is_reported(qtbot, engine):
    failures, done = collect(engine.failed), every_job(engine)

    def broken(pipeline):
        yield Progress(0.1)
        raise ValueError("bad settings")

    engine.submit(StepsOf("Broken", broken), "b")
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    assert done[0].error and "bad settings" in done[0].error and "Traceback" in done[0].details
    qtbot.wait(50)
    assert failures == []  # reported once, on the job's own handle (the Jobs dock shows it), not broadcast


def test_stop_joins_the_thread(qtbot):
    eng = Engine(device="cpu")
    eng.start()
    assert eng.is_running()
    assert eng.stop(5_000)
    assert not eng.is_running()


# ----- the sealed loop ------------------------------------------------------------------------------------------
def started(qtbot, eng: Engine) -> tuple[list, list]:
    """Start ``eng`` and wait for ``ready``; returns (ready descriptions, failures) as they arrived."""
    ready, failures = collect(eng.ready), collect(eng.failed)
    eng.start()
    qtbot.waitUntil(lambda: bool(ready), timeout=20_000)
    return ready, failures


def render_works(qtbot, eng: Engine, photo) -> None:
    frames = collect(eng.rendered)
    eng.request_render(request(eng, photo, assessors=()))
    qtbot.waitUntil(lambda: bool(frames), timeout=10_000)
    assert frames[0].pixels.ndim == 3


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_unknown_device_becomes_a_failure_and_the_cpu_serves(qtbot, monkeypatch, photos_dir, how):
    if how == "environment":
        monkeypatch.setenv("MEMSTUDIO_DEVICE", "gpu")
    eng = Engine(device="gpu" if how == "argument" else None)
    try:
        ready, failures = started(qtbot, eng)
        assert ready == [eng.device_description] and "fallback" in ready[0] and ready[0].startswith("CPU")
        assert [f.origin for f in failures] == ["startup"]
        told = "device 'gpu'" if how == "argument" else "MEMSTUDIO_DEVICE='gpu'"
        assert told in failures[0].message and "running on the CPU" in failures[0].message
        assert str(eng.pipeline.device) == "cpu"
        render_works(qtbot, eng, photos_dir / "coffee.png")
    finally:
        assert eng.stop()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_driver_falls_back_to_the_cpu(qtbot, photos_dir):
    eng = Engine(device="cuda")
    try:
        ready, failures = started(qtbot, eng)
        assert "CUDA is not available here" in failures[0].message and "fallback" in ready[0]
        render_works(qtbot, eng, photos_dir / "rocket.jpg")
    finally:
        assert eng.stop()


def test_malformed_job_step_fails_that_job_only(qtbot, engine, photos_dir):
    failures, done = collect(engine.failed), every_job(engine)
    closed = []

    def malformed(pipeline):
        try:
            yield Progress(0.1)
            yield 0.5  # a bare number, not a Progress
            yield Progress(0.9)
        finally:
            closed.append(True)

    engine.submit(StepsOf("Malformed", malformed), "m")
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    assert done[0].error and "yielded a float, not a Progress" in done[0].error
    assert failures == [] and closed == [True]
    assert engine.is_running()
    render_works(qtbot, engine, photos_dir / "coffee.png")


def test_bad_preview_fails_the_job_not_the_thread(qtbot, engine, photos_dir):
    done = every_job(engine)

    def job(pipeline):
        yield Progress(0.5, preview=torch.zeros(3))  # not [N, 3, H, W]
        return "never"

    engine.submit(StepsOf("Preview", job), "p")
    qtbot.waitUntil(lambda: bool(done), timeout=5_000)
    assert done[0].error and done[0].result is None
    render_works(qtbot, engine, photos_dir / "chelsea.png")


def test_exception_anywhere_in_an_iteration_is_reported_and_serving_goes_on(qtbot, engine, photos_dir):
    failures = collect(engine.failed)
    real = engine._serve_render
    calls = []

    def broken_once(req):
        calls.append(req.request_id)
        if len(calls) == 1:
            raise RuntimeError("the loop itself broke")
        real(req)

    engine._serve_render = broken_once
    engine.request_render(request(engine, photos_dir / "coffee.png", assessors=()))
    qtbot.waitUntil(lambda: bool(failures), timeout=5_000)
    assert failures[0].origin == "engine" and "the loop itself broke" in failures[0].message
    assert "Traceback" in failures[0].details
    render_works(qtbot, engine, photos_dir / "coffee.png")


def test_a_model_that_fails_to_load_fails_the_job_and_the_engine_serves(
    qtbot, engine, monkeypatch, photos_dir, tmp_path
):
    from memstudio.core.directions.train import TrainDirectionSettings
    from memstudio.core.session.directions import TrainDirection

    def refuse(device):
        raise OSError("weights file truncated")

    info = registry.AssessorInfo("broken-model", "nothing", "test", "test", refuse, registry._always)
    monkeypatch.setitem(registry.ASSESSORS, "broken-model", info)
    settings = TrainDirectionSettings(
        assessor="broken-model", output=str(tmp_path / "d.json"), photos=(str(photos_dir / "coffee.png"),)
    )
    finished = every_job(engine)  # through job_submitted: connected before the job can end
    handle = engine.submit(TrainDirection(settings, on_photos=True))
    failed = collect(handle.failed)  # the handle's: connecting after submit misses nothing
    qtbot.waitUntil(lambda: bool(failed), timeout=10_000)
    assert "weights file truncated" in failed[0].message and failed[0].ident == handle.job_id
    qtbot.waitUntil(lambda: bool(finished), timeout=5_000)
    assert finished[0].error == failed[0].message
    render_works(qtbot, engine, photos_dir / "coffee.png")


def test_typed_command_handle_reports_progress_done_and_cancel(qtbot, engine, photos_dir, tmp_path):
    from memstudio.core.directions.base import Direction
    from memstudio.core.directions.train import TrainDirectionSettings, TrainResult
    from memstudio.core.session.directions import TrainDirection

    photos = tuple(str(p) for p in sorted(photos_dir.iterdir()) if p.suffix in (".png", ".jpg"))
    settings = TrainDirectionSettings(
        assessor="brightness", output=str(tmp_path / "b.json"), photos=photos, photo_size=16,
        steps=6, batch_size=2, alpha_max=0.1, checkpoint_every=2,
    )
    handle = engine.submit(TrainDirection(settings, on_photos=True))
    progress, done = collect(handle.progress), collect(handle.done)
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    result = done[0]
    assert isinstance(result, TrainResult) and result.steps == 6 and progress
    assert all(u.job_id == handle.job_id for u in progress)
    saved = Direction.load(result.path)
    assert saved.evidence["num_samples"] == len(photos) // 3 and saved.evidence["split"]["by"] == "photo"
    assert any("not citable" in w for w in result.warnings)  # n < 20: said, not hidden

    slow = TrainDirectionSettings(**{**settings.__dict__, "steps": 100_000, "output": str(tmp_path / "c.json")})
    handle = engine.submit(TrainDirection(slow, on_photos=True))
    progress, cancelled = collect(handle.progress), collect(handle.cancelled)
    qtbot.waitUntil(lambda: len(progress) >= 2, timeout=30_000)
    handle.cancel()
    qtbot.waitUntil(lambda: bool(cancelled), timeout=10_000)
    assert torch.load(tmp_path / "c.ckpt.pt", weights_only=True)["step"] >= 1  # resumable


def test_stop_that_times_out_says_so_and_the_thread_ends_later(qtbot):
    eng = Engine(device="cpu")
    started(qtbot, eng)
    stopped, died = collect(eng.stopped), collect(eng.died)
    steps = []

    def long_step(pipeline):
        steps.append(1)
        time.sleep(1.5)
        yield Progress(1.0)

    eng.submit(StepsOf("Long", long_step), "long")
    qtbot.waitUntil(lambda: bool(steps), timeout=5_000)
    assert eng.stop(100) is False and eng.is_running() and eng.stopping
    qtbot.waitUntil(lambda: bool(stopped), timeout=10_000)
    assert not eng.is_running() and died == []  # asked to stop: not a death


def test_a_thread_that_ends_on_its_own_is_announced(qtbot):
    eng = Engine(device="cpu")
    started(qtbot, eng)
    died = collect(eng.died)

    def leave(pipeline):
        raise SystemExit("a library called sys.exit()")

    eng.request(OnEngine(leave))
    qtbot.waitUntil(lambda: bool(died), timeout=10_000)
    assert not eng.is_running()
    assert died[0].origin == "engine" and "sys.exit" in died[0].message
    assert eng.stop()


def test_failures_go_to_the_rotating_log(qtbot, engine, tmp_path, log_file, photos_dir):
    import logging
    import logging.handlers

    from memstudio.core.logs import setup_logging

    path = log_file
    assert path == tmp_path / "logs" / "memstudio.log" and setup_logging() == path  # once per folder
    rotating = logging.handlers.RotatingFileHandler
    handlers = [h for h in logging.getLogger("memstudio").handlers if isinstance(h, rotating)]
    assert [Path(h.baseFilename) for h in handlers].count(path) == 1 and handlers[-1].maxBytes > 0
    failures = collect(engine.failed)
    bad = tmp_path / "broken.jpg"
    bad.write_text("not a photo")
    engine.request_render(request(engine, bad, assessors=()))
    qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
    for handler in handlers:
        handler.flush()
    text = path.read_text()
    assert "render" in text and str(bad) in text and "Traceback" in text
