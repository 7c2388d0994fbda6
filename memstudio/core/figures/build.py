"""From a spec and its sources to a finished figure: the API the CLI and the studio's Export dialog call.

``make_spec`` records what the figure is made of; ``figure_job`` renders it row by row (a job with progress
and cancel) and writes it; ``rerender_job`` does the same from a saved description. ``preview`` gives the
studio a PIL image of the figure without touching the disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from memstudio.core.assessors.base import Assessor
from memstudio.core.directions.base import Direction
from memstudio.core.figures.compose import (
    Geometry,
    figure_caption,
    fit_labels,
    geometry,
    header_band,
    label_record,
    label_samples,
    row_band,
    row_text,
    stack,
)
from memstudio.core.figures.draw import rasterize
from memstudio.core.figures.export import figure_metadata, save_scene, sidecar_path
from memstudio.core.figures.panels import PanelSink, panel_writer
from memstudio.core.figures.render import Panel, layer_panels, strip_panels
from memstudio.core.figures.scene import Scene
from memstudio.core.figures.sources import (
    FigureSources,
    open_sources,
    record_assessor,
    record_direction,
    record_generator,
    record_photo,
)
from memstudio.core.figures.spec import FigureSpec, FigureSpecError, ordered_alphas
from memstudio.core.generators.base import Generator
from memstudio.core.jobs import Job, Progress, run_to_end

#: ``output.caption`` value that asks for the caption to be written from the directions and assessors.
AUTO_CAPTION = "auto"


@dataclass(frozen=True)
class RowPlan:
    """One row of a figure before rendering: which seed, which W+ layer (layerwise grids), its caption."""

    seed: int | str
    layer: int | None
    caption: str | None


def make_spec(
    kind: str,
    *,
    directions: Sequence[tuple[Direction, str | Path | None]],
    assessors: Sequence[Assessor],
    seeds: Sequence[int | str],
    generator: Generator | None = None,
    generator_source: str | None = None,
    alphas: Sequence[float] | None = None,
    truncation: float = 1.0,
    class_index: int | None = None,
    layers: Sequence[int] = (),
    **options: Any,
) -> FigureSpec:
    """A spec with every input fingerprinted. ``generator`` None means photo editing: seeds are photo paths.

    ``options`` are more :class:`FigureSpec` fields (``label``, ``output``, ``heatmap``, ``photo_max_side``).
    """
    if not seeds:
        raise FigureSpecError("a figure needs at least one seed or photo")
    if generator is None:
        gen_entry: dict[str, Any] = {"name": "photo", "checkpoint_sha256": None}
        photos = [record_photo(p) for p in seeds]
        seeds = [p["path"] for p in photos]
    else:
        gen_entry = record_generator(generator, generator_source)
        photos = []
        seeds = [int(s) for s in seeds]
    spec_alphas = ordered_alphas(alphas if alphas is not None else (-0.2, -0.1, 0.0, 0.1, 0.2))
    spec = FigureSpec(
        kind=kind,
        generator=gen_entry,
        assessors=[record_assessor(a) for a in assessors],
        directions=[record_direction(d, p) for d, p in directions],
        seeds=list(seeds),
        photos=photos,
        alphas=spec_alphas,
        truncation=float(truncation),
        class_index=class_index,
        layers=[int(layer) for layer in layers],
        **options,
    )
    if spec.output.caption == AUTO_CAPTION:
        spec.output.caption = figure_caption(spec)
    return spec


def plan_rows(spec: FigureSpec) -> list[RowPlan]:
    """Rows in order: the strip's one seed, a grid's seeds, or a layerwise grid's layers of one seed."""
    if not spec.seeds:
        raise FigureSpecError("the figure has no seeds")
    if spec.kind == "strip":
        if len(spec.seeds) != 1:
            raise FigureSpecError(
                f"a strip shows one seed, got {len(spec.seeds)}; use a grid or a batch export"
            )
        return [RowPlan(spec.seeds[0], None, None)]
    if spec.kind == "grid":
        return [RowPlan(s, None, row_text(s, None)) for s in spec.seeds]
    if spec.kind == "layer_grid":
        if len(spec.seeds) != 1 or not spec.layers:
            raise FigureSpecError("a layerwise grid needs exactly one seed and at least one layer")
        return [RowPlan(spec.seeds[0], layer, row_text(spec.seeds[0], layer)) for layer in spec.layers]
    raise FigureSpecError(f"a {spec.kind!r} figure has no image rows; use plots.py")


