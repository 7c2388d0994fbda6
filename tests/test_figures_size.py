"""Figures at a physical width (issue 18 §1): a strip at the single-column preset reads at ≥ 6 pt in its PDF,
no caption overlaps an image, every score label stays inside its own image, and the images keep their native
pixels; a grid at the double-column preset likewise; widths parse with units and presets."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from test_figures_support import MeanLuma, RedFraction, exposure_direction, make_photo

from memstudio.cli import main
from memstudio.core.directions.base import Direction
from memstudio.core.faces.ovalize import Ovalized
from memstudio.core.figures.build import figure_job, make_spec
from memstudio.core.figures.label import label_lines, text_size, wrap_text
from memstudio.core.figures.legend import score_tags
from memstudio.core.figures.size import WIDTH_PRESETS, parse_width
from memstudio.core.figures.sources import FigureSources
from memstudio.core.figures.spec import FigureSpec, FigureSpecError, LabelStyle, OutputOptions
from memstudio.core.jobs import run_to_end

pdfplumber = pytest.importorskip("pdfplumber", reason="the PDF layout check needs pdfplumber (test extra)")

NATIVE = (256, 192)


@pytest.fixture
def inputs(tmp_path):
    photos = [make_photo(tmp_path / f"photo{i}.png", size=NATIVE, seed=i) for i in range(2)]
    _, dpath = exposure_direction(tmp_path / "brighter")
    return photos, dpath


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] - 0.01 and b[0] < a[2] - 0.01 and a[1] < b[3] - 0.01 and b[1] < a[3] - 0.01


def _inside(a: tuple[float, ...], b: tuple[float, ...], tol: float = 0.05) -> bool:
    return a[0] >= b[0] - tol and a[1] >= b[1] - tol and a[2] <= b[2] + tol and a[3] <= b[3] + tol


def _layout(pdf_path):
    with pdfplumber.open(pdf_path) as pdf:
        (page,) = pdf.pages
        images = [((im["x0"], im["top"], im["x1"], im["bottom"]), im["srcsize"]) for im in page.images]
        words = [
            (w["text"], (w["x0"], w["top"], w["x1"], w["bottom"]))
            for w in page.extract_words(keep_blank_chars=False, use_text_flow=True)
        ]
        sizes = [c["size"] for c in page.chars]
        frames = [r["linewidth"] for r in page.rects if r["stroke"]]
        return page.width, images, words, sizes, frames


def _check_readable(pdf_path, sidecar, labels_per_image: list[list[str]]):
    """Every glyph ≥ 6 pt; no word on another or off the page; captions off the images; each label word
    inside its own image. Returns the page."""
    width, images, words, sizes, frames = _layout(pdf_path)
    assert sizes and min(sizes) >= 6.0 - 1e-3, f"text below 6 pt: {sorted(sizes)[:3]}"
    with pdfplumber.open(pdf_path) as pdf:
        page = (0.0, 0.0, pdf.pages[0].width, pdf.pages[0].height)
    for i, (text, box) in enumerate(words):
        assert _inside(box, page), f"{text!r} runs off the page"
        for other, other_box in words[i + 1 :]:
            assert not _overlap(box, other_box), f"{text!r} overlaps {other!r}"
    assert all(src == NATIVE for _, src in images), "the PDF keeps each image's native pixels"
    boxes = [box for box, _ in images]
    label_words = [set(" ".join(lines).split()) for lines in labels_per_image]
    for text, box in words:
        hit = [i for i, b in enumerate(boxes) if _overlap(box, b)]
        if not hit:
            continue
        (i,) = hit  # a word on an image touches that image only...
        assert text in label_words[i] and _inside(box, boxes[i]), f"{text!r} spills over image {i}"
    captions = [text for text, box in words if not any(_overlap(box, b) for b in boxes)]
    return width, boxes, captions, frames


def test_strip_at_single_column_reads_at_6pt_and_keeps_native_pixels(inputs, tmp_path, capsys):
    photos, dpath = inputs
    pdf, png = tmp_path / "s.pdf", tmp_path / "s.png"
    args = ["strip", "--photo", str(photos[0]), "--direction", str(dpath), "--assessor", "brightness"]
    style = ["--width", "single", "--caption", "auto", "--title", "Brighter", "--label-names"]
    assert main([*args, *style, "-o", str(pdf), "-o", str(png)]) == 0
    meta = json.loads((tmp_path / "s.pdf.json").read_text())
    out = meta["spec"]["output"]
    assert (out["width_in"], out["font_pt"], out["dpi"]) == (3.5, 7.0, 300.0)
    assert out["caption"] == "edit: brightness (manual) · scores: brightness"
    labels = [p["label"] for p in meta["panels"]]
    # 48-pt panels cannot hold "brightness 0.345" at 6 pt: the name goes above its score.
    assert all(len(lines) == 2 and lines[0] == "brightness" for lines in labels)
    width, boxes, captions, frames = _check_readable(pdf, meta, labels)
    assert width == pytest.approx(3.5 * 72, abs=0.01) and len(boxes) == 5
    assert {"Brighter", "original", "scores:", "(manual)"} <= set(captions)
    assert frames and all(abs(f - 1.0) <= 0.05 for f in frames)  # the original's frame: 1 pt
    # The PNG is the same layout rasterised at 300 dpi: 3.5 in = 1050 px.
    with Image.open(png) as im:
        assert im.width == 1050 and round(im.info["dpi"][0]) == 300
    # The sidecar reproduces the physical layout.
    again = tmp_path / "again.pdf"
    assert main(["strip", "--from", str(tmp_path / "s.pdf.json"), "-o", str(again)]) == 0
    assert _layout(again)[0] == pytest.approx(width) and _layout(again)[2] == _layout(pdf)[2]


def test_grid_at_double_column_keeps_row_labels_off_the_images(inputs, tmp_path):
    photos, dpath = inputs
    pdf = tmp_path / "g.pdf"
    args = ["grid", "--photo", *map(str, photos), "--direction", str(dpath), "--assessor", "brightness"]
    alphas = ["--alphas", "-0.3", "-0.2", "-0.1", "0.1", "0.2", "0.3"]
    assert main([*args, *alphas, "--width", "18.2cm", "--font-pt", "8", "-o", str(pdf)]) == 0
    meta = json.loads((tmp_path / "g.pdf.json").read_text())
    width, boxes, captions, _ = _check_readable(pdf, meta, [p["label"] for p in meta["panels"]])
    # Within half a 300-dpi pixel: the layout is whole pixels at the raster resolution.
    assert width == pytest.approx(18.2 / 2.54 * 72, abs=36 / 300) and len(boxes) == 14
    assert {"photo0.png", "photo1.png", "original"} <= set(captions)
    with pdfplumber.open(pdf) as doc:
        assert min(c["size"] for c in doc.pages[0].chars) == pytest.approx(8.0, abs=1e-3)


def test_widths_parse_with_units_and_presets_and_refuse_the_rest():
    assert parse_width("single") == WIDTH_PRESETS["single"] == 3.5
    assert (parse_width("Double"), parse_width("slide")) == (7.16, 13.33)
    assert parse_width("89mm") == pytest.approx(3.504, abs=1e-3)
    assert parse_width("8.9 cm") == pytest.approx(3.504, abs=1e-3) and parse_width("252pt") == 3.5
    for bad, reason in (("3.5", "with a unit"), ("wide", "with a unit"), ("0.1in", "0.5–100 in")):
        with pytest.raises(FigureSpecError, match=reason):
            parse_width(bad)
    with pytest.raises(FigureSpecError, match="not both"):
        FigureSpec(output=OutputOptions(width_in=3.5, panel_px=64))
    with pytest.raises(FigureSpecError, match="≥ 4 pt"):
        FigureSpec(output=OutputOptions(width_in=3.5, font_pt=2))


def test_too_narrow_a_width_is_refused_with_the_numbers(inputs, tmp_path, capsys):
    photos, dpath = inputs
    args = ["strip", "--photo", str(photos[0]), "--direction", str(dpath), "--assessor", "brightness"]
    assert main([*args, "--width", "0.6in", "--dpi", "72", "-o", str(tmp_path / "s.pdf")]) == 2
    assert "leaves" in capsys.readouterr().err and not (tmp_path / "s.pdf").exists()


class LongNamedMemorability(MeanLuma):
    """An assessor trained from a lab's own ratings, named as such labs name them (issue 18: long names)."""

    name = "lab-memorability-from-our-own-ratings-2026"
    property = "memorability"


