"""File ▸ Export figure…: the dialog's live preview, and exports that equal what the CLI renders.

The studio and ``memstudio strip | grid | plot`` run the same core jobs; these tests hold them to it by
comparing pixels: a strip, a grid and a plot exported from the dialog against the CLI given the same inputs,
and against ``--from`` their own sidecars.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_commands import OnEngine
from PIL import Image
from test_figures_support import tiny_stylegan2

from memstudio.cli import main
from memstudio.core.figures.export import sidecar_path
from memstudio.core.requests import SeedSubject
from memstudio.ui.main_window import MainWindow

ALPHAS = ["-0.2", "-0.1", "0", "0.1", "0.2"]


@pytest.fixture
def window(qtbot):
    win = MainWindow(assessors=("brightness",))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.engine.is_running(), timeout=10_000)
    yield win
    win.close()
    assert not win.engine.is_running()


@pytest.fixture
def two_photos(tmp_path, photos_dir):
    """Two small copies of the bundled photos (small keeps every render well under a second)."""
    paths = []
    for name in ("chelsea.png", "coffee.png"):
        target = tmp_path / "photos" / name
        target.parent.mkdir(exist_ok=True)
        Image.open(photos_dir / name).convert("RGB").resize((96, 64)).save(target)
        paths.append(target)
    return paths


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def open_photo_and_dialog(qtbot, win, photo: Path):
    with qtbot.waitSignal(win.scores_shown, timeout=30_000):
        win.open_paths([photo])
    feature = win.features["export"]
    with qtbot.waitSignal(feature.preview_shown, timeout=30_000):
        dialog = feature.open_dialog()
    return feature, dialog


def export(qtbot, feature, path: Path, panels: Path | None = None, batch: bool = False):
    with qtbot.waitSignal(feature.export_finished, timeout=60_000) as done:
        if batch:
            feature.batch_export(path, panels)
        else:
            feature.export_to(path, panels)
    result = done.args[0]
    assert not result.cancelled and result.error is None, result.error
    return result.result


def test_live_preview_debounces_and_strip_equals_cli(qtbot, window, two_photos, tmp_path):
    photo = two_photos[0]
    feature, dialog = open_photo_and_dialog(qtbot, window, photo)
    assert window.features["export"].action in window.file_menu.actions()
    assert dialog.isVisible() and not dialog.isModal()
    # Before any direction is trained, a photo can be shown along one edit parameter.
    assert dialog.direction.currentData() == "edit:exposure"
    before, sent = dialog.preview_pixels().copy(), feature.previews_sent
    # A burst of changes is one render, of the last state (the debounce timer cannot fire in between).
    dialog.decimals.setValue(2)
    dialog.font_size.setValue(18)
    dialog.set_color("text", "#ffff00")
    dialog.label_mode.setCurrentIndex(dialog.label_mode.findData("outline"))
    qtbot.waitSignal(feature.preview_shown, timeout=30_000).wait()
    assert feature.previews_sent == sent + 1
    after = dialog.preview_pixels().copy()
    assert after.shape[0] > before.shape[0]  # the larger font needs a taller header

    out = tmp_path / "studio" / "strip.png"
    assert export(qtbot, feature, out, tmp_path / "panels") == out
    assert np.array_equal(pixels(out), after), "the preview is the exported PNG"
    sidecar = json.loads(sidecar_path(out).read_text())
    spec = sidecar["spec"]
    assert spec["kind"] == "strip" and spec["alphas"] == [-0.2, -0.1, 0.0, 0.1, 0.2]
    assert spec["label"]["decimals"] == 2 and spec["label"]["text_color"] == "#ffff00"
    original = sidecar["panels"][2]
    assert original["label"] == [f"Bright {original['scores']['brightness']:.2f}"]
    direction_file = Path(spec["directions"][0]["path"])
    assert direction_file.is_file() and spec["directions"][0]["name"] == "edit-exposure"

    again = tmp_path / "again.png"
    assert main(["strip", "--from", str(sidecar_path(out)), "-o", str(again)]) == 0
    assert np.array_equal(pixels(out), pixels(again))
    cli = tmp_path / "cli.png"
    args = ["strip", "--photo", str(photo), "--direction", str(direction_file), "--assessor", "brightness"]
    style = ["--decimals", "2", "--font-size", "18", "--text-color", "#ffff00", "--label-mode", "outline"]
    assert main([*args, *style, "--alphas", *ALPHAS, "-o", str(cli)]) == 0
    assert np.array_equal(pixels(out), pixels(cli))

    manifest = json.loads((tmp_path / "panels" / "manifest.json").read_text())
    assert manifest["figure"] == str(sidecar_path(out).resolve())
    assert sorted(e["image"] for e in manifest["images"]) == sorted(
        f"000_{photo.stem}_alpha{a}.png" for a in ("-0.2", "-0.1", "0", "0.1", "0.2")
    )


def test_grid_and_plot_equal_cli_and_reproduce(qtbot, window, two_photos, tmp_path):
    feature, dialog = open_photo_and_dialog(qtbot, window, two_photos[0])
    window.browser.add_paths(two_photos)
    for i in range(window.browser.list.count()):
        window.browser.list.item(i).setSelected(True)
    dialog.select_direction("edit:saturation")
    with qtbot.waitSignal(feature.preview_shown, timeout=30_000):
        dialog.set_kind("grid")
    grid = export(qtbot, feature, tmp_path / "grid.png")
    spec = json.loads(sidecar_path(grid).read_text())["spec"]
    assert spec["kind"] == "grid" and len(spec["seeds"]) == 2
    direction_file = spec["directions"][0]["path"]
    again = tmp_path / "grid_again.png"
    assert main(["grid", "--from", str(sidecar_path(grid)), "-o", str(again)]) == 0
    assert np.array_equal(pixels(grid), pixels(again))
    photos = [str(p) for p in two_photos]
    base = ["--photo", *photos, "--direction", direction_file, "--assessor", "brightness"]
    base += ["--alphas", *ALPHAS]
    cli = tmp_path / "grid_cli.png"
    assert main(["grid", *base, "-o", str(cli)]) == 0
    assert np.array_equal(pixels(grid), pixels(cli))

    with qtbot.waitSignal(feature.preview_shown, timeout=30_000):
        dialog.set_kind("plot")
    plot = export(qtbot, feature, tmp_path / "plot.png")
    data = json.loads(sidecar_path(plot).read_text())
    assert data["spec"]["kind"] == "plot" and data["data"]["score"]["n"] == [2] * 5
    cli_plot = tmp_path / "plot_cli.png"
    plot_args = ["plot", direction_file, "--photo", *photos, "--assessor", "brightness", "--alphas", *ALPHAS]
    assert main([*plot_args, "-o", str(cli_plot)]) == 0
    assert np.array_equal(pixels(plot), pixels(cli_plot))
    assert json.loads(sidecar_path(cli_plot).read_text())["data"] == data["data"]
    replotted = tmp_path / "plot_again.png"
    assert main(["strip", "--from", str(sidecar_path(plot)), "-o", str(replotted)]) == 0
    assert np.array_equal(pixels(plot), pixels(replotted))
    # At the single-column preset the dialog's plot is the CLI's `plot --width single`: 3.5 in at 300 dpi.
    with qtbot.waitSignal(feature.preview_shown, timeout=30_000):
        dialog.figure_width.setCurrentIndex(dialog.figure_width.findData(3.5))
    assert dialog.figure_width.isEnabled() and dialog.font_pt.isEnabled()
    single = export(qtbot, feature, tmp_path / "plot_single.png")
    output = json.loads(sidecar_path(single).read_text())["spec"]["output"]
    assert (output["width_in"], output["font_pt"], output["dpi"]) == (3.5, 7.0, 300.0)
    cli_single = tmp_path / "plot_single_cli.png"
    assert main([*plot_args, "--width", "single", "-o", str(cli_single)]) == 0
    assert pixels(single).shape[1] == 1050 and np.array_equal(pixels(single), pixels(cli_single))


def test_batch_export_of_selected_photos_and_cancel(qtbot, window, two_photos, tmp_path):
    feature, dialog = open_photo_and_dialog(qtbot, window, two_photos[0])
    window.browser.add_paths(two_photos)
    for i in range(window.browser.list.count()):
        window.browser.list.item(i).setSelected(True)
    written = export(qtbot, feature, tmp_path / "batch", tmp_path / "batch_panels", batch=True)
    assert sorted(p.name for p in written) == ["000_chelsea.png", "001_coffee.png"]
    manifest = json.loads((tmp_path / "batch_panels" / "manifest.json").read_text())
    assert {e["seed_id"] for e in manifest["images"]} == {"000_chelsea", "001_coffee"}
    assert {e["figure"] for e in manifest["images"]} == {str(sidecar_path(p)) for p in written}

    # Cancel before the job's first step: the engine is held busy by a task until the cancel is queued.
    release = threading.Event()
    window.engine.request(OnEngine(lambda pipeline: release.wait(20)))
    with qtbot.waitSignal(feature.export_finished, timeout=30_000) as done:
        job_id = feature.export_to(tmp_path / "cancelled.png", tmp_path / "cancelled_panels")
        window.jobs.rows[job_id].cancel.click()
        qtbot.wait(50)
        release.set()
    assert done.args[0].cancelled
    assert not (tmp_path / "cancelled.png").exists() and not (tmp_path / "cancelled_panels").exists()


def test_gan_seed_strip_and_layer_grid(qtbot, tmp_path, monkeypatch):
    from memstudio.core.directions.base import Direction
    from memstudio.core.generators.store import save_model

    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    save_model(tiny_stylegan2(), "tiny-sg2", source_file=Path("tiny-made-by-test"), source_sha256="0" * 64)
    torch.manual_seed(5)
    direction = Direction(name="memo", property="memorability", space="w", vector=torch.randn(8))
    win = MainWindow(assessors=("brightness",))
    qtbot.addWidget(win)
    win.show()

    def load(pipeline):
        from memstudio.core.generators.opening import open_generator

        pipeline.set_generator(open_generator("tiny-sg2", pipeline.device))
        pipeline.directions["memo"] = direction

    qtbot.waitSignal(win.engine.request(OnEngine(load)).done, timeout=30_000).wait()
    with qtbot.waitSignal(win.frame_shown, timeout=30_000):
        win.state.set_subject(SeedSubject(3, truncation=0.8))
    feature = win.features["export"]
    with qtbot.waitSignal(feature.preview_shown, timeout=30_000):
        dialog = feature.open_dialog()
    assert dialog.direction.currentData() == "pipeline:memo"
    assert "Seed 3 of tiny-sg2" in dialog.subject_label.text()
    strip = export(qtbot, feature, tmp_path / "seed3.svg")
    spec = json.loads(sidecar_path(strip).read_text())["spec"]
    assert spec["seeds"] == [3] and spec["truncation"] == 0.8 and spec["generator"]["source"] == "tiny-sg2"
    again = tmp_path / "seed3_again.svg"
    assert main(["strip", "--from", str(sidecar_path(strip)), "-o", str(again)]) == 0
    assert again.read_bytes() == strip.read_bytes()

    dialog.layers.setText("1 4")
    with qtbot.waitSignal(feature.preview_shown, timeout=30_000):
        dialog.set_kind("layer_grid")
    layer_grid = export(qtbot, feature, tmp_path / "layers.png")
    meta = json.loads(sidecar_path(layer_grid).read_text())
    assert meta["spec"]["kind"] == "layer_grid" and meta["spec"]["layers"] == [1, 4]
    assert {p["layer"] for p in meta["panels"]} == {1, 4}
    win.close()
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)


def test_single_column_width_from_the_dialog_equals_the_cli(qtbot, window, two_photos, tmp_path):
    photo = two_photos[0]
    feature, dialog = open_photo_and_dialog(qtbot, window, photo)
    assert not dialog.font_pt.isEnabled() and dialog.panel_px.isEnabled()
    with qtbot.waitSignal(feature.preview_shown, timeout=30_000):
        dialog.figure_width.setCurrentIndex(dialog.figure_width.findData(3.5))
    # A physical width: text in points, images at 300 dpi, no pixel panel size.
    assert dialog.font_pt.isEnabled() and not dialog.panel_px.isEnabled() and dialog.dpi.value() == 300.0
    assert dialog.preview_pixels().shape[1] == 1050  # 3.5 in at 300 dpi
    dialog.caption.setText("auto")
    dialog.label_names.setChecked(True)
    out = tmp_path / "studio" / "single.png"
    assert export(qtbot, feature, out) == out
    spec = json.loads(sidecar_path(out).read_text())["spec"]
    assert (spec["output"]["width_in"], spec["output"]["font_pt"], spec["output"]["dpi"]) == (3.5, 7.0, 300.0)
    assert spec["output"]["caption"].startswith("edit: ") and spec["label"]["show_names"] is True
    direction = spec["directions"][0]["path"]
    cli = tmp_path / "cli.png"
    args = ["strip", "--photo", str(photo), "--direction", direction, "--assessor", "brightness"]
    style = ["--width", "single", "--caption", "auto", "--label-names", "--alphas", *ALPHAS]
    assert main([*args, *style, "-o", str(cli)]) == 0
    assert np.array_equal(pixels(out), pixels(cli))


def test_heatmap_row_from_the_dialog_equals_the_cli(qtbot, window, two_photos, tmp_path):
    photo = two_photos[0]
    feature, dialog = open_photo_and_dialog(qtbot, window, photo)
    assert not dialog.heatmap_method.isEnabled()
    dialog.heatmap_row.setChecked(True)
    assert dialog.heatmap_method.isEnabled()
    dialog.heatmap_method.setCurrentIndex(dialog.heatmap_method.findData("gradient"))  # cheap on brightness
    out = tmp_path / "studio" / "maps.png"
    assert export(qtbot, feature, out) == out
    spec = json.loads(sidecar_path(out).read_text())["spec"]
    assert spec["heatmap"] == {"method": "gradient", "assessor": None}
    assert pixels(out).shape[0] > dialog.preview_pixels().shape[0] + 40  # the map row the preview leaves out
    direction = spec["directions"][0]["path"]
    cli = tmp_path / "cli.png"
    args = ["strip", "--photo", str(photo), "--direction", direction, "--assessor", "brightness"]
    assert main([*args, "--alphas", *ALPHAS, "--heatmap-row", "--heatmap-method", "gradient", "-o", str(cli)]) == 0
    assert np.array_equal(pixels(out), pixels(cli))


def test_only_the_newest_preview_is_shown_when_the_engine_is_busy(qtbot, window, two_photos):
    feature, dialog = open_photo_and_dialog(qtbot, window, two_photos[0])
    shown: list[int] = []
    feature.preview_shown.connect(shown.append)
    sent = feature.previews_sent
    release = threading.Event()
    window.engine.request(OnEngine(lambda pipeline: release.wait(20)))
    start = dialog.font_size.value()
    for n in (1, 2, 3):  # three settled changes while the engine is held
        dialog.font_size.setValue(start + 2 * n)
        qtbot.waitUntil(lambda n=n: feature.previews_sent == sent + n, timeout=5_000)
    assert shown == []
    release.set()
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    qtbot.wait(300)  # a superseded preview would have arrived by now
    assert shown == [feature._serial]  # one preview shown: the newest
