"""Directions in the studio as a user drives them: train, cancel and resume, slide, open CLI files, W+ layers.

Photo directions train on the built-in photos (tiny sizes, few steps) with the real brightness assessor; the
GAN is a tiny StyleGAN2 with seeded random weights written as an NVIDIA pickle by the test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from engine_commands import every_job
from PySide6.QtWidgets import QPushButton
from test_model_store import write_nvidia_pickle
from test_ui_generators import tiny_stylegan2

from memstudio.cli import main
from memstudio.core.directions.base import Direction
from memstudio.core.directions.conditional import cosine
from memstudio.core.generators.base import Generator
from memstudio.core.generators.opening import open_generator
from memstudio.core.imaging import tensor_to_uint8
from memstudio.core.pipeline import edit_latent
from memstudio.core.requests import SeedSubject
from memstudio.ui.features.directions.feature import DirectionsFeature
from memstudio.ui.main_window import MainWindow

TIMEOUT = 60_000


pytestmark = pytest.mark.usefixtures("single_thread")


def feature_of(window: MainWindow) -> DirectionsFeature:
    return window.features["directions"]


def sample_photos(photos_dir: Path) -> list[str]:
    return sorted(str(p) for p in photos_dir.iterdir() if p.suffix in (".png", ".jpg"))


def brightness_after(qtbot, window: MainWindow, change) -> float:
    """Apply ``change`` and return the live brightness of the frame it produced."""
    with qtbot.waitSignal(window.scores_shown, timeout=TIMEOUT):
        change()
    qtbot.waitUntil(lambda: window.last_scores.request_id == window.last_request_id, timeout=TIMEOUT)
    return window.last_scores.values["brightness"]


def test_train_cancel_resume_and_slide_on_a_photo(qtbot, window, photos_dir, tmp_path) -> None:
    feature = feature_of(window)
    with qtbot.waitSignal(window.scores_shown, timeout=TIMEOUT):
        window.open_paths([photos_dir / "coffee.png"])
    assert not window.strip.directions_box.isVisible()

    dialog = feature.show_train_dialog()
    assert dialog.photo_mode and dialog.method_key() == "ganalyze"
    assert [dialog.assessor.itemText(i) for i in range(dialog.assessor.count())] == ["brightness"]
    assert dialog.g_space.currentData() == "edit"
    dialog.steps.setValue(40)
    dialog.batch.setValue(3)
    dialog.lr.setValue(0.1)
    dialog.photo_size.setValue(32)
    dialog.eval_samples.setValue(8)
    dialog.use_samples.setChecked(True)
    output = tmp_path / "bright.json"
    dialog.set_output(output)
    assert dialog.request().settings.alpha_max is None  # "auto": default_alpha_max from the assessor's spread

    updates = every_job(window.engine, "progress")
    cancelled = []

    def cancel_after_some_steps(update) -> None:
        if not cancelled and update.message.startswith("step ") and int(update.message.split()[1].split("/")[0]) >= 5:
            cancelled.append(update.job_id)
            window.jobs.rows[update.job_id].cancel.click()

    window.engine.job_submitted.connect(lambda handle: handle.progress.connect(cancel_after_some_steps))
    with qtbot.waitSignal(window.jobs.card_finished, timeout=TIMEOUT) as stopped:
        dialog.start.click()
    done = stopped.args[0]
    assert done.cancelled and cancelled == [done.job_id]
    checkpoint = output.with_suffix(".ckpt.pt")
    step = int(torch.load(checkpoint, weights_only=True)["step"])
    assert 5 <= step < 40
    assert not feature.sliders.rows

    row = window.jobs.rows[done.job_id]
    resume = row.findChild(QPushButton, "resumeJob")
    resumed_from = len(updates)
    finished_jobs: list = []
    window.jobs.card_finished.connect(finished_jobs.append)
    with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT) as loaded:
        resume.click()
    finished = finished_jobs[0]
    messages = [update.message for update in updates[resumed_from:]]
    assert finished.error is None and finished.result.steps == 40
    assert messages[0] == f"resuming from step {step}"
    trained_steps = [int(m.split()[1].split("/")[0]) for m in messages if m.startswith("step ")]
    assert trained_steps and min(trained_steps) > step  # continued, not restarted
    assert not checkpoint.exists()
    assert "β =" in window.jobs.rows[done.job_id].message.text()

    info = loaded.args[0]
    assert window.strip.directions_box.isVisible()
    slider_row = feature.sliders.rows[info["id"]]
    low, high = info["alpha_range"]
    assert slider_row.slider.minimum() == pytest.approx(low) and slider_row.slider.maximum() == pytest.approx(high)
    assert "β =" in slider_row.toolTip() and info["beta"] > 0

    base = window.last_scores.values["brightness"]
    up = brightness_after(qtbot, window, lambda: slider_row.slider.setValue(high))
    assert window.state.values.alphas == {info["id"]: pytest.approx(high)}
    assert slider_row.score.text() == f"score {up:.3f}"
    down = brightness_after(qtbot, window, lambda: slider_row.slider.setValue(low))
    assert up > base + 0.01 and down < base - 0.01  # the way the evidence's positive slope says
    back = brightness_after(qtbot, window, window.state.undo_stack.undo)
    assert back == pytest.approx(up, abs=1e-4) and slider_row.slider.value() == pytest.approx(high)

    # A drag (press, moves, release) is one undo step.
    index = window.state.undo_stack.index()
    slider_row.slider._slider.setSliderDown(True)
    for value in (0.2 * high, 0.5 * high, 0.7 * high):
        slider_row.slider.setValue(value)
    slider_row.slider._slider.setSliderDown(False)
    assert window.state.undo_stack.index() == index + 1 == window.state.undo_stack.count()
    assert window.state.values.alphas[info["id"]] == pytest.approx(0.7 * high, abs=1e-3)

    # The studio's file is a CLI file: it loads and evaluates with `memstudio direction eval`.
    saved = Direction.load(output)
    assert saved.space == "edit" and saved.metrics["steps"] == 40
    evaluated = tmp_path / "bright-eval.json"
    photos = sample_photos(photos_dir)
    args = ["direction", "eval", str(output), "--photos", *photos[:3], "--photo-size", "32"]
    assert main([*args, "--alphas=-0.1,0,0.1", "--no-factors", "--quiet", "-o", str(evaluated)]) == 0
    assert Direction.load(evaluated).evidence["beta"] > 0


def test_cli_direction_opens_as_a_slider_and_applies(qtbot, window, photos_dir, tmp_path) -> None:
    out = tmp_path / "cli-bright.json"
    photos = sample_photos(photos_dir)
    train = ["direction", "train", "--photos", *photos, "--photo-size", "32", "--assessor", "brightness"]
    assert main([*train, "--steps", "30", "--lr", "0.1", "--batch-size", "3", "--quiet", "-o", str(out)]) == 0
    trained = Direction.load(out)

    feature = feature_of(window)
    with qtbot.waitSignal(window.scores_shown, timeout=TIMEOUT):
        window.open_paths([photos_dir / "chelsea.png"])
    with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT) as loaded:
        said = window.open_paths([out])
    assert "opening direction cli-bright.json" in said
    info = loaded.args[0]
    assert info["name"] == trained.name and info["path"] == str(out)
    assert window.engine.pipeline.direction_paths[info["id"]] == str(out)

    base_pixels = window.current_frame.pixels
    base = window.last_scores.values["brightness"]
    alpha = trained.alpha_range[1]
    moved = brightness_after(qtbot, window, lambda: window.state.set_value("alpha", info["id"], alpha, False))
    assert np.sign(moved - base) == np.sign(trained.evidence["beta"]) and abs(moved - base) > 0.01
    editor, _ = window.engine.pipeline.photo(str(photos_dir / "chelsea.png"))
    with torch.no_grad():
        expected = editor.render(editor.sample().with_values(alpha * trained.vector[None]))
    assert np.array_equal(window.current_frame.pixels, tensor_to_uint8(expected)[0])
    assert not np.array_equal(window.current_frame.pixels, base_pixels)

    # A photo direction that does not fit, and a GAN direction without its generator, are refused clearly.
    bad = Direction("short", "brightness", "edit", torch.ones(3)).save(tmp_path / "short.json")
    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT):
        feature.open_direction(bad)
    assert str(bad) in window.messages.text() and "parameters" in window.messages.text()
    gan = Direction("w-dir", "brightness", "w", torch.ones(32), generator={"name": "ffhq"})
    gan_path = gan.save(tmp_path / "w-dir.json")
    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT):
        feature.open_direction(gan_path)
    assert "open that generator first" in window.messages.text()
    assert list(feature.sliders.rows) == [info["id"]]

    feature.sliders.rows[info["id"]].remove.click()
    assert not window.strip.directions_box.isVisible() and window.state.values.alphas == {}


@pytest.fixture(scope="module")
def sg2_pickle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    monkeypatch = pytest.MonkeyPatch()
    try:
        return write_nvidia_pickle(tiny_stylegan2(), tmp_path_factory.mktemp("sg2") / "tiny.pkl", monkeypatch)
    finally:
        monkeypatch.undo()


def seed_w_plus(generator: Generator, seed: int = 0):
    latent = generator.sample(seed)
    return latent if latent.space == "w+" else generator.convert(latent, "w+")


def same_image(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to one 8-bit level: the studio adds the directions one by one, the test in one sum."""
    return bool(np.abs(a.astype(np.int16) - b.astype(np.int16)).max() <= 1)