def _assessor_sets():
    return {
        "two": [MeanLuma(), RedFraction()],
        "long+oval": [LongNamedMemorability(), Ovalized(RedFraction(), geometry="aligned")],
    }


@pytest.mark.parametrize("preset", ["single", "double"])
@pytest.mark.parametrize("which", ["two", "long+oval"])
def test_strip_labels_name_assessor_and_property_and_stay_readable(inputs, tmp_path, preset, which):
    """Each score carries its property's tag (ovalized ones a dagger), the legend line names every tag's
    assessor and property, and nothing is below 6 pt, overlaps other text, or leaves its image or page."""
    photos, dpath = inputs
    direction = Direction.load(dpath)
    assessors = _assessor_sets()[which]
    spec = make_spec(
        "strip",
        directions=[(direction, dpath)],
        assessors=assessors,
        seeds=[str(photos[0])],
        output=OutputOptions(width_in=parse_width(preset), dpi=300.0, caption="auto", title="Brighter"),
    )
    pdf = run_to_end(figure_job(spec, FigureSources([direction], assessors), tmp_path / "s.pdf"))
    meta = json.loads((tmp_path / "s.pdf.json").read_text())
    names = [a.name for a in assessors]
    tags = {"two": ["Bright", "Red"], "long+oval": ["Mem", "Red†"]}[which]
    for panel in meta["panels"]:
        scores = panel["scores"]
        assert panel["label"] == [
            f"{tag} {scores[name]:.{a.decimals}f}" for tag, name, a in zip(tags, names, assessors, strict=True)
        ]
    width, boxes, captions, _ = _check_readable(pdf, meta, [p["label"] for p in meta["panels"]])
    assert width == pytest.approx(parse_width(preset) * 72, abs=36 / 300) and len(boxes) == 5
    legend = " ".join(captions)
    if which == "two":
        assert "Bright: luma (brightness) · Red: red (redness)" in legend
    else:
        # The long name stays whole (the legend wraps between entries instead) and the dagger is explained.
        assert f"Mem: {LongNamedMemorability.name} (memorability)" in legend
        assert "Red†: red (redness)" in legend and "† scored on the face oval (ovalized)" in legend
    assert "scores:" not in legend  # the legend names the assessors; the caption does not repeat them
    with pdfplumber.open(pdf) as doc:
        lines = {round(w["top"]) for w in doc.pages[0].extract_words() if w["bottom"] < boxes[0][1]}
    # Single column: title, caption, the legend (two lines with the long name) and the α labels.
    assert len(lines) == {("single", "two"): 4, ("single", "long+oval"): 5}.get((preset, which), 4)


