"""`memstudio strip | grid | plot` end to end: a real photo, a tiny stored StyleGAN2, real assessors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_figures_support import exposure_direction, make_photo, tiny_stylegan2

from memstudio.cli import main
from memstudio.core.assessors.registry import load_assessor
from memstudio.core.directions.base import Direction
from memstudio.core.figures.description import read_png_metadata, sidecar_path


@pytest.fixture
def photo_inputs(tmp_path):
    photo = make_photo(tmp_path / "photo.png", size=(64, 48))
    _, dpath = exposure_direction(tmp_path / "brighter")
    return photo, dpath


@pytest.fixture
def stored_gan(tmp_path, monkeypatch):
    from memstudio.core.generators.store import save_model

    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    g = tiny_stylegan2()
    save_model(g, "tiny-sg2", source_file=Path("tiny-made-by-test"), source_sha256="0" * 64)
    torch.manual_seed(5)
    d = Direction(name="memo", property="memorability", space="w", vector=torch.randn(g.w_dim))
    return "tiny-sg2", d.save(tmp_path / "memo")


def test_strip_cli_labels_formats_and_from(photo_inputs, tmp_path, capsys):
    photo, dpath = photo_inputs
    out_png, out_pdf = tmp_path / "s.png", tmp_path / "s.pdf"
    args = ["strip", "--photo", str(photo), "--direction", str(dpath), "--assessor", "brightness"]
    rc = main([*args, "--decimals", "2", "--label-mode", "outline", "-o", str(out_png), "-o", str(out_pdf)])
    assert rc == 0 and out_png.is_file() and out_pdf.is_file()
    meta = read_png_metadata(out_png)
    png_side, pdf_side = (json.loads((tmp_path / f"s.{s}.json").read_text()) for s in ("png", "pdf"))
    # Each format has its own sidecar (exporting the PDF did not overwrite the PNG's), naming both files.
    both = [{"path": str(out_png), "format": "png"}, {"path": str(out_pdf), "format": "pdf"}]
    assert png_side.pop("formats") == pdf_side.pop("formats") == both
    assert meta == png_side and pdf_side["spec"] == meta["spec"]
    for p in meta["panels"]:
        assert p["label"] == [f"Bright {p['scores']['brightness']:.2f}"]
    x, y, w, h = meta["panels"][2]["box"]
    original = np.asarray(Image.open(out_png).convert("RGB"))[y : y + h, x : x + w].astype(np.float32) / 255
    untouched = torch.from_numpy(original[32:, :]).permute(2, 0, 1)[None]  # below the label
    photo_px = torch.from_numpy(np.asarray(Image.open(photo), np.float32)[32:, :] / 255).permute(2, 0, 1)[
        None
    ]
    # The middle panel is the unedited photo (the editor's zero edit, up to float rounding of one level).
    assert (untouched - photo_px).abs().max().item() <= 1 / 255 + 1e-6
    score = load_assessor("brightness").score(
        torch.from_numpy(np.asarray(Image.open(photo), np.float32) / 255).permute(2, 0, 1)[None]
    )
    assert meta["panels"][2]["scores"]["brightness"] == pytest.approx(score.item(), abs=2e-3)

    again = tmp_path / "again.png"
    assert main(["strip", "--from", str(tmp_path / "s.png.json"), "-o", str(again)]) == 0
    assert np.array_equal(np.asarray(Image.open(out_png)), np.asarray(Image.open(again)))


def test_strip_cli_batch_out_dir(photo_inputs, tmp_path):
    photo, dpath = photo_inputs
    second = make_photo(tmp_path / "second.png", size=(64, 48), seed=4)
    rc = main(
        ["strip", "--photo", str(photo), str(second), "--direction", str(dpath), "--assessor", "brightness"]
        + ["--out-dir", str(tmp_path / "batch"), "--format", "png"]
    )
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "batch").iterdir()) == [
        "000_photo.png",
        "000_photo.png.json",
        "001_second.png",
        "001_second.png.json",
    ]


def test_grid_and_layer_grid_cli(stored_gan, tmp_path):
    name, dpath = stored_gan
    base = [
        "--generator",
        name,
        "--direction",
        str(dpath),
        "--assessor",
        "brightness",
        "--alphas",
        "-1",
        "0",
        "1",
    ]
    grid = tmp_path / "grid.png"
    assert main(["grid", *base, "--seeds", "1-3", "--trunc", "0.8", "-o", str(grid)]) == 0
    meta = read_png_metadata(grid)
    assert meta["spec"]["seeds"] == [1, 2, 3] and meta["spec"]["truncation"] == 0.8
    assert meta["spec"]["generator"]["checkpoint_sha256"]
    assert len(meta["panels"]) == 9
    again = tmp_path / "grid2.png"
    assert main(["grid", "--from", str(sidecar_path(grid)), "-o", str(again)]) == 0
    assert np.array_equal(np.asarray(Image.open(grid)), np.asarray(Image.open(again)))

    streamed = tmp_path / "streamed.png"
    assert main(["grid", *base, "--seeds", "1-3", "--trunc", "0.8", "--stream", "-o", str(streamed)]) == 0
    assert np.array_equal(np.asarray(Image.open(grid)), np.asarray(Image.open(streamed)))

    layers = tmp_path / "layers.svg"
    assert main(["grid", *base, "--seeds", "4", "--layers", "1", "4", "-o", str(layers)]) == 0
    spec = json.loads(sidecar_path(layers).read_text())["spec"]
    assert spec["kind"] == "layer_grid" and spec["layers"] == [1, 4]
    assert "layer 4" in layers.read_text()


def test_plot_cli_from_evidence(tmp_path):
    alphas = [-0.2, -0.1, 0.0, 0.1, 0.2]
    d = Direction(name="memo", property="memorability", space="edit", vector=torch.zeros(10))
    d.evidence = {
        "alphas": alphas,
        "mean": [0.55, 0.6, 0.65, 0.7, 0.75],
        "std": [0.1] * 5,
        "n": 100,
        "factors": {"brightness": {"mean": [0.3, 0.35, 0.4, 0.45, 0.5], "std": [0.05] * 5, "n": 100}},
    }
    path = d.save(tmp_path / "memo")
    out, factors = tmp_path / "curve.pdf", tmp_path / "factors.svg"
    assert main(["plot", str(path), "-o", str(out), "--factors-output", str(factors), "--error", "std"]) == 0
    data = json.loads(sidecar_path(out).read_text())["data"]["score"]
    assert data["mean"] == pytest.approx(d.evidence["mean"]) and data["err"] == pytest.approx([0.1] * 5)
    fdata = json.loads(sidecar_path(factors).read_text())["data"]["factors"]["brightness"]
    assert fdata["mean"] == pytest.approx([-2.0, -1.0, 0.0, 1.0, 2.0])  # (m − grand mean) / pooled std
    assert out.read_bytes().startswith(b"%PDF") and "<text" in factors.read_text()


def test_cli_errors_are_explained(photo_inputs, tmp_path, capsys):
    photo, dpath = photo_inputs
    assert main(["strip", "--photo", str(photo), "--direction", str(dpath), "--assessor", "brightness"]) == 2
    assert "output file" in capsys.readouterr().err
    assert main(["grid", "--generator", "x", "--direction", str(dpath), "--seeds", "5-1", "-o", "g.png"]) == 2
    assert main(["strip", "--from", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o.png")]) == 2
    assert "missing.json" in capsys.readouterr().err
