"""The layer analysis of a direction as one job for the CLI and the studio: analyse, record, write.

``memstudio direction layers`` and the studio's "Analyse layers" both run :func:`analyze_and_record`: the
layer-effect analysis (paper 001 Fig. 9), stored in the direction's evidence, its table and plots written
beside the direction file, and the direction file rewritten with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.jobs import Job

if TYPE_CHECKING:
    from memstudio.core.assessors.base import Assessor
    from memstudio.core.directions.base import Direction
    from memstudio.core.directions.layerwise import LayerAnalysis
    from memstudio.core.generators.base import Generator


@dataclass(frozen=True)
class LayerAnalysisResult:
    """The direction with its analysis recorded, the files written, and a one-line summary."""

    direction: Direction
    analysis: LayerAnalysis
    path: Path | None
    files: tuple[Path, ...]
    summary: str


def strongest_layer(analysis: LayerAnalysis) -> str:
    """The layer whose edit moves the score most at the largest α, as the CLI prints and the studio shows."""
    best = max(range(len(analysis.layers)), key=lambda i: abs(analysis.mean_delta[i][-1]))
    return (
        f"strongest layer: {analysis.layers[best]} (Δ {analysis.mean_delta[best][-1]:+.4f} "
        f"at α {analysis.alphas[-1]:g}, K = {analysis.num_samples})"
    )


def analyze_and_record(
    generator: Generator,
    assessor: Assessor,
    direction: Direction,
    output: str | Path | None,
    num_samples: int = 32,
    alphas: Sequence[float] | None = None,
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    out_dir: str | Path | None = None,
) -> Job[LayerAnalysisResult]:
    """Analyse ``direction`` layer by layer; with ``output``, write ``STEM-layers.csv/.png/.pdf`` (in
    ``out_dir``, default beside it) and the direction with the analysis recorded to ``output``."""
    from memstudio.core.directions.layerwise import analyze_layers, record_analysis

    analysis = yield from analyze_layers(
        generator, assessor, direction, num_samples=num_samples, alphas=alphas, layers=layers, batch_size=batch_size
    )
    recorded = record_analysis(direction, analysis)
    files: list[Path] = []
    path = None
    if output is not None:
        json_path = Path(output).with_suffix(".json")
        folder = Path(out_dir) if out_dir else json_path.parent
        files = analysis.save(folder, f"{json_path.with_suffix('').name}-layers")
        path = recorded.save(json_path)
    return LayerAnalysisResult(recorded, analysis, path, tuple(files), strongest_layer(analysis))
