"""Score-vs-α plots: the mean assessor score per α with error bars (000 Fig. 3A) and image factors (Fig. 3B).

Data comes from a direction's ``evidence`` dict or from scores computed here. Accepted evidence shapes (all
optional keys beside ``alphas``): per-image scores ``{"alphas": [...], "scores": [[...], ...]}``, summaries
``{"alphas": [...], "mean": [...], "std"|"sem"|"ci95": [...], "n": ...}`` (``mean_score``/``score_mean``,
``std_score``/``score_std`` also read), rows ``{"per_alpha": [{"alpha", "mean", "std", "n"}, ...]}``, a
nested ``{"score": {...}}``, and ``{"factors": {name: scores-or-summary}}`` sharing the alphas.

At a physical width (``output.width_in``, as strips and grids take it) a plot is drawn at that width with its
text in ``output.font_pt`` points and its curves ``output.line_pt`` wide, so it needs no scaling in a column;
without one it keeps matplotlib's own size (4 × 3.2 in, 10-pt text).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memstudio.core.atomic import write_with
from memstudio.core.figures.export import check_outputs, output_format, write_sidecar
from memstudio.core.figures.label import FONT_FAMILY
from memstudio.core.figures.spec import FigureSpec, FigureSpecError, OutputOptions

ERRORS = ("sem", "std", "ci95")
#: Plots are built and saved under these settings: text stays text, and a user's matplotlibrc cannot swap
#: the font for a system one.
PLOT_RC = {
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "svg.hashsalt": "memstudio",
    "font.family": "sans-serif",
    "font.sans-serif": [FONT_FAMILY],
    # The page is the figure's size, whatever a user's matplotlibrc says (a physical width must hold).
    "savefig.bbox": "standard",
}
#: Height over width of a plot at a physical width (matplotlib's 4 × 3.2 in), capped at a slide's height.
PLOT_ASPECT, MAX_HEIGHT_IN = 0.8, 7.5


def plot_rc(output: OutputOptions | None) -> dict[str, Any]:
    """The settings a plot is built and saved under: at a physical width every text in ``font_pt`` points
    (the title 15 % larger) and lines from ``line_pt``; matplotlib's own sizes otherwise."""
    if output is None or output.width_in is None:
        return dict(PLOT_RC)
    font, line = output.font_pt, output.line_pt
    sizes = {
        key: font
        for key in ("font.size", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize")
    }
    widths = {key: 0.6 * line for key in ("axes.linewidth", "xtick.major.width", "ytick.major.width")}
    return {
        **PLOT_RC,
        **sizes,
        **widths,
        "axes.titlesize": 1.15 * font,
        "lines.linewidth": line,
        "lines.markersize": 0.6 * font,
        "grid.linewidth": 0.5 * line,
        "xtick.major.size": 0.4 * font,
        "ytick.major.size": 0.4 * font,
    }


def plot_size(output: OutputOptions | None, legacy: tuple[float, float]) -> tuple[float, float]:
    """Width and height in inches: the physical width (and its height by :data:`PLOT_ASPECT`), or
    ``legacy`` — the size plots had before they took a width, which their descriptions still draw at."""
    if output is None or output.width_in is None:
        return legacy
    return output.width_in, min(PLOT_ASPECT * output.width_in, MAX_HEIGHT_IN)


@dataclass
class Curve:
    """Mean and error bar per α; ``err`` is in the unit named by ``error`` (sem, std or ci95)."""

    label: str
    alphas: list[float]
    mean: list[float]
    err: list[float]
    n: list[int]
    error: str = "sem"


def curve_from_scores(
    label: str, alphas: Sequence[float], scores: Sequence[Sequence[float]], error: str = "sem"
) -> Curve:
    """Per-image scores per α → mean ± error (sample std with ddof 1, as a mixed-effects table would use)."""
    _check_error(error)
    if len(scores) != len(alphas):
        raise FigureSpecError(f"{label}: {len(scores)} score lists for {len(alphas)} α values")
    mean, err, n = [], [], []
    for values in scores:
        arr = np.asarray(values, dtype=np.float64)
        if arr.size == 0:
            raise FigureSpecError(f"{label}: an α condition has no scores")
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        mean.append(float(arr.mean()))
        err.append(_convert(std, arr.size, "std", error))
        n.append(int(arr.size))
    return Curve(label, [float(a) for a in alphas], mean, err, n, error)


def curve_from_summary(
    label: str, alphas: Sequence[float], summary: Mapping[str, Any], error: str = "sem"
) -> Curve:
    """Means with one of std/sem/ci95 (and n, needed to convert between them)."""
    _check_error(error)
    mean = _first(summary, ("mean", "mean_score", "score_mean"))
    if mean is None:
        raise FigureSpecError(f"{label}: the evidence has neither per-image scores nor means")
    count = len(mean)
    n_raw = summary.get("n", summary.get("count", 0))
    n = [int(v) for v in n_raw] if isinstance(n_raw, Sequence) else [int(n_raw)] * count
    err = [0.0] * count
    for kind, keys in (("std", ("std", "std_score", "score_std")), ("sem", ("sem",)), ("ci95", ("ci95",))):
        given = _first(summary, keys)
        if given is not None:
            err = [_convert(float(e), k, kind, error) for e, k in zip(given, n, strict=True)]
            break
    if len(alphas) != count:
        raise FigureSpecError(f"{label}: {count} means for {len(alphas)} α values")
    return Curve(label, [float(a) for a in alphas], [float(m) for m in mean], err, n, error)


def curves_from_evidence(evidence: Mapping[str, Any], error: str = "sem") -> tuple[Curve, dict[str, Curve]]:
    """The score curve and the factor curves a direction's evidence holds."""
    if "per_alpha" in evidence:
        rows = sorted(evidence["per_alpha"], key=lambda r: float(r["alpha"]))
        columns = {k: [r.get(k) for r in rows] for k in rows[0]} if rows else {}
        evidence = {**evidence, **{k: v for k, v in columns.items() if None not in v}}
        evidence["alphas"] = columns.get("alpha", [])
    alphas = evidence.get("alphas") or evidence.get("alpha")
    if not alphas:
        raise FigureSpecError("the direction's evidence has no α values to plot")
    score_part = evidence.get("score", evidence)
    label = str(evidence.get("assessor", evidence.get("property", "score")))
    score = _curve(label, alphas, score_part, error)
    factors = {
        name: _curve(name, alphas, part, error) for name, part in dict(evidence.get("factors", {})).items()
    }
    return score, factors


def normalized_factor(curve: Curve, scores: Sequence[Sequence[float]] | None = None) -> Curve:
    """Factor scores z-scored over all images and α, then averaged per α (000 Fig. 3B's normalisation)."""
    if scores is not None:
        flat = np.concatenate([np.asarray(s, dtype=np.float64) for s in scores])
        mu, sigma = float(flat.mean()), float(flat.std(ddof=1)) or 1.0
        z = [[(v - mu) / sigma for v in s] for s in scores]
        return curve_from_scores(curve.label, curve.alphas, z, curve.error)
    # Summaries only: centre on the grand mean and scale by the pooled spread of the conditions.
    spread = [_convert(e, k, curve.error, "std") for e, k in zip(curve.err, curve.n, strict=True)]
    pooled = math.sqrt(float(np.mean(np.square(spread)))) if any(spread) else float(np.std(curve.mean)) or 1.0
    grand = float(np.mean(curve.mean))
    return Curve(
        curve.label,
        curve.alphas,
        [(m - grand) / pooled for m in curve.mean],
        [e / pooled for e in curve.err],
        curve.n,
        curve.error,
    )


def score_figure(curve: Curve, ylabel: str = "", title: str = "", output: OutputOptions | None = None) -> Any:
    """000 Fig. 3A: mean score per α with error bars, a matplotlib Figure (no pyplot state)."""
    import matplotlib

    with matplotlib.rc_context(plot_rc(output)):
        return _score_figure(curve, ylabel, title, output)


def _score_figure(curve: Curve, ylabel: str, title: str, output: OutputOptions | None) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=plot_size(output, (4.0, 3.2)))
    ax = fig.add_subplot()
    ax.errorbar(
        curve.alphas,
        curve.mean,
        yerr=curve.err,
        marker="o",
        capsize=_capsize(output, 4),
        color="#1f4e9a",
        label=curve.label,
    )
    ax.set_xlabel("α")
    ax.set_ylabel(ylabel or f"mean {curve.label} score (± {curve.error})")
    ax.set_xticks(curve.alphas)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def factors_figure(curves: Mapping[str, Curve], title: str = "", output: OutputOptions | None = None) -> Any:
    """000 Fig. 3B: every factor's normalised score per α, one line each."""
    import matplotlib

    with matplotlib.rc_context(plot_rc(output)):
        return _factors_figure(curves, title, output)


