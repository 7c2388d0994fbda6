"""Score-vs-α plots (000 Fig. 3A/3B) from a direction's evidence and from computed scores."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image
from test_figures_support import MeanLuma, RedFraction, exposure_direction, make_photo

from memstudio.cli import main
from memstudio.core.directions.base import Direction
from memstudio.core.figures import plots
from memstudio.core.figures.build import make_spec
from memstudio.core.figures.sources import FigureSources
from memstudio.core.figures.spec import FigureSpec, FigureSpecError
from memstudio.core.jobs import run_to_end

ALPHAS = [-0.2, -0.1, 0.0, 0.1, 0.2]


def _evidence(rng):
    scores = [list(0.6 + a + rng.normal(0, 0.05, 12)) for a in ALPHAS]
    bright = [list(0.4 + 0.5 * a + rng.normal(0, 0.02, 12)) for a in ALPHAS]
    return {"alphas": ALPHAS, "assessor": "resmem", "scores": scores, "factors": {"brightness": bright}}


def test_curve_from_evidence_scores_matches_numpy():
    rng = np.random.default_rng(0)
    evidence = _evidence(rng)
    score, factors = plots.curves_from_evidence(evidence, "sem")
    for i, values in enumerate(evidence["scores"]):
        arr = np.asarray(values)
        assert score.mean[i] == pytest.approx(arr.mean())
        assert score.err[i] == pytest.approx(arr.std(ddof=1) / math.sqrt(arr.size))
    assert score.label == "resmem" and list(factors) == ["brightness"]
    ci, _ = plots.curves_from_evidence(evidence, "ci95")
    assert ci.err[0] == pytest.approx(1.96 * score.err[0])


def test_summary_evidence_forms():
    summary = {"alphas": ALPHAS, "mean": [0.5, 0.55, 0.6, 0.65, 0.7], "std": [0.1] * 5, "n": 25}
    curve, _ = plots.curves_from_evidence(summary, "sem")
    assert curve.err == pytest.approx([0.02] * 5)
    rows = {"per_alpha": [{"alpha": a, "mean": 0.6 + a, "sem": 0.01, "n": 4} for a in reversed(ALPHAS)]}
    curve, _ = plots.curves_from_evidence(rows, "std")
    assert curve.alphas == ALPHAS and curve.err == pytest.approx([0.02] * 5)
    with pytest.raises(FigureSpecError, match="no α values"):
        plots.curves_from_evidence({"mean": [1.0]})


def test_plot_files_and_error_bars_match_inputs(tmp_path):
    rng = np.random.default_rng(1)
    evidence = _evidence(rng)
    score, factors = plots.curves_from_evidence(evidence)
    fig = plots.score_figure(score)
    container = fig.axes[0].containers[0]
    line, _caps, (bars,) = container
    assert np.allclose(line.get_xdata(), ALPHAS) and np.allclose(line.get_ydata(), score.mean)
    segments = bars.get_segments()
    assert np.allclose([s[1][1] - s[0][1] for s in segments], 2 * np.asarray(score.err))
    spec = FigureSpec(kind="plot", alphas=ALPHAS)
    data = {"score": plots.plot_data({"s": score})["s"]}
    for suffix in ("png", "pdf", "svg"):
        out = plots.save_plot(fig, tmp_path / f"curve.{suffix}", spec, data)
        assert out.stat().st_size > 1000
    side = json.loads((tmp_path / "curve.svg.json").read_text())
    assert side["data"]["score"]["mean"] == pytest.approx(score.mean)
    assert side["data"]["score"]["err"] == pytest.approx(score.err)
    svg_text = [
        t.text for t in ET.parse(tmp_path / "curve.svg").getroot().iter("{http://www.w3.org/2000/svg}text")
    ]
    assert "α" in svg_text  # axis labels stay text

    normalized = {n: plots.normalized_factor(c, evidence["factors"][n]) for n, c in factors.items()}
    flat = np.concatenate(evidence["factors"]["brightness"])
    z0 = (np.asarray(evidence["factors"]["brightness"][0]) - flat.mean()) / flat.std(ddof=1)
    assert normalized["brightness"].mean[0] == pytest.approx(z0.mean())
    plots.save_plot(plots.factors_figure(normalized), tmp_path / "factors.png", spec, {})


def test_scores_computed_from_a_photo_direction(tmp_path):
    photo = make_photo(tmp_path / "p.png", size=(40, 32))
    photo2 = make_photo(tmp_path / "q.png", size=(40, 32), seed=3)
    direction, dpath = exposure_direction(tmp_path / "d")
    spec = make_spec(
        "plot",
        directions=[(direction, dpath)],
        assessors=[MeanLuma(), RedFraction()],
        seeds=[str(photo), str(photo2)],
    )
    sources = FigureSources([direction], [MeanLuma(), RedFraction()])
    scores = run_to_end(plots.collect_scores_job(spec, sources))
    assert set(scores) == {"luma", "red"} and all(len(col) == 2 for col in scores["luma"])
    curve = plots.curve_from_scores("luma", spec.alphas, scores["luma"])
    assert curve.mean == sorted(curve.mean)  # brighter with α, as the direction says


def _point_sizes(pdf_path) -> tuple[float, list[float]]:
    """Page width and every glyph's point size. pdfplumber's ``size`` of a glyph turned 90° (the y label)
    is its advance; its extent across the line is the point size."""
    pdfplumber = pytest.importorskip("pdfplumber", reason="the PDF size check needs pdfplumber (test extra)")
    with pdfplumber.open(pdf_path) as pdf:
        (page,) = pdf.pages
        sizes = [c["size"] if c["upright"] else c["x1"] - c["x0"] for c in page.chars]
        return float(page.width), sizes


def test_plot_at_single_column_is_3_5_in_wide_in_points_and_names_every_format(tmp_path, capsys):
    d = Direction(name="memo", property="memorability", space="edit", vector=torch.zeros(10))
    rng = np.random.default_rng(3)
    d.evidence = _evidence(rng)
    d.evidence["factors"]["redness"] = [list(0.2 + 0.1 * a + rng.normal(0, 0.02, 12)) for a in ALPHAS]
    path = d.save(tmp_path / "memo")
    pdf, png, fpdf = tmp_path / "curve.pdf", tmp_path / "curve.png", tmp_path / "factors.pdf"
    args = ["plot", str(path), "--width", "single", "--title", "Memorability", "-o", str(pdf), "-o", str(png)]
    assert main([*args, "--factors-output", str(fpdf)]) == 0
    for figure in (pdf, fpdf):
        width, sizes = _point_sizes(figure)
        assert width == pytest.approx(3.5 * 72, abs=0.01)
        # Ticks, axis labels and the legend at the 7-pt default, the title 15 % larger; nothing under 6 pt.
        assert min(sizes) >= 6.0 - 1e-3 and {round(s, 2) for s in sizes} == {7.0, 8.05}
    with Image.open(png) as im:
        assert im.width == 1050 and round(im.info["dpi"][0]) == 300  # the PNG: 3.5 in at 300 dpi
    # The PNG and the PDF each have their own sidecar, and each names both files.
    pdf_side, png_side = (json.loads((tmp_path / f"curve.{s}.json").read_text()) for s in ("pdf", "png"))
    assert pdf_side["formats"] == png_side["formats"] == [
        {"path": str(pdf), "format": "pdf"},
        {"path": str(png), "format": "png"},
    ]
    assert pdf_side["spec"]["output"]["width_in"] == 3.5 and pdf_side["spec"]["output"]["font_pt"] == 7.0
    factors_side = json.loads((tmp_path / "factors.pdf.json").read_text())
    assert factors_side["formats"] == [{"path": str(fpdf), "format": "pdf"}] and "factors" in factors_side["data"]
    # Drawn again from its sidecar, the plot keeps its physical size; a width in cm and 8 pt text too.
    again = tmp_path / "again.pdf"
    assert main(["strip", "--from", str(tmp_path / "curve.pdf.json"), "-o", str(again)]) == 0
    assert _point_sizes(again) == _point_sizes(pdf)
    wide = tmp_path / "wide.pdf"
    assert main(["plot", str(path), "--width", "18.2cm", "--font-pt", "8", "-o", str(wide)]) == 0
    width, sizes = _point_sizes(wide)
    assert width == pytest.approx(18.2 / 2.54 * 72, abs=0.01) and min(sizes) == pytest.approx(8.0, abs=1e-3)


def test_plot_without_a_width_keeps_its_former_size(tmp_path):
    score, _ = plots.curves_from_evidence(_evidence(np.random.default_rng(2)))
    spec = FigureSpec(kind="plot", alphas=ALPHAS)
    out = plots.save_plot(plots.score_figure(score, output=spec.output), tmp_path / "c.pdf", spec, {})
    width, sizes = _point_sizes(out)
    assert width == pytest.approx(4.0 * 72) and max(sizes) == pytest.approx(10.0, abs=1e-3)
    with pytest.raises(FigureSpecError, match="not among the files"):
        plots.save_plot(plots.score_figure(score), tmp_path / "d.pdf", spec, {}, [tmp_path / "e.png"])
