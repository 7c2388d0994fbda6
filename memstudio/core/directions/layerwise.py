"""Layerwise W+ editing (paper 001 §3.4, A.2): apply a direction to some layers only, and measure each layer.

A W+ latent holds one w per synthesis layer; coarse layers set pose and shape, fine layers colour and
background. Editing a subset with per-layer coefficients is a direction whose ``layer_weights`` are zero
outside the subset (:class:`Direction` applies them). The analysis job edits one layer at a time at several
α and records the mean score change per layer over K samples (001 Fig. 9), as a table, a plot and evidence.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.atomic import write_text_atomic, write_with
from memstudio.core.directions.base import Direction, DirectionError
from memstudio.core.directions.sampling import HELDOUT_SEED, LatentSource
from memstudio.core.generators.base import Generator
from memstudio.core.jobs import Job, Progress


def layer_groups(num_ws: int, resolution: int | None = None) -> dict[str, list[int]]:
    """Coarse / middle / fine layer indices, StyleGAN's grouping (4²–8², 16²–32², 64² and up).

    StyleGAN2 has two ws per resolution from 4² on (plus the toRGB of the last), so ws 0–3 are coarse and
    4–7 middle. A W+ whose length does not follow that rule (StyleGAN3) is split into thirds.
    """
    if resolution is not None and num_ws == 2 * int(math.log2(resolution)) - 2:
        bounds = (min(4, num_ws), min(8, num_ws))
    else:
        bounds = (num_ws // 3, (2 * num_ws) // 3)
    return {
        "coarse": list(range(0, bounds[0])),
        "middle": list(range(bounds[0], bounds[1])),
        "fine": list(range(bounds[1], num_ws)),
    }


def layer_weights(
    num_ws: int, layers: Sequence[int] | None = None, coefficients: Sequence[float] | float = 1.0
) -> torch.Tensor:
    """``[num_ws]`` weights: ``coefficients`` on ``layers`` (all layers when None), zero elsewhere."""
    layers = list(range(num_ws)) if layers is None else [int(i) for i in layers]
    bad = [i for i in layers if not 0 <= i < num_ws]
    if bad:
        raise DirectionError(f"layers {bad} do not exist: this W+ has layers 0 … {num_ws - 1}")
    if isinstance(coefficients, (int, float)):
        coefficients = [float(coefficients)] * len(layers)
    if len(coefficients) != len(layers):
        raise DirectionError(f"{len(coefficients)} coefficients for {len(layers)} layers")
    weights = torch.zeros(num_ws)
    for i, c in zip(layers, coefficients, strict=True):
        weights[i] = float(c)
    return weights


def with_layers(
    direction: Direction,
    num_ws: int,
    layers: Sequence[int] | None = None,
    coefficients: Sequence[float] | float = 1.0,
) -> Direction:
    """A copy of ``direction`` acting only on ``layers`` of W+, scaled per layer by ``coefficients``."""
    if direction.space not in ("w", "w+"):
        raise DirectionError(
            f"direction {direction.name!r} lives in {direction.space!r}; only W and W+ have layers"
        )
    if direction.space == "w+" and direction.vector.shape[0] != num_ws:
        raise DirectionError(
            f"direction {direction.name!r} has {direction.vector.shape[0]} layers, not {num_ws}"
        )
    weights = layer_weights(num_ws, layers, coefficients)
    return replace(direction, layer_weights=weights)


@dataclass
class LayerAnalysis:
    """Mean score change per (layer, α) when only that layer is edited; ``sem`` is its standard error."""

    layers: list[int]
    alphas: list[float]
    mean_delta: list[list[float]]
    sem: list[list[float]]
    baseline_mean: float
    num_samples: int
    property: str
    direction: str

    def to_dict(self) -> dict[str, object]:
        return dict(vars(self))

    def write_csv(self, path: str | Path) -> Path:
        """One row per layer: mean Δscore and its standard error for each α."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        header = ["layer"] + [f"delta@{a:g}" for a in self.alphas] + [f"sem@{a:g}" for a in self.alphas]
        writer.writerow(header)
        for layer, means, sems in zip(self.layers, self.mean_delta, self.sem, strict=True):
            writer.writerow([layer] + [f"{m:.6g}" for m in means] + [f"{s:.6g}" for s in sems])
        return write_text_atomic(path, buffer.getvalue())

    def plot(self, path: str | Path) -> Path:
        """Δscore against layer, one line per α, with standard-error bars (format from the suffix)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 3.6), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for j, alpha in enumerate(self.alphas):
            means = [row[j] for row in self.mean_delta]
            sems = [row[j] for row in self.sem]
            ax.errorbar(self.layers, means, yerr=sems, marker="o", capsize=2, label=f"α = {alpha:g}")
        ax.axhline(0.0, color="0.6", linewidth=0.8)
        ax.set_xlabel("W+ layer edited alone")
        ax.set_ylabel(f"mean Δ {self.property or 'score'}")
        ax.set_xticks(self.layers)
        ax.set_title(f"{self.direction}: per-layer effect (K = {self.num_samples})", fontsize=10)
        ax.legend(fontsize=8)
        path = Path(path)
        return write_with(path, lambda tmp: fig.savefig(tmp, dpi=150, format=path.suffix.lstrip(".").lower()))

    def save(self, folder: str | Path, stem: str = "layers") -> list[Path]:
        """``stem.csv``, ``stem.png`` and ``stem.pdf`` in ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [
            self.write_csv(folder / f"{stem}.csv"),
            self.plot(folder / f"{stem}.png"),
            self.plot(folder / f"{stem}.pdf"),
        ]