def _factors_figure(curves: Mapping[str, Curve], title: str, output: OutputOptions | None) -> Any:
    from matplotlib.figure import Figure

    if not curves:
        raise FigureSpecError("no image factors to plot")
    fig = Figure(figsize=plot_size(output, (4.6, 3.2)))
    ax = fig.add_subplot()
    for curve in curves.values():
        ax.errorbar(
            curve.alphas, curve.mean, yerr=curve.err, marker="o", capsize=_capsize(output, 3), label=curve.label
        )
    first = next(iter(curves.values()))
    ax.set_xticks(first.alphas)
    ax.set_xlabel("α")
    ax.set_ylabel("normalised factor score")
    # At a physical width the legend is in the figure's font size (rc); otherwise 8 pt, as before.
    ax.legend(fontsize=None if output is not None and output.width_in is not None else 8, frameon=False)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _capsize(output: OutputOptions | None, legacy: float) -> float:
    """Error-bar caps in points: in step with the text at a physical width."""
    return legacy if output is None or output.width_in is None else 0.4 * output.font_pt


def save_plot(
    fig: Any,
    path: str | Path,
    spec: FigureSpec,
    data: Mapping[str, Any],
    formats: Sequence[str | Path] = (),
) -> Path:
    """Write a plot figure as PNG/PDF/SVG (text kept as text) and a sidecar with the plotted numbers.

    ``formats`` are all the files this figure is written to (``path`` among them; default ``path`` alone):
    each one's sidecar names every one of them, as a strip's PNG and PDF do (the file itself does not)."""
    import matplotlib

    path = Path(path)
    fmt = output_format(path)
    files = [Path(f) for f in formats] or [path]
    if path not in files:
        raise FigureSpecError(f"{path}: not among the files this plot is written to")
    metadata = {"spec": spec.to_dict(), "data": dict(data)}
    check_outputs([path], metadata)
    compact = json.dumps(metadata, separators=(",", ":"))
    meta = {
        "png": {"Software": "memstudio", "memstudio": compact},
        "pdf": {"Title": "memstudio plot", "Subject": compact, "CreationDate": None},
        "svg": {"Title": "memstudio plot", "Description": compact, "Date": None},
    }[fmt]
    with matplotlib.rc_context(plot_rc(spec.output)):
        write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=spec.output.dpi, metadata=meta))
    write_sidecar(path, metadata, files)
    return path


