"""The Heatmap dock as a user drives it: the overlay follows the frame, edits cancel stale maps, the GUI stays
live, colours change without recomputing, maps save, the emphasis check scores, a trained VMS model maps.

The cheap ``brightness`` assessor stands in for ResMem (the maps core is tested with ResMem elsewhere), and
the scales are few and coarse, so each map takes a fraction of a second on a shared CPU.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QElapsedTimer, QTimer

from memstudio.ui.features.heatmap import feature as heatmap_feature
from memstudio.ui.features.heatmap.panel import ScalesError, format_scales, parse_scales
from memstudio.ui.main_window import MainWindow

ASSESSOR = "brightness"
DEBOUNCE_PLUS = heatmap_feature.DEBOUNCE_MS + 200


@pytest.fixture
def window(qtbot):
    win = MainWindow(assessors=(ASSESSOR,))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.engine.is_running(), timeout=10_000)
    feature = win.features["heatmap"]
    qtbot.waitUntil(lambda: feature.panel.colormap.count() > 10, timeout=20_000)  # tables from the engine
    qtbot.waitUntil(lambda: feature.panel.assessor.count() > 0, timeout=20_000)  # the assessors listed by the engine
    feature.panel.assessor.setCurrentText(ASSESSOR)
    yield win
    win.close()
    assert not win.engine.is_running()


def open_photo(qtbot, win, path: Path) -> None:
    with qtbot.waitSignal(win.scores_shown, timeout=30_000):
        win.open_paths([path])


def set_scales(feature, text: str) -> None:
    feature.panel.scales.setText(text)
    feature.panel.scales.editingFinished.emit()


def record(feature) -> list[dict]:
    shown: list[dict] = []
    feature.map_shown.connect(shown.append)
    return shown


def final_of(shown: list[dict], frame_id: int) -> bool:
    return any(s["final"] and s["frame_id"] == frame_id for s in shown)


class Heartbeat:
    """A 5 ms timer on the GUI thread; the largest gap between its ticks says how long the GUI froze."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = 0
        self.max_gap_ms = 0

    def _tick(self) -> None:
        now = self.clock.elapsed()
        self.max_gap_ms = max(self.max_gap_ms, now - self.last)
        self.last = now

    def __enter__(self) -> Heartbeat:
        self.clock.start()
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()


def test_scales_field_reads_fractions_and_refuses_nonsense() -> None:
    assert parse_scales("2/3, 1/2  0.4") == (2 / 3, 1 / 2, 0.4)
    assert parse_scales("  ") is None
    assert format_scales((2 / 3, 1 / 2, 2 / 5)) == "2/3, 1/2, 2/5"
    assert parse_scales(format_scales((2 / 3, 0.37))) == (2 / 3, 0.37)
    with pytest.raises(ScalesError, match="outside"):
        parse_scales("1.5")
    with pytest.raises(ScalesError, match="not a number"):
        parse_scales("half")