def render_row(sources: FigureSources, spec: FigureSpec, row: RowPlan) -> list[Panel]:
    if row.layer is not None:
        return layer_panels(sources, spec, row.seed, row.layer)
    return strip_panels(sources, spec, row.seed)


def figure_geometry(spec: FigureSpec, rows: list[RowPlan], panels: list[Panel]) -> Geometry:
    """The layout, decided from the first row's panels (their size, and their labels at a physical width)."""
    captions = [r.caption for r in rows if r.caption is not None]
    if spec.heatmap:
        captions.append("map")
    geo = geometry(spec, panels[0].pixels.shape[:2], captions)
    return fit_labels(geo, *label_samples(spec, panels))


def row_bands(spec: FigureSpec, geo: Geometry, row: RowPlan, panels: list[Panel]) -> list[Scene]:
    """The band of a row, and its heatmap band where the panels carry maps."""
    bands = [row_band(spec, geo, panels, row.caption)]
    if any(p.heatmap is not None for p in panels):
        bands.append(row_band(spec, geo, panels, "map", heatmap=True))
    return bands


def panel_records(
    spec: FigureSpec, row_index: int, panels: list[Panel], geo: Geometry, band_y: int
) -> list[dict[str, Any]]:
    """Per-panel numbers for the metadata: full-precision scores, the exact label text printed, and the
    panel's pixel box ``[x, y, width, height]`` in the figure (so a reader can crop any image back out)."""
    return [
        {
            "row": row_index,
            "col": col,
            "seed": p.seed,
            "layer": p.layer,
            "alpha": p.alpha,
            "scores": p.scores,
            "label": label_record(p, spec, geo),
            "box": [geo.column_x(col), band_y + geo.panel_top, *geo.display_size(p.pixels)],
        }
        for col, p in enumerate(panels)
    ]


def compose_job(
    spec: FigureSpec, sources: FigureSources, panel_sink: PanelSink | None = None
) -> Job[tuple[Scene, dict[str, Any]]]:
    """Render every row and compose the figure in memory; returns (scene, metadata).

    ``panel_sink`` receives each row's unlabelled panels as they are rendered (see :mod:`.panels`).
    """
    rows = plan_rows(spec)
    bands: list[Scene] = []
    records: list[dict[str, Any]] = []
    geo = None
    y = 0
    for i, row in enumerate(rows):
        yield Progress(i / len(rows), f"rendering {row.caption or row.seed}")
        panels = render_row(sources, spec, row)
        if panel_sink is not None:
            panel_sink(0 if row.layer is not None else i, panels)
        if geo is None:
            geo = figure_geometry(spec, rows, panels)
            bands.append(header_band(spec, geo))
            y = bands[0].height
        records.extend(panel_records(spec, i, panels, geo, y))
        for band in row_bands(spec, geo, row, panels):
            bands.append(band)
            y += band.height
    scene = stack(bands, spec.output.background)
    return scene, figure_metadata(spec, records, (scene.width, scene.height))


def figure_job(
    spec: FigureSpec, sources: FigureSources, path: str | Path, panels_dir: str | Path | None = None
) -> Job[Path]:
    """Render and write one figure (PNG/PDF/SVG by suffix) plus its JSON sidecar; returns the path.

    Nothing is written until every row is rendered, so a cancelled job leaves no half figure behind.
    ``panels_dir`` also writes every image unlabelled plus a memory-game manifest (see :mod:`.panels`).
    """
    with panel_writer(panels_dir) as writer:
        scene, metadata = yield from compose_job(spec, sources, writer.add if writer else None)
        yield Progress(0.95, f"writing {Path(path).name}")
        out = save_scene(scene, path, metadata, spec.output.dpi)
        if writer is not None:
            writer.finish(sidecar_path(out))
    return out


def rerender_job(
    description: str | Path,
    path: str | Path,
    device: torch.device | str = "cpu",
    check_hashes: bool = True,
    panels_dir: str | Path | None = None,
) -> Job[Path]:
    """The figure a sidecar (or a memstudio PNG) describes, rendered again from the files it names."""
    spec = FigureSpec.load(description)
    sources = open_sources(spec, device, check_hashes=check_hashes)
    return (yield from figure_job(spec, sources, path, panels_dir))


def preview(spec: FigureSpec, sources: FigureSources) -> Image.Image:
    """The figure as the PNG export would draw it, for the Export dialog's live preview."""
    scene, _ = run_to_end(compose_job(spec, sources))
    return rasterize(scene)