def render(generator: Generator, latent) -> np.ndarray:
    with torch.no_grad():
        return tensor_to_uint8(generator.render(latent))[0]


def test_layer_dock_conditional_and_combined_on_stylegan2(qtbot, window, sg2_pickle, photos_dir, tmp_path) -> None:
    feature = feature_of(window)
    assert feature.dock.objectName() == "layerEditorDock"
    assert "StyleGAN W+ only" in feature.editor.hint.text()
    sg2 = open_generator(sg2_pickle)
    generators = window.features["generators"]
    with qtbot.waitSignals([generators.generator_loaded, feature.context_changed], timeout=TIMEOUT):
        generators.open_generator(sg2_pickle)
    qtbot.waitUntil(lambda: window.state.subject == SeedSubject(0, 1.0, None), timeout=TIMEOUT)
    editor = feature.editor
    assert len(editor.rows) == sg2.num_ws and [r.layer for r in editor.rows] == list(range(sg2.num_ws))
    assert list(editor.groups) == ["coarse", "middle", "fine"]
    assert "layers 0–3" in editor.groups["coarse"].title() and "none at 32 px" in editor.groups["fine"].title()

    g = torch.Generator().manual_seed(3)
    vectors = [torch.randn(32, generator=g) for _ in range(3)]
    ids = []
    for i, v in enumerate(vectors):
        d = Direction(f"d{i}", "brightness", "w", v, generator=sg2.describe(), alpha_range=(-3.0, 3.0))
        with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT) as loaded:
            feature.open_direction(d.save(tmp_path / f"d{i}.json"))
        ids.append(loaded.args[0]["id"])
    assert editor.direction.count() == 3

    # Two directions combine as the sum of their steps, broadcast over W+.
    w_plus = seed_w_plus(sg2)
    unedited = render(sg2, w_plus)
    with qtbot.waitSignal(window.frame_shown, timeout=TIMEOUT):
        window.state.set_value("alpha", ids[0], 2.0, False)
        window.state.set_value("alpha", ids[1], -1.5, False)
    qtbot.waitUntil(lambda: window.current_frame.request_id == window.last_request_id, timeout=TIMEOUT)
    summed = w_plus.with_values(w_plus.values + (2.0 * vectors[0] - 1.5 * vectors[1])[None, None, :])
    both = render(sg2, summed)
    assert same_image(window.current_frame.pixels, both) and not same_image(both, unedited)

    def frame_after(change) -> np.ndarray:
        with qtbot.waitSignal(window.frame_shown, timeout=TIMEOUT):
            change()
        qtbot.waitUntil(lambda: window.current_frame.request_id == window.last_request_id, timeout=TIMEOUT)
        return window.current_frame.pixels

    # Layer 0 off: only the other layers move.
    pixels = frame_after(lambda: editor.rows[0].enabled.setChecked(False))
    weights = torch.ones(sg2.num_ws)
    weights[0] = 0.0
    step = (2.0 * vectors[0] - 1.5 * vectors[1])[None, None, :] * weights[None, :, None]
    assert window.state.values.layer_weights == tuple(weights.tolist())
    assert same_image(pixels, render(sg2, w_plus.with_values(w_plus.values + step)))
    assert not same_image(pixels, both)
    # All layers off: no edit at all.
    assert np.array_equal(frame_after(editor.all_off.click), unedited)
    assert same_image(frame_after(editor.all_on.click), both)
    assert window.state.values.layer_weights is None

    # A layerwise copy (coarse layers only) round-trips through the CLI and back into the studio.
    frame_after(lambda: window.state.set_value("alpha", ids[1], 0.0, False))
    frame_after(lambda: editor.set_weights([1.0] * 4 + [0.0] * (sg2.num_ws - 4), emit=True))
    copy_path = tmp_path / "d0-coarse.json"
    with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT):
        feature.save_layerwise_copy(ids[0], copy_path)
    assert Direction.load(copy_path).layer_weights.tolist() == [1.0] * 4 + [0.0] * (sg2.num_ws - 4)
    frame_after(editor.all_on.click)  # the dock's coefficients would override the file's own layers
    cli_path = tmp_path / "d0-fine.json"
    last = sg2.num_ws - 1
    assert (
        main(
            [
                "direction",
                "layers",
                str(copy_path),
                "--apply",
                f"6-{last}",
                "--num-ws",
                str(sg2.num_ws),
                "-o",
                str(cli_path),
            ]
        )
        == 0
    )
    with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT) as loaded:
        window.open_paths([cli_path])
    fine_id = loaded.args[0]["id"]
    frame_after(lambda: window.state.set_value("alpha", ids[0], 0.0, False))
    pixels = frame_after(lambda: window.state.set_value("alpha", fine_id, 2.5, False))
    fine = Direction.load(cli_path)
    expected = edit_latent(sg2, sg2.sample(0), [(fine, 2.5)])
    assert np.array_equal(pixels, render(sg2, expected)) and not np.array_equal(pixels, unedited)

    # Conditional: d0 made orthogonal to d1 and d2 in the dialog.
    dialog = feature.show_train_dialog()
    dialog.method.setCurrentIndex(dialog.method.findData("conditional"))
    dialog.base.setCurrentIndex(dialog.base.findData(ids[0]))
    dialog.set_keep([ids[1], ids[2]])
    conditional_path = tmp_path / "d0-cond.json"
    dialog.set_output(conditional_path)
    with qtbot.waitSignal(feature.conditional_made, timeout=TIMEOUT):
        dialog.start.click()
    made = Direction.load(conditional_path)
    assert all(abs(cosine(made.vector, v)) < 1e-4 for v in vectors[1:])
    assert "after" in dialog.cosines.text() and "d1" in dialog.cosines.text()
    dialog.close()

    # Layer analysis as a job: the plot appears in the dock and the analysis is stored in the file.
    editor.select(ids[0])
    assert editor.plot_pixmap() is None
    editor.samples.setValue(4)
    with qtbot.waitSignal(feature.analysis_done, timeout=TIMEOUT):
        editor.analyse.click()
    assert editor.plot_pixmap() is not None and not editor.plot_pixmap().isNull()
    stored = Direction.load(tmp_path / "d0.json").evidence["layers"]
    assert stored["layers"] == list(range(sg2.num_ws)) and stored["num_samples"] == 4

    # A hyperplane trained in the studio on the generator (a job; done → a slider with its accuracy).
    dialog = feature.show_train_dialog()
    assert not dialog.photo_mode and dialog.h_space.currentData() == "w"
    dialog.method.setCurrentIndex(dialog.method.findData("hyperplane"))
    dialog.samples.setValue(64)
    dialog.eval_samples.setValue(8)
    dialog.set_output(tmp_path / "plane.json")
    with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT) as loaded:
        dialog.start.click()
    plane = Direction.load(tmp_path / "plane.json")
    assert loaded.args[0]["method"] == plane.method == "hyperplane-logistic"
    assert "held-out accuracy" in window.jobs.rows[[k for k in window.jobs.rows if "train" in k][-1]].message.text()
    assert plane.evidence["num_samples"] == 8 and plane.vector.norm().item() == pytest.approx(1.0, abs=1e-5)

    # Back on a photo: GAN sliders are disabled, their α held back (no failed render), the dock explains.
    window.state.set_value("alpha", ids[0], 1.0, False)
    with qtbot.waitSignal(window.scores_shown, timeout=TIMEOUT):
        window.open_paths([photos_dir / "coffee.png"])
    assert "StyleGAN W+ only" in editor.hint.text() and not editor.controls.isVisible()
    assert not feature.sliders.rows[ids[0]].slider.isEnabled() and ids[0] not in window.state.values.alphas
    assert not window.messages.isVisible()

    # A direction of another generator (other checkpoint hash) is refused with both names.
    other = Direction("alien", "brightness", "w", vectors[0], generator={"name": "x", "checkpoint_sha256": "ab" * 32})
    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT):
        feature.open_direction(other.save(tmp_path / "alien.json"))
    assert "was trained on x" in window.messages.text()