def test_overlay_follows_the_frame_and_edits_cancel_stale_maps(qtbot, window, photos_dir, monkeypatch):
    # One window per step, so the map of the first frame is still running when the edit arrives.
    monkeypatch.setattr(heatmap_feature, "MAP_BATCH", 1)
    feature = window.features["heatmap"]
    open_photo(qtbot, window, photos_dir / "chelsea.png")
    set_scales(feature, "1/2, 1/3, 1/4")
    shown = record(feature)
    first = window.current_frame.request_id
    with Heartbeat() as beat:
        feature.set_enabled(True)
        qtbot.waitUntil(lambda: any(s["frame_id"] == first for s in shown), timeout=20_000)
        old_job = feature.job.job_id
        assert not shown[0]["final"]  # the coarse map comes first
        assert feature.map_frame_id == first and f"frame #{first}" in feature.panel.status.text()
        assert re.search(r"refining [23]/3", feature.panel.status.text())
        overlay = window.canvas.overlay_image()
        assert overlay is not None and (overlay.width(), overlay.height()) == window.canvas.image_size()

        with qtbot.waitSignal(feature.job_cancelled, timeout=20_000) as cancelled:
            window.state.set_value("edit", "exposure", 0.5, False)
        assert cancelled.args == [old_job] and old_job in feature.cancelled
        qtbot.waitUntil(lambda: window.current_frame.request_id > first, timeout=20_000)
        second = window.current_frame.request_id
        qtbot.waitUntil(lambda: final_of(shown, second), timeout=30_000)
    assert not final_of(shown, first)  # the first frame's map never finished: it was stale
    after_edit = shown[[s["frame_id"] for s in shown].index(second) :]
    assert all(s["job_id"] != old_job for s in after_edit)  # no stale preview drawn after the edit
    assert [s["final"] for s in after_edit] == [False, False, False, True]  # coarse → refined → final
    assert feature.submitted[-1][1] == second
    assert f"map of frame #{second}" in feature.panel.status.text()
    # Brightness explains brightness: the map is highest where the edited frame is brightest.
    luma = window.current_frame.pixels.astype(np.float32).mean(axis=2)
    assert np.corrcoef(feature.final_map.ravel(), luma.ravel())[0, 1] > 0.3
    assert beat.max_gap_ms < 200, f"the GUI froze for {beat.max_gap_ms} ms during the map"
    # Not listed in the jobs dock: the map jobs are transient.
    assert not any(job_id.startswith(heatmap_feature.PREFIX) for job_id in window.jobs.rows)

    # Hiding the overlay cancels the running map and clears the canvas.
    window.state.set_value("edit", "exposure", -0.3, False)
    qtbot.waitUntil(lambda: feature.job is not None and feature.job.previews >= 1, timeout=20_000)
    running = feature.job.job_id
    with qtbot.waitSignal(feature.job_cancelled, timeout=20_000) as cancelled:
        feature.panel.show_box.setChecked(False)
    assert cancelled.args == [running] and window.canvas.overlay_image() is None and feature.job is None


def test_opacity_and_colormap_recolour_without_recomputing(qtbot, window, photos_dir):
    feature = window.features["heatmap"]
    open_photo(qtbot, window, photos_dir / "coffee.png")
    set_scales(feature, "1/2, 1/3")
    shown = record(feature)
    frame_id = window.current_frame.request_id
    feature.set_enabled(True)
    qtbot.waitUntil(lambda: final_of(shown, frame_id), timeout=30_000)
    jobs = list(feature.submitted)
    before = window.canvas.overlay_image().copy()

    feature.panel.opacity.setValue(80)
    assert window.canvas.overlay_opacity() == pytest.approx(0.8)
    feature.panel.colormap.setCurrentText("gray")
    after = window.canvas.overlay_image()
    assert after != before  # new colours
    pixel = after.pixelColor(after.width() // 2, after.height() // 2)
    assert pixel.red() == pixel.green() == pixel.blue()  # grey colormap
    qtbot.wait(DEBOUNCE_PLUS)
    assert feature.submitted == jobs and feature.job is None  # nothing recomputed

    # The same settings again are no new map either; a new method is.
    set_scales(feature, "1/2, 1/3")
    assert feature.submitted == jobs
    feature.panel.select_method("gradient")
    assert not feature.panel.scales.isEnabled()  # gradient maps have no scales
    qtbot.waitUntil(lambda: feature.final_settings.method == "gradient", timeout=30_000)
    assert len(feature.submitted) == len(jobs) + 1 and feature.map_frame_id == frame_id
    assert feature.final_map.shape == window.current_frame.pixels.shape[:2]


def test_save_map_and_emphasis_check(qtbot, window, photos_dir, tmp_path):
    feature = window.features["heatmap"]
    assert not feature.panel.save_button.isEnabled()  # no map yet
    # Redness: a map whose emphasis check is measurable (blur and desaturation take redness away).
    feature.panel.assessor.setCurrentText("redness")
    open_photo(qtbot, window, photos_dir / "astronaut.png")
    set_scales(feature, "1/2, 1/3")
    shown = record(feature)
    frame_id = window.current_frame.request_id
    feature.set_enabled(True)
    qtbot.waitUntil(lambda: final_of(shown, frame_id), timeout=30_000)
    assert feature.panel.save_button.isEnabled() and feature.panel.emphasis_button.isEnabled()
    height, width = window.current_frame.pixels.shape[:2]

    for name in ("map.npy", "map.png"):
        with qtbot.waitSignal(feature.map_saved, timeout=20_000) as saved:
            feature.save_map(tmp_path / name)
        assert saved.args == [str(tmp_path / name)]
    values = np.load(tmp_path / "map.npy")
    assert values.shape == (height, width) and values.dtype == np.float32
    np.testing.assert_array_equal(values, feature.final_map)
    with Image.open(tmp_path / "map.png") as png:
        assert png.size == (width, height) and png.mode == "RGB"

    with qtbot.waitSignal(feature.emphasis_done, timeout=30_000) as done:
        feature.run_emphasis()
    result = done.args[0]
    scores = result["scores"]
    assert set(scores) == {"original", "high", "medium", "low"}
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in scores.values())
    # The reddest half kept sharp keeps most of the redness; the paper's order holds for a right map.
    assert scores["high"] > scores["medium"] > scores["low"] and result["order_holds"]
    assert result["assessor"] == "redness" and result["frame_id"] == frame_id
    assert result["thumbnails"]["high"].shape[2] == 3
    assert feature.panel.emphasis_box.isVisible()
    assert f"high {scores['high']:.3f}" in feature.panel.emphasis_verdict.text()


