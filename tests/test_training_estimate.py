"""The training time estimate: a measured warm-up step of the real settings, its ETA, and settings that fit.

The assessors are real networks: the small seeded CNN of test_direction_training, and the same CNN made slow
by a fixed wait in its forward pass (a stand-in for a big model on a slow CPU whose cost is known exactly, so
the measured step time can be checked against it). The studio side drives the real Train dialog and the
engine thread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QTimer
from test_direction_training import TinyConv, same_files, sg2_pickle  # noqa: F401 - sg2_pickle is a fixture

from memstudio.cli import main
from memstudio.core.assessors import registry
from memstudio.core.directions.estimate import (
    MIN_BATCH,
    MIN_GANALYZE_STEPS,
    TrainEstimate,
    estimate_training,
    format_duration,
    parse_duration,
    suggest_settings,
)
from memstudio.core.directions.train import TrainDirectionSettings, train_direction
from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import run_to_end

pytestmark = pytest.mark.usefixtures("single_thread")

TIMEOUT = 60_000


class SlowConv(TinyConv):
    """TinyConv that waits ``delay`` seconds per forward pass: a model whose cost per call is known."""

    name = "slow-conv"
    delay = 0.03

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay)
        return super().forward(images)


def register(monkeypatch: pytest.MonkeyPatch, name: str, make) -> str:
    info = registry.AssessorInfo(name, "tinyness", "test", "test", lambda d: make().to(d), registry._always)
    monkeypatch.setitem(registry.ASSESSORS, name, info)
    return name


@pytest.fixture
def slow_conv(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[SlowConv]]:
    register(monkeypatch, "slow-conv", SlowConv)
    yield SlowConv
    for key in [k for k in registry._cache if k[0] == "slow-conv"]:
        registry._cache.pop(key)


def photos_of(photos_dir: Path) -> tuple[str, ...]:
    return tuple(sorted(str(p) for p in photos_dir.iterdir() if p.suffix in (".png", ".jpg")))


def tiny_settings(photos_dir: Path, output: Path, **changes) -> TrainDirectionSettings:
    values = dict(
        assessor="tiny-conv",
        output=str(output),
        photos=photos_of(photos_dir),
        photo_size=16,
        steps=6,
        batch_size=2,
        lr=0.1,
        alpha_max=0.05,
        heldout_photos=2,
        eval_batch=8,
    )
    values.update(changes)
    return TrainDirectionSettings(**values)


def test_eta_is_steps_times_the_measured_step_and_predicts_the_real_training(
    photos_dir, tmp_path, slow_conv, monkeypatch
):
    delay = 0.1  # the waits dominate the step, so the timing holds on a busy machine
    monkeypatch.setattr(SlowConv, "delay", delay)
    assessor = SlowConv()
    settings = tiny_settings(photos_dir, tmp_path / "slow.json", assessor="slow-conv", steps=12)
    estimate = run_to_end(estimate_training(settings, assessor))

    # A GANalyze step scores the batch twice (the target without gradients, the edit with): ≥ 2 waits.
    assert estimate.method == "ganalyze" and estimate.device == "CPU" and estimate.batch_size == 2
    assert 2 * delay <= estimate.step_s < 2 * delay + 0.5  # + the small CNN's own work, on a shared CPU
    # The evidence: the held-out photos in one batch, scored at paper 000's five test α.
    assert estimate.evidence_batches == 1 and estimate.evidence_s >= 5 * delay
    assert estimate.steps == 12
    assert estimate.total_s == pytest.approx(estimate.setup_s + 12 * estimate.step_s + estimate.evidence_s)
    assert estimate.total_s - estimate.evidence_s - estimate.setup_s == pytest.approx(12 * estimate.step_s)
    assert "s/step · 12 steps ≈" in estimate.describe() and estimate.describe().endswith(")")

    start = time.perf_counter()
    run_to_end(train_direction(settings, assessor))
    took = time.perf_counter() - start
    # The prediction, within the noise of a machine shared with other work.
    assert took == pytest.approx(estimate.total_s, rel=0.5), (took, estimate)


def test_an_estimate_first_leaves_the_trained_file_bit_identical(photos_dir, tmp_path):
    # α from the assessor's spread (alpha_max None), so the estimate runs that measurement too.
    plain = tiny_settings(photos_dir, tmp_path / "plain" / "t.json", alpha_max=None)
    run_to_end(train_direction(plain, TinyConv()))

    after = tiny_settings(photos_dir, tmp_path / "after" / "t.json", alpha_max=None)
    assessor = TinyConv()  # the one instance, estimated with and then trained through
    saved = torch.get_rng_state()
    torch.manual_seed(1234)  # a global stream the estimate must not advance
    expected_next = torch.rand(3)
    torch.manual_seed(1234)
    estimate = run_to_end(estimate_training(after, assessor))
    assert torch.equal(torch.rand(3), expected_next)
    torch.set_rng_state(saved)
    assert estimate.setup_s > 0 and estimate.step_s > 0
    assert not (tmp_path / "after").exists()  # no direction, no checkpoint written
    run_to_end(train_direction(after, assessor))
    same_files(tmp_path / "plain" / "t.json", tmp_path / "after" / "t.json")


def test_a_checkpoint_counts_only_the_steps_left(photos_dir, tmp_path):
    settings = tiny_settings(photos_dir, tmp_path / "r.json", steps=8, checkpoint_every=1)
    job = train_direction(settings, TinyConv())
    for _ in range(4):
        next(job)  # loading, then steps 1..3
    job.close()  # the checkpoint is saved on close
    estimate = run_to_end(estimate_training(settings, TinyConv()))
    assert estimate.resumed == 3 and estimate.steps == 5 and "resuming after step 3" in estimate.describe()
    suggestion = suggest_settings(settings, estimate, estimate.evidence_s + estimate.setup_s + 1e-6)
    assert suggestion.settings.batch_size == settings.batch_size  # a resumed run keeps its batch


def test_a_hyperplane_estimate_counts_sampling_batches_and_changes_nothing(sg2_pickle, tmp_path):  # noqa: F811
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.generators.opening import open_generator

    generator, assessor = open_generator(sg2_pickle).eval(), load_assessor("brightness", "cpu")
    settings = TrainDirectionSettings(
        method="hyperplane",
        assessor="brightness",
        space="w",
        num_samples=40,
        eval_samples=12,
        eval_batch=8,
        output=str(tmp_path / "a" / "h.json"),
    )
    plain = replace(settings, output=str(tmp_path / "b" / "h.json"))
    run_to_end(train_direction(plain, assessor, generator))
    estimate = run_to_end(estimate_training(settings, assessor, generator))
    assert estimate.method == "hyperplane" and estimate.steps == 5 and estimate.batch_size == 8
    assert estimate.evidence_batches == 2 and estimate.evidence_s > 0 and estimate.step_s > 0
    assert "s/batch · 5 batches ≈" in estimate.describe()
    assert not (tmp_path / "a").exists()
    run_to_end(train_direction(settings, assessor, generator))
    same_files(tmp_path / "a" / "h.json", tmp_path / "b" / "h.json")


def known(step_s: float, steps: int = 300, batch: int = 8, setup_s: float = 5.0, evidence_s: float = 30.0):
    return TrainEstimate("ganalyze", "CPU", batch, steps, step_s, setup_s, evidence_s, 1)


def test_the_suggestion_fits_the_budget_given_a_known_step_time() -> None:
    settings = TrainDirectionSettings(steps=300, batch_size=8)
    estimate = known(2.0)  # 5 + 300 × 2 + 30 = 635 s

    roomy = suggest_settings(settings, estimate, 3600)
    assert roomy.settings == settings and roomy.fits and not roomy.changes
    assert roomy.predicted_s == pytest.approx(635)

    ten = suggest_settings(settings, estimate, 600)  # 565 s left for steps: 282 steps of 2 s
    assert ten.fits and ten.settings.steps == 282 and ten.settings.batch_size == 8
    assert ten.predicted_s == pytest.approx(35 + 282 * 2.0) and ten.predicted_s <= 600
    assert ten.changes == ("steps 300 → 282",)

    tight = suggest_settings(settings, estimate, 120)  # 85 s: 100 steps need the batch at 85/200 of 8
    assert tight.fits and tight.settings.steps == MIN_GANALYZE_STEPS and tight.settings.batch_size == 3
    assert tight.predicted_s == pytest.approx(35 + 100 * 2.0 * 3 / 8) and tight.predicted_s <= 120

    hopeless = suggest_settings(settings, estimate, 40)
    assert not hopeless.fits and hopeless.settings.batch_size == MIN_BATCH and hopeless.predicted_s > 40
    assert hopeless.describe().startswith("still over 40 s")

    for budget in (60.0, 300.0, 600.0, 1800.0):
        for step_s in (0.01, 0.5, 2.0, 20.0):
            suggestion = suggest_settings(settings, known(step_s), budget)
            if suggestion.fits:
                assert suggestion.predicted_s <= budget + 1e-9
            assert suggestion.settings.steps <= settings.steps and suggestion.settings.batch_size <= 8


def test_a_hyperplane_suggestion_takes_fewer_samples() -> None:
    settings = TrainDirectionSettings(method="hyperplane", num_samples=2000, eval_batch=8)
    estimate = TrainEstimate("hyperplane", "CPU", 8, 250, 1.0, 0.0, 10.0, 8)
    suggestion = suggest_settings(settings, estimate, 110)  # 100 batches of 8
    assert suggestion.fits and suggestion.settings.num_samples == 800 and suggestion.predicted_s == 110


def test_durations_read_and_print() -> None:
    assert [parse_duration(t) for t in ("10m", "1h", "90s", "600", "2min")] == [600, 3600, 90, 600, 120]
    with pytest.raises(MemstudioError, match="cannot read 'soon' as a time budget"):
        parse_duration("soon")
    with pytest.raises(MemstudioError, match="must be positive"):
        parse_duration("0")
    spoken = [format_duration(s) for s in (0.2, 42, 660, 3600, 5940 + 360)]
    assert spoken == ["< 1 s", "42 s", "11 min", "1 h", "1 h 45 min"]


def test_cli_estimate_prints_eta_and_suggestions_and_trains_nothing(photos_dir, tmp_path, slow_conv, capsys):
    output = tmp_path / "cli" / "e.json"
    args = ["direction", "train", "--photos", *photos_of(photos_dir), "--assessor", "slow-conv"]
    args += ["--photo-size", "16", "--steps", "20000", "--batch-size", "2", "--alpha-max", "0.05"]
    args += ["--heldout-photos", "2", "--estimate", "--budget", "10m", "--quiet", "-o", str(output)]
    assert main(args) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    step_s = float(lines[0].split()[0])
    assert lines[0].endswith("s/step at batch 2 on CPU") and 2 * SlowConv.delay <= step_s < 1.0
    assert lines[1].startswith("ETA: ≈ ") and "20000 steps ≈" in lines[1]
    assert lines[2].startswith("suggestion: fits 10 min: steps 20000 → ")
    suggested = int(lines[3].split()[1])
    assert lines[3].strip() == f"--steps {suggested}" and 100 <= suggested < 20000
    assert suggested * (step_s - 0.0005) <= 600  # the printed s/step is rounded to 3 decimals
    assert "warning: the evidence would have n = 2 held-out samples" in err
    assert not output.parent.exists()
    assert main([*args, "--budget", "soon"]) == 2
    assert "cannot read 'soon' as a time budget" in capsys.readouterr().err


def open_dialog(qtbot, window, assessor: str, steps: int):
    feature = window.features["directions"]
    dialog = feature.show_train_dialog()
    qtbot.addWidget(dialog)
    dialog.assessor.addItem(assessor)
    dialog.assessor.setCurrentText(assessor)
    dialog.use_samples.setChecked(True)
    dialog.photo_size.setValue(16)
    dialog.batch.setValue(2)
    dialog.steps.setValue(steps)
    dialog.alpha_max.setValue(0.05)
    return feature, dialog


def test_the_dialog_shows_the_estimate_and_applies_the_suggestion(qtbot, window, slow_conv):
    feature, dialog = open_dialog(qtbot, window, "slow-conv", 1_000_000)
    assert "press Estimate" in dialog.estimate_label.text() and not dialog.use_suggested.isEnabled()
    dialog.estimate_button.click()
    assert dialog.estimate_label.text().startswith("Measuring")
    qtbot.waitUntil(lambda: dialog.estimate is not None, timeout=TIMEOUT)
    estimate = dialog.estimate
    assert 2 * SlowConv.delay <= estimate.step_s and estimate.steps == 1_000_000
    text = dialog.estimate_label.text()
    assert text.startswith("≈ ") and "s/step · 1000000 steps ≈ " in text and " on CPU" in text
    assert format_duration(estimate.total_s) in text

    # 10 min cannot hold a million steps: fewer steps, with the batch kept (each step is well under 6 s).
    assert dialog.budget.currentData() == 600.0
    suggestion = dialog.suggestion
    assert suggestion.fits and suggestion.settings.batch_size == 2 and suggestion.predicted_s <= 600
    assert dialog.suggestion_label.text() == f"Budget {suggestion.describe()}" and dialog.use_suggested.isEnabled()
    dialog.budget.setCurrentIndex(dialog.budget.findData(3600.0))  # a new budget: no new measurement
    suggestion_at_hour = dialog.suggestion
    assert suggestion_at_hour.budget_s == 3600.0 and suggestion_at_hour.settings.steps > suggestion.settings.steps
    dialog.use_suggested.click()
    assert dialog.steps.value() == dialog.request().settings.steps < 1_000_000
    assert dialog.estimate is None and "Suggested settings applied" in dialog.estimate_label.text()

    dialog.estimate_button.click()  # the applied settings, measured
    qtbot.waitUntil(lambda: dialog.estimate is not None, timeout=TIMEOUT)
    assert dialog.estimate.steps == suggestion_at_hour.settings.steps
    assert dialog.estimate_label.text() == dialog.estimate.describe()
    dialog.batch.setValue(3)  # any change makes it stale
    assert dialog.estimate is None and dialog.estimate_label.text().startswith("Settings changed")
    dialog.close()


def test_the_gui_thread_stays_live_while_estimating_and_a_change_cancels_it(qtbot, window, slow_conv, monkeypatch):
    monkeypatch.setattr(SlowConv, "delay", 0.25)
    feature, dialog = open_dialog(qtbot, window, "slow-conv", 300)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    try:
        dialog.estimate_button.click()
        started = time.perf_counter()
        qtbot.waitUntil(lambda: dialog.estimate is not None, timeout=TIMEOUT)
        took = time.perf_counter() - started
        during = [t for t in ticks if t >= started]
        # ≥ 2 steps × 2 forwards + 5 evidence forwards at 0.25 s: seconds of engine work, all off the GUI thread.
        assert took >= 9 * 0.25
        assert len(during) >= took / 0.02 / 3 and max(b - a for a, b in zip(during, during[1:], strict=False)) < 0.25

        cancelled = []
        feature.cancel_estimate()  # nothing running: harmless
        dialog.estimate_button.click()
        handle = feature._estimate
        handle.cancelled.connect(lambda: cancelled.append(True))
        dialog.steps.setValue(299)  # stale while measuring: the engine drops it within a step
        assert dialog.estimate_label.text().startswith("Settings changed") and feature._estimate is None
        qtbot.waitUntil(lambda: bool(cancelled), timeout=TIMEOUT)
        assert dialog.estimate is None
    finally:
        timer.stop()
    dialog.close()


def test_a_failed_estimate_says_why_in_the_dialog(qtbot, window):
    feature, dialog = open_dialog(qtbot, window, "no-such-assessor", 10)
    dialog.estimate_button.click()
    qtbot.waitUntil(lambda: dialog.estimate_label.text().startswith("Could not estimate"), timeout=TIMEOUT)
    assert "no-such-assessor" in dialog.estimate_label.text() and feature._estimate is None
    assert dialog.estimate is None and not dialog.use_suggested.isEnabled()
    dialog.close()


def test_estimate_refuses_what_training_refuses(photos_dir, tmp_path):
    settings = tiny_settings(photos_dir, tmp_path / "h.json", method="hyperplane")
    with pytest.raises(MemstudioError, match="a hyperplane needs a GAN's latent space"):
        run_to_end(estimate_training(settings, TinyConv()))
    with torch.inference_mode():
        frozen = TinyConv()
    with pytest.raises(MemstudioError, match="loaded under torch.inference_mode"):
        run_to_end(estimate_training(tiny_settings(photos_dir, tmp_path / "f.json"), frozen))
    fine = run_to_end(estimate_training(tiny_settings(photos_dir, tmp_path / "ok.json"), TinyConv()))
    assert math.isfinite(fine.total_s) and fine.step_s > 0
