"""Strips from the photo editor: panels, labels, metadata in every format, and re-rendering from metadata."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from base64 import b64decode
from io import BytesIO

import numpy as np
import pytest
from PIL import Image
from test_figures_support import MeanLuma, RedFraction, exposure_direction, make_photo, pdf_text_runs

from memstudio import __version__
from memstudio.core.checkpoints import sha256_file
from memstudio.core.directions.base import apply_directions
from memstudio.core.figures.build import figure_job, make_spec, preview, rerender_job
from memstudio.core.figures.description import read_png_metadata
from memstudio.core.figures.label import label_extent
from memstudio.core.figures.sources import FigureSources
from memstudio.core.figures.spec import FigureSpec, FigureSpecError, LabelStyle
from memstudio.core.generators.photo import PhotoEditor
from memstudio.core.imaging import load_image, pil_to_tensor, tensor_to_uint8
from memstudio.core.jobs import run_to_end

ALPHAS = [-0.2, -0.1, 0.0, 0.1, 0.2]


@pytest.fixture
def setup(tmp_path):
    photo = make_photo(tmp_path / "photo.png")
    direction, dpath = exposure_direction(tmp_path / "brighter")
    assessor = MeanLuma()
    spec = make_spec(
        "strip",
        directions=[(direction, dpath)],
        assessors=[assessor],
        seeds=[str(photo)],
        alphas=ALPHAS,
        label=LabelStyle(decimals=4),
    )
    return spec, FigureSources([direction], [assessor]), photo, direction, dpath


def _expected(photo, direction, alpha):
    editor = PhotoEditor(pil_to_tensor(load_image(photo).image))
    latent = apply_directions(editor.sample(), [(direction, alpha)])
    image = editor.render(latent)
    return tensor_to_uint8(image)[0], float(MeanLuma().score(image)[0])


def test_strip_panels_labels_and_png_metadata(setup, tmp_path):
    spec, sources, photo, direction, dpath = setup
    out = run_to_end(figure_job(spec, sources, tmp_path / "strip.png"))
    meta = read_png_metadata(out)
    sidecar = json.loads((tmp_path / "strip.png.json").read_text())
    # The sidecar also names the files written; the PNG's own copy does not (its bytes never depend on it).
    assert sidecar.pop("formats") == [{"path": str(out), "format": "png"}] and meta == sidecar
    panels = meta["panels"]
    assert [p["alpha"] for p in panels] == ALPHAS
    assert panels[len(panels) // 2]["alpha"] == 0.0  # the original is in the middle
    figure = np.asarray(Image.open(out).convert("RGB"))
    assert figure.shape[:2] == (meta["figure"]["height"], meta["figure"]["width"])
    for p in panels:
        raw, score = _expected(photo, direction, p["alpha"])
        assert p["scores"]["luma"] == pytest.approx(score, abs=1e-6)
        assert p["label"] == [f"Bright {score:.4f}"]  # the property's tag; the legend line names luma
        x, y, w, h = p["box"]
        crop = figure[y : y + h, x : x + w]
        assert crop.shape == raw.shape
        diff = np.argwhere(np.any(crop != raw, axis=2))
        assert len(diff) > 0, "the label must be drawn on the image"
        lw, lh = label_extent(p["label"], spec.label)
        assert diff[:, 0].max() < lh and diff[:, 1].max() < lw, "pixels changed outside the label box"
    # Scores rise with α for a brightening direction; the labels show it.
    scores = [p["scores"]["luma"] for p in panels]
    assert scores == sorted(scores) and scores[0] < scores[-1]


def test_metadata_names_hashes_seeds_alphas_version(setup, tmp_path):
    spec, sources, photo, direction, dpath = setup
    out = run_to_end(figure_job(spec, sources, tmp_path / "strip.png"))
    for meta in (read_png_metadata(out), json.loads((tmp_path / "strip.png.json").read_text())):
        s = meta["spec"]
        assert s["generator"]["name"] == "photo"
        assert s["photos"][0]["sha256"] == sha256_file(photo)
        assert s["seeds"] == [str(photo.resolve())]
        assert s["assessors"][0]["name"] == "luma" and "checkpoint_sha256" in s["assessors"][0]
        d = s["directions"][0]
        assert d["name"] == "brighter" and d["sha256"] == sha256_file(dpath)
        assert d["tensors_sha256"] == sha256_file(dpath.with_suffix(".safetensors"))
        assert s["alphas"] == ALPHAS and s["truncation"] == 1.0
        assert s["software"]["memstudio"] == __version__
    with Image.open(out) as im:
        assert im.text["Software"] == f"memstudio {__version__}"
        assert round(im.info["dpi"][0]) == 150


def test_rerender_from_sidecar_and_png_gives_equal_pixels(setup, tmp_path, monkeypatch):
    spec, sources, *_ = setup
    first = run_to_end(figure_job(spec, sources, tmp_path / "a.png"))
    # The spec names the test assessor; open_sources resolves assessors by name through the registry.
    import memstudio.core.figures.sources as src_mod

    monkeypatch.setattr(src_mod, "_load_assessor", lambda name, device: {"luma": MeanLuma}[name]())
    again = run_to_end(rerender_job(tmp_path / "a.png.json", tmp_path / "b.png"))
    from_png = run_to_end(rerender_job(first, tmp_path / "c.png"))
    a, b, c = (np.asarray(Image.open(p)) for p in (first, again, from_png))
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert read_png_metadata(first) == read_png_metadata(again)


def test_rerender_refuses_a_changed_direction(setup, tmp_path, monkeypatch):
    spec, sources, photo, direction, dpath = setup
    run_to_end(figure_job(spec, sources, tmp_path / "a.png"))
    import memstudio.core.figures.sources as src_mod

    monkeypatch.setattr(src_mod, "_load_assessor", lambda name, device: MeanLuma())
    direction.vector = direction.vector * 2
    direction.save(dpath)
    with pytest.raises(FigureSpecError, match="changed since the figure was made"):
        run_to_end(rerender_job(tmp_path / "a.png.json", tmp_path / "b.png"))


def test_pdf_has_vector_text_and_native_images(setup, tmp_path):
    spec, sources, *_ = setup
    out = run_to_end(figure_job(spec, sources, tmp_path / "strip.pdf"))
    data = out.read_bytes()
    labels = [p["label"][0] for p in json.loads((tmp_path / "strip.pdf.json").read_text())["panels"]]
    runs = pdf_text_runs(data)
    for label in labels:
        assert label in runs, f"label {label!r} is not PDF text"
    assert b"/FontFile2" in data and b"DejaVuSans" in data  # embedded TrueType (Type 42), not outlines
    assert data.count(b"/Subtype /Image") >= len(labels)
    assert b"/Width 96" in data and b"/Height 80" in data  # images at native resolution
    assert b"memstudio-figure" in data  # the description rides in the Info dictionary


def test_pdftotext_reads_the_labels(setup, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; the PDF text is checked byte-wise elsewhere")
    spec, sources, *_ = setup
    out = run_to_end(figure_job(spec, sources, tmp_path / "strip.pdf"))
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for p in json.loads((tmp_path / "strip.pdf.json").read_text())["panels"]:
        assert p["label"][0] in text


def test_svg_has_text_elements_and_native_images(setup, tmp_path):
    spec, sources, *_ = setup
    out = run_to_end(figure_job(spec, sources, tmp_path / "strip.svg"))
    root = ET.parse(out).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    meta = json.loads((tmp_path / "strip.svg.json").read_text())
    for p in meta["panels"]:
        assert p["label"][0] in texts
    assert "original" in texts and "α = −0.2" in texts
    images = list(root.iter(f"{ns}image"))
    assert len(images) == len(ALPHAS)
    href = images[0].get("{http://www.w3.org/1999/xlink}href") or images[0].get("href")
    embedded = Image.open(BytesIO(b64decode(href.split(",", 1)[1])))
    assert embedded.size == (96, 80)


def test_two_assessors_outline_mode_and_preview(setup, tmp_path):
    spec, sources, photo, direction, dpath = setup
    red = RedFraction()
    spec = make_spec(
        "strip",
        directions=[(direction, dpath)],
        assessors=[MeanLuma(), red],
        seeds=[str(photo)],
        label=LabelStyle(mode="outline"),
    )
    sources = FigureSources([direction], [MeanLuma(), red])
    run_to_end(figure_job(spec, sources, tmp_path / "two.png"))
    p = json.loads((tmp_path / "two.png.json").read_text())["panels"][0]
    assert p["label"] == [f"Bright {p['scores']['luma']:.3f}", f"Red {p['scores']['red']:.2f}"]
    image = preview(spec, sources)
    assert np.array_equal(np.asarray(image), np.asarray(Image.open(tmp_path / "two.png").convert("RGB")))


def test_cancel_writes_nothing(setup, tmp_path):
    spec, sources, *_ = setup
    job = figure_job(spec, sources, tmp_path / "never.png")
    next(job)
    job.close()
    assert not (tmp_path / "never.png").exists() and not (tmp_path / "never.png.json").exists()


def test_bad_inputs_name_the_problem(setup, tmp_path):
    spec, sources, *_ = setup
    with pytest.raises(FigureSpecError, match="tiff"):
        run_to_end(figure_job(spec, sources, tmp_path / "x.tiff"))
    with pytest.raises(FigureSpecError, match="unknown field"):
        FigureSpec.from_dict({**spec.to_dict(), "colour": "red"})
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(FigureSpecError, match="junk.json"):
        FigureSpec.load(tmp_path / "junk.json")
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    with pytest.raises(FigureSpecError, match="no memstudio figure description"):
        FigureSpec.load(plain)


def test_spec_round_trips_through_json(setup):
    spec = setup[0]
    again = FigureSpec.from_json(spec.to_json())
    assert again == spec and isinstance(again.label, LabelStyle)


def test_panel_size_option_resizes_images_not_scores(setup, tmp_path):
    spec, sources, *_ = setup
    spec.output.panel_px = 48
    scene_meta = run_to_end(figure_job(spec, sources, tmp_path / "small.png"))
    meta = read_png_metadata(scene_meta)
    assert meta["panels"][0]["box"][2:] == [48, 40]
    _, score = _expected(setup[2], setup[3], ALPHAS[0])
    assert meta["panels"][0]["scores"]["luma"] == pytest.approx(score, abs=1e-6)