def test_a_trained_vms_model_is_a_method(qtbot, window, photos_dir, tmp_path):
    import torch

    from memstudio.core.jobs import run_to_end
    from memstudio.core.maps.vms import VMSConfig
    from memstudio.core.maps.vms_train import train_job

    size = 32
    rng = np.random.default_rng(0)
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "maps").mkdir()
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(10):  # the map is a blob around a bright square (as in test_vms.py)
        image = rng.uniform(0.05, 0.35, (size, size, 3))
        y, x = rng.integers(2, size - 6, 2)
        image[y : y + 4, x : x + 4] = 0.95
        blob = np.exp(-((yy - y - 1.5) ** 2 + (xx - x - 1.5) ** 2) / (2 * 4.0**2))
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / "data" / "images" / f"{i}.png")
        Image.fromarray(np.round(blob * 255).astype(np.uint8)).save(tmp_path / "data" / "maps" / f"{i}.png")
    config = VMSConfig(
        encoder_channels=(3, 8, 16, 32),
        decoder_channels=(32, 16, 8),
        discriminator_channels=(4, 8, 16),
        image_size=size,
        batch_size=4,
        val_fraction=0.2,
        optimizer_g="adam",
        lr_g=5e-3,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_to_end(train_job(tmp_path / "data", tmp_path / "vms", config, epochs=2))
    finally:
        torch.set_num_threads(threads)

    feature = window.features["heatmap"]
    open_photo(qtbot, window, photos_dir / "coffee.png")
    shown = record(feature)
    frame_id = window.current_frame.request_id
    feature.panel.show_box.setChecked(True)
    with qtbot.waitSignal(feature.vms_loaded, timeout=20_000):
        feature.load_vms(tmp_path / "vms")
    assert feature.panel.method_id() == "vms" and "2 epochs" in feature.panel.vms_label.text()
    qtbot.waitUntil(lambda: final_of(shown, frame_id) and feature.job is None, timeout=30_000)
    assert feature.final_settings.method == "vms"
    assert feature.final_settings.vms_checkpoint == str(tmp_path / "vms")
    from memstudio.core.maps.api import compute_map

    expected = compute_map(window.current_frame.tensor, method="vms", vms_checkpoint=tmp_path / "vms")
    np.testing.assert_allclose(feature.final_map, expected, atol=1e-5)

    # A folder that is not a checkpoint is reported in the dock, and the method stays usable.
    (tmp_path / "empty").mkdir()
    feature.load_vms(tmp_path / "empty")
    qtbot.waitUntil(lambda: "not a VMS checkpoint" in feature.panel.status.text(), timeout=20_000)
    assert feature.vms_checkpoint == str(tmp_path / "vms")


def test_colour_bar_numbers_value_under_the_mouse_and_figure_export(qtbot, window, photos_dir, tmp_path):
    import pdfplumber
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    from memstudio.cli import main

    feature = window.features["heatmap"]
    panel = feature.panel
    feature.panel.assessor.setCurrentText("redness")
    open_photo(qtbot, window, photos_dir / "astronaut.png")
    set_scales(feature, "1/2, 1/3")
    shown = record(feature)
    frame_id = window.current_frame.request_id
    feature.set_enabled(True)
    qtbot.waitUntil(lambda: final_of(shown, frame_id), timeout=30_000)

    # The bar is numbered in redness, from the map's raw range, and says the map is normalised.
    scale = feature.final_scale
    assert scale is not None and scale.has_units and scale.low < scale.high
    labels = panel.legend.tick_labels()
    assert len(labels) >= 3 and float(labels[0]) == pytest.approx(scale.low, abs=1e-3)
    assert float(labels[-1]) == pytest.approx(scale.high, abs=1e-3)
    assert "redness" in panel.legend_label.text() and "normalised" in panel.legend_label.text()
    # It sits at the top of the dock, right under the checkbox, above the settings: never below the fold.
    assert panel.legend.isVisible() and panel.legend.y() < panel.method.y()
    assert panel.legend.y() - panel.show_box.geometry().bottom() < 20

    # The value under the mouse: the map at that pixel, in redness.
    canvas = window.canvas
    rect = canvas.image_rect()
    point = QPointF(rect.x() + rect.width() * 0.25, rect.y() + rect.height() * 0.75)
    move = QMouseEvent(
        QMouseEvent.Type.MouseMove, point, point, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    canvas.setFocus()
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(canvas, move)
    height, width = feature.final_map.shape
    col = int((point.x() - rect.x()) * width / rect.width())
    row = int((point.y() - rect.y()) * height / rect.height())
    expected = scale.value(float(feature.final_map[row, col]))
    text = panel.hover.text()
    assert text.startswith(f"at ({col}, {row}):") and f"{expected:.4f} (" in text
    assert feature.value_at(rect.x() - 5, rect.y() - 5) == ""  # off the image: nothing

    # The figure: the overlay at the dock's opacity and the numbered bar, re-drawable by the CLI.
    panel.opacity.setValue(70)
    figure = tmp_path / "astronaut-heatmap.pdf"
    with qtbot.waitSignal(feature.figure_saved, timeout=30_000) as saved:
        feature.export_figure(figure)
    assert saved.args == [[str(figure)]]
    side = json.loads((tmp_path / "astronaut-heatmap.pdf.json").read_text())
    assert side["spec"]["opacity"] == pytest.approx(0.7) and side["map"]["low"] == pytest.approx(scale.low)
    frame_png = tmp_path / "astronaut-heatmap-frame.png"
    assert np.array_equal(np.asarray(Image.open(frame_png)), window.current_frame.pixels)
    with pdfplumber.open(figure) as pdf:
        words = [w["text"] for w in pdf.pages[0].extract_words()]
    assert labels[0] in words and labels[-1] in words
    again = tmp_path / "again.svg"
    assert main(["heatmap", "--from", str(figure), "--figure", str(again), "--quiet"]) == 0
    redrawn = json.loads((tmp_path / "again.svg.json").read_text())
    assert redrawn["map"]["low"] == pytest.approx(scale.low, abs=2e-3)