def plot_data(curves: Mapping[str, Curve]) -> dict[str, Any]:
    """Curves as plain dicts for the sidecar."""
    return {name: asdict(curve) for name, curve in curves.items()}


def _curve(label: str, alphas: Sequence[float], part: Any, error: str) -> Curve:
    if isinstance(part, Mapping):
        if "scores" in part:
            return curve_from_scores(label, alphas, part["scores"], error)
        return curve_from_summary(label, alphas, part, error)
    if isinstance(part, Sequence):
        return curve_from_scores(label, alphas, part, error)
    raise FigureSpecError(f"{label}: cannot read evidence of type {type(part).__name__}")


def _first(mapping: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return mapping[key]
    return None


def _convert(value: float, n: int, given: str, wanted: str) -> float:
    """Between std, standard error and the 95 % half-width (normal approximation, 1.96 · sem)."""
    if given == wanted:
        return value
    if n <= 0:
        raise FigureSpecError(f"converting {given} to {wanted} needs the number of images per α (n)")
    sem = {"std": value / math.sqrt(n), "sem": value, "ci95": value / 1.96}[given]
    return {"std": sem * math.sqrt(n), "sem": sem, "ci95": 1.96 * sem}[wanted]


def _check_error(error: str) -> None:
    if error not in ERRORS:
        raise FigureSpecError(f"unknown error bar {error!r}; expected one of {', '.join(ERRORS)}")


def collect_scores_job(spec: FigureSpec, sources: Any) -> Any:
    """Score every seed of ``spec`` at every α with every assessor: ``{assessor: [[score per seed] per α]}``.

    A job (progress per seed); factor curves are just more assessors (brightness, colorfulness, …).
    """
    from memstudio.core.figures.render import strip_panels
    from memstudio.core.jobs import Progress

    scores: dict[str, list[list[float]]] = {a.name: [[] for _ in spec.alphas] for a in sources.assessors}
    for i, seed in enumerate(spec.seeds):
        yield Progress(i / len(spec.seeds), f"scoring seed {seed}")
        for col, panel in enumerate(strip_panels(sources, spec, seed)):
            for name, value in panel.scores.items():
                scores[name][col].append(value)
    return scores


def computed_plot_job(
    spec: FigureSpec,
    sources: Any,
    path: str | Path | None,
    error: str = "sem",
    factors_path: str | Path | None = None,
) -> Any:
    """Score ``spec``'s seeds at every α and save 000 Fig. 3A (and 3B with ``factors_path``); a job.

    The first assessor gives the curve, the others the factors — what ``memstudio plot --photo|--generator``
    draws, so a plot exported from the studio and from the CLI are the same file. Returns the written paths.
    """
    _check_error(error)
    scores = yield from collect_scores_job(spec, sources)
    names = list(scores)
    if not names:
        raise FigureSpecError("a plot needs at least one assessor")
    score = curve_from_scores(names[0], spec.alphas, scores[names[0]], error)
    spec.plot = {"source": "computed", "error": error}
    written = []
    if path is not None:
        data = {"score": plot_data({score.label: score})[score.label]}
        fig = score_figure(score, title=spec.output.title, output=spec.output)
        written.append(save_plot(fig, path, spec, data))
    if factors_path is not None:
        factors = {n: curve_from_scores(n, spec.alphas, scores[n], error) for n in names[1:]}
        normalized = {n: normalized_factor(c, scores[n]) for n, c in factors.items()}
        factor_data = {"factors": plot_data(normalized)}
        fig = factors_figure(normalized, title=spec.output.title, output=spec.output)
        written.append(save_plot(fig, factors_path, spec, factor_data))
    return written


def replot_job(
    description: str | Path, path: str | Path, device: Any = "cpu", check_hashes: bool = True
) -> Any:
    """A plot drawn again from its sidecar (or its PNG).

    Computed plots re-score the seeds they name, evidence plots re-read the direction file; the sidecar's
    data says whether it was the curve or the factors.
    """
    from memstudio.core.figures.description import read_description
    from memstudio.core.figures.sources import open_sources

    description = Path(description)
    metadata = read_description(description)
    spec = FigureSpec.from_dict(metadata, str(description))
    if spec.kind != "plot":
        raise FigureSpecError(f"{description}: describes a {spec.kind}, not a plot")
    data = metadata.get("data", {}) if isinstance(metadata, dict) else {}
    factors = "factors" in data
    error = str(spec.plot.get("error", "sem"))
    if spec.plot.get("source") == "computed":
        sources = open_sources(spec, device, check_hashes=check_hashes)
        targets = (None, path) if factors else (path, None)
        written = yield from computed_plot_job(spec, sources, targets[0], error, targets[1])
        return written[0]
    from memstudio.core.figures.sources import open_direction

    if not spec.directions:
        raise FigureSpecError(f"{description}: the plot names no direction file")
    direction = open_direction(spec.directions[0], check_hashes)
    score, factor_curves = curves_from_evidence(direction.evidence, error)
    if factors:
        normalized = {n: normalized_factor(c) for n, c in factor_curves.items()}
        fig = factors_figure(normalized, title=spec.output.title, output=spec.output)
        return save_plot(fig, path, spec, {"factors": plot_data(normalized)})
    fig = score_figure(score, title=spec.output.title, output=spec.output)
    return save_plot(fig, path, spec, {"score": plot_data({score.label: score})[score.label]})


def plot_image(spec: FigureSpec, sources: Any, error: str = "sem") -> Any:
    """The score curve as the PNG export would draw it (a PIL image), for the studio's live preview."""
    import io

    import matplotlib
    from PIL import Image

    from memstudio.core.jobs import run_to_end

    scores = run_to_end(collect_scores_job(spec, sources))
    name = next(iter(scores), None)
    if name is None:
        raise FigureSpecError("a plot needs at least one assessor")
    curve = curve_from_scores(name, spec.alphas, scores[name], error)
    buffer = io.BytesIO()
    with matplotlib.rc_context(plot_rc(spec.output)):
        fig = score_figure(curve, title=spec.output.title, output=spec.output)
        fig.savefig(buffer, format="png", dpi=spec.output.dpi)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