def analyze_layers(
    generator: Generator,
    assessor: Assessor,
    direction: Direction,
    num_samples: int = 32,
    alphas: Sequence[float] | None = None,
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    seed: int = HELDOUT_SEED,
) -> Job[LayerAnalysis]:
    """The layer-effect job (001 Fig. 9): each layer alone at each α, mean score change over K samples.

    ``alphas`` default to the ends and midpoints of the direction's α range.
    """
    if direction.space not in ("w", "w+"):
        raise DirectionError(
            f"direction {direction.name!r} lives in {direction.space!r}; only W and W+ have layers"
        )
    num_ws = generator.num_ws
    if num_ws == 0 or "w+" not in generator.spaces:
        raise DirectionError(f"generator {generator.name!r} has no W+ space to analyse layer by layer")
    layers = list(range(num_ws)) if layers is None else [int(i) for i in layers]
    layer_weights(num_ws, layers)  # validates the indices
    if alphas is None:
        low, high = direction.alpha_range
        alphas = [low, low / 2, high / 2, high]
    alphas = [float(a) for a in alphas]
    source = LatentSource(generator, "w+")
    total = source.count(num_samples)
    sums = torch.zeros(len(layers), len(alphas), dtype=torch.float64)
    squares = torch.zeros_like(sums)
    baseline_sum = 0.0
    done = 0
    for renderer, latent in source.batches(num_samples, batch_size, seed):
        with torch.no_grad():
            base = assessor.score(renderer.render(latent)).double()
            baseline_sum += float(base.sum())
            for i, layer in enumerate(layers):
                single = replace(direction, layer_weights=layer_weights(num_ws, [layer]))
                step = single.vector_for(latent)
                for j, alpha in enumerate(alphas):
                    scores = assessor.score(renderer.render(latent.with_values(latent.values + alpha * step))).double()
                    delta = scores - base
                    sums[i, j] += delta.sum()
                    squares[i, j] += (delta**2).sum()
        done += latent.values.shape[0]
        yield Progress(done / total, f"layers × α on {done}/{total} samples")
    mean = sums / done
    var = (squares / done - mean**2).clamp_min(0) * done / max(done - 1, 1)
    sem = (var / done).sqrt()
    return LayerAnalysis(
        layers=layers,
        alphas=alphas,
        mean_delta=mean.tolist(),
        sem=sem.tolist(),
        baseline_mean=baseline_sum / done,
        num_samples=done,
        property=assessor.property,
        direction=direction.name,
    )


def record_analysis(direction: Direction, analysis: LayerAnalysis) -> Direction:
    """The direction with the analysis stored in its evidence (the W+ editor dock draws it from there)."""
    evidence = dict(direction.evidence)
    evidence["layers"] = analysis.to_dict()
    return replace(direction, evidence=evidence)
