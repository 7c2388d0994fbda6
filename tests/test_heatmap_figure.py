"""Readable, reusable heatmaps: the colour bar's numbers, the heatmap figure (PNG/PDF/SVG + sidecar + --from),
strips with a heatmap row, and ordinary permissions on written maps. The cheap ``redness`` assessor stands in
for ResMem, on a photo with a red square, so each map takes a fraction of a second."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import numpy as np
import pdfplumber
import pytest
import torch
from PIL import Image
from test_figures_support import exposure_direction

from memstudio.cli import main
from memstudio.core.assessors.registry import load_assessor
from memstudio.core.figures.description import read_png_metadata
from memstudio.core.jobs import run_to_end
from memstudio.core.maps.regions import region_map_job
from memstudio.core.maps.scale import MapScale, nice_ticks

SCALES = ["0.5", "0.34"]


@pytest.fixture
def red_photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    pixels = rng.integers(60, 120, size=(64, 96, 3), dtype=np.uint8)
    pixels[8:30, 60:88] = (230, 20, 20)  # a red object top right
    path = tmp_path / "red.png"
    Image.fromarray(pixels).save(path)
    return path


def test_ticks_are_round_and_span_the_range():
    assert nice_ticks(0.0, 1.0, 5) == [0.0, 0.5, 1.0]
    ticks = nice_ticks(0.6123, 0.7391, 5)
    assert ticks[0] == 0.6123 and ticks[-1] == 0.7391 and 0.65 in ticks and 0.7 in ticks
    scale = MapScale("resmem memorability", 0.6123, 0.7391)
    labels = [text for _, text in scale.ticks()]
    assert labels == ["0.612", "0.650", "0.700", "0.739"]
    assert scale.value(0.5) == pytest.approx(0.6757)
    assert scale.describe(0.5) == "0.6757 (50% of the map's range)"
    assert "normalised" in MapScale("VMS predicted memorability").label()
    assert MapScale.from_dict(scale.to_dict()) == scale


def test_region_map_reports_its_raw_range_in_the_assessor_units(red_photo: Path):
    image = torch.from_numpy(np.asarray(Image.open(red_photo), np.float32) / 255).permute(2, 0, 1)[None]
    assessor = load_assessor("redness")
    seen: list[tuple[float, float]] = []
    final = run_to_end(region_map_job(image, assessor, scales=(0.5, 0.34), on_range=lambda a, b: seen.append((a, b))))
    assert len(seen) == 2  # one per scale, with each preview
    low, high = seen[-1]
    # Windows that hold the red object score higher than any other window: the range is real redness.
    whole = float(assessor.score(image)[0])
    assert low < whole < high
    assert final.min() == 0.0 and final.max() == 1.0


def figure_numbers(pdf_path: Path) -> list[float]:
    with pdfplumber.open(pdf_path) as pdf:
        page = pdf.pages[0]
        words = page.extract_words()
        # pdfplumber's size of rotated glyphs (the bar's label) is not their point size; the ticks are upright.
        sizes = {round(c["size"], 1) for c in page.chars if c["upright"]}
    assert min(sizes) >= 6.0, f"text below 6 pt: {sorted(sizes)}"
    return [float(w["text"]) for w in words if re.fullmatch(r"-?\d+\.\d+", w["text"])]


def test_heatmap_figure_has_a_numbered_colour_bar_sidecar_and_rerenders(red_photo: Path, tmp_path: Path, capsys):
    pdf, png, svg = tmp_path / "map.pdf", tmp_path / "map.png", tmp_path / "map.svg"
    data = tmp_path / "values.npy"
    args = ["heatmap", str(red_photo), "--assessor", "redness", "--scales", *SCALES, "--quiet"]
    assert main([*args, "--figure", str(pdf), "--figure", str(png), "--opacity", "0.6", "-o", str(data)]) == 0
    side = json.loads((tmp_path / "map.pdf.json").read_text())
    assert side == json.loads((tmp_path / "map.png.json").read_text()) == read_png_metadata(png)
    assert [f["format"] for f in side["formats"]] == ["pdf", "png"]
    assert side["spec"]["opacity"] == 0.6 and side["spec"]["method"] == "regions"
    low, high = side["map"]["low"], side["map"]["high"]
    assert low < high and side["map"]["normalised"] is True
    numbers = figure_numbers(pdf)
    assert len(numbers) >= 3
    # The bar's numbers are the map's raw range in redness (its ends printed as the ticks at the ends).
    assert min(numbers) == pytest.approx(low, abs=1e-3) and max(numbers) == pytest.approx(high, abs=1e-3)
    with pdfplumber.open(pdf) as doc:
        text = doc.pages[0].extract_text()
    assert "normalised" in text.replace("\n", " ") or "desilamron" in text  # the label (rotated) is there
    # The figure's picture is the overlay: the photo blended with the jet map at the chosen opacity.
    picture = np.asarray(Image.open(png).convert("RGB"))
    assert picture.shape[1] == round(3.5 * 300)  # one journal column at 300 dpi
    # The data file still holds the bare map.
    assert np.load(data).shape == (64, 96)

    assert main(["heatmap", "--from", str(pdf), "--figure", str(svg), "--quiet"]) == 0
    again = json.loads((tmp_path / "map.svg.json").read_text())
    assert again["map"] == side["map"] and again["spec"]["photo_sha256"] == side["spec"]["photo_sha256"]
    assert ">0." in svg.read_text() or "0." in svg.read_text()

    # A changed photo is refused on --from, and an input is never overwritten.
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(red_photo)
    capsys.readouterr()
    assert main(["heatmap", "--from", str(pdf), "--figure", str(tmp_path / "x.pdf"), "--quiet"]) == 2
    assert "changed since the figure was made" in capsys.readouterr().err
    assert main([*args, "--figure", str(red_photo.with_suffix(".png"))]) == 2


def test_written_maps_have_ordinary_permissions(red_photo: Path, tmp_path: Path):
    """The map, the figure and its sidecar get the mode a plain open() gives (0644 under umask 022), not
    the 0600 of a temporary file."""
    out = tmp_path / "map.png"
    args = ["heatmap", str(red_photo), "--assessor", "redness", "--scales", *SCALES, "--quiet"]
    assert main([*args, "-o", str(out)]) == 0
    assert main([*args, "--figure", str(tmp_path / "fig.pdf")]) == 0
    reference = tmp_path / "plain.txt"
    reference.write_text("written by open()")
    expected = stat.S_IMODE(reference.stat().st_mode)
    for written in (out, tmp_path / "fig.pdf", tmp_path / "fig.pdf.json"):
        assert stat.S_IMODE(written.stat().st_mode) == expected, written


def test_strip_with_a_heatmap_row(red_photo: Path, tmp_path: Path):
    _, direction = exposure_direction(tmp_path / "brighter")
    out = tmp_path / "strip.png"
    plain = tmp_path / "plain.png"
    base = ["strip", "--photo", str(red_photo), "--direction", str(direction), "--assessor", "redness"]
    assert main([*base, "--alphas", "-0.2", "0.2", "-o", str(plain)]) == 0
    assert main([*base, "--alphas", "-0.2", "0.2", "--heatmap-row", "--heatmap-method", "regions", "-o", str(out)]) == 0
    meta = read_png_metadata(out)
    assert meta["spec"]["heatmap"] == {"method": "regions", "assessor": None}
    with_row, without = Image.open(out), Image.open(plain)
    assert with_row.height > without.height + 60  # a second row of maps (and its "map" caption column)
    # The second row is each α's image under its map: jet colours (strong blue or red) that the photo lacks.
    x, y, w, h = meta["panels"][0]["box"]
    row2 = np.asarray(with_row.convert("RGB"))[y + h + 4 :, x : x + w].astype(int)
    assert (np.abs(row2[..., 2] - row2[..., 1]) > 60).mean() > 0.05
    again = tmp_path / "again.png"
    assert main(["strip", "--from", str(out), "-o", str(again)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))