def test_grid_at_single_column_with_two_assessors_keeps_every_label_in_its_image(inputs, tmp_path):
    photos, dpath = inputs
    direction = Direction.load(dpath)
    assessors = _assessor_sets()["long+oval"]
    spec = make_spec(
        "grid",
        directions=[(direction, dpath)],
        assessors=assessors,
        seeds=[str(p) for p in photos],
        output=OutputOptions(width_in=3.5, dpi=300.0, caption="auto"),
    )
    pdf = run_to_end(figure_job(spec, FigureSources([direction], assessors), tmp_path / "g.pdf"))
    meta = json.loads((tmp_path / "g.pdf.json").read_text())
    assert all(len(p["label"]) == 2 and p["label"][1].startswith("Red† ") for p in meta["panels"])
    _, boxes, captions, _ = _check_readable(pdf, meta, [p["label"] for p in meta["panels"]])
    assert len(boxes) == 10 and {"photo0.png", "photo1.png", "Mem:"} <= set(captions)


def test_too_many_score_lines_for_the_image_height_are_refused_not_clipped(inputs, tmp_path):
    photos, dpath = inputs
    direction = Direction.load(dpath)
    many = [type(f"A{i}", (MeanLuma,), {"name": f"a{i}", "property": f"p{i}"})() for i in range(8)]
    spec = make_spec(
        "strip",
        directions=[(direction, dpath)],
        assessors=many,
        seeds=[str(photos[0])],
        output=OutputOptions(width_in=3.5, dpi=300.0),
    )
    with pytest.raises(FigureSpecError, match="8 score lines do not fit"):
        run_to_end(figure_job(spec, FigureSources([direction], many), tmp_path / "s.pdf"))
    assert not (tmp_path / "s.pdf").exists()


def test_tags_are_unique_and_wrapped_text_keeps_every_character():
    entries = [
        {"name": "resmem", "property": "memorability"},
        {"name": "memnet", "property": "memorability"},
        {"name": "resmem+oval", "property": "memorability", "ovalized": "detect"},
        {"name": "valence", "property": "valence", "score_range": [-1.0, 1.0]},
        {"name": "mine", "property": "interestingness"},
    ]
    assert score_tags(entries) == {
        "resmem": "Mem1",
        "memnet": "Mem2",
        "resmem+oval": "Mem†",
        "valence": "Val",
        "mine": "Intere",
    }
    style = LabelStyle()
    lines = label_lines({"valence": 0.82, "resmem+oval": 0.7744}, entries, style)
    assert lines == ["Val +0.820", "Mem† 0.774"]  # a signed scale prints its sign
    assert label_lines({"valence": 0.82}, entries, LabelStyle(show_names=False)) == ["0.820"]
    text = "Mem: " + "x" * 100 + " (memorability) · Val: valence (valence)"
    wrapped = wrap_text(text, 25.0, 600.0)
    assert len(wrapped) >= 3 and all(text_size(line, 25.0)[0] <= 600 for line in wrapped)
    assert "".join(wrapped).replace(" ", "").replace("·", "") == text.replace(" ", "").replace("·", "")
    # A description written before tags existed keeps its bare numbers when drawn again.
    old = FigureSpec.from_dict({"kind": "strip", "label": {"decimals": 2}})
    assert old.label.tags is False and label_lines({"resmem": 0.5}, entries, old.label) == ["0.50"]
