"""Batch exports in constant memory: many seeds, each row rendered, written and dropped before the next.

Two shapes: :func:`batch_strips_job` writes one strip (plus sidecar) per seed, each re-renderable alone;
:func:`tall_grid_png_job` writes one seeds × α grid as a single PNG streamed band by band. Either way at most
one row of panels is alive at a time, so 100 seeds × 5 α at 256 px cost the memory of one row.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from memstudio.core.figures.build import (
    figure_geometry,
    panel_records,
    plan_rows,
    render_row,
    row_bands,
)
from memstudio.core.figures.compose import header_band, stack
from memstudio.core.figures.draw import rasterize
from memstudio.core.figures.export import (
    PNG_KEY,
    check_outputs,
    figure_metadata,
    output_format,
    save_scene,
    sidecar_path,
    write_sidecar,
)
from memstudio.core.figures.panels import panel_writer, seed_id
from memstudio.core.figures.pngstream import PngStreamWriter
from memstudio.core.figures.sources import FigureSources
from memstudio.core.figures.spec import FigureSpec, FigureSpecError
from memstudio.core.jobs import Job, Progress


def seed_file_name(seed: int | str, index: int, suffix: str) -> str:
    """``seed0042.png`` for GAN seeds, ``003_beach.png`` for photos (index keeps equal names apart)."""
    return f"{seed_id(seed, index)}.{suffix}"


def batch_strips_job(
    spec: FigureSpec,
    sources: FigureSources,
    out_dir: str | Path,
    formats: tuple[str, ...] = ("png",),
    panels_dir: str | Path | None = None,
) -> Job[list[Path]]:
    """One strip per seed of ``spec`` into ``out_dir``; each has its own sidecar for ``--from``.

    ``panels_dir`` also writes every strip's images unlabelled with one manifest for all of them (each
    entry names its own strip's sidecar); a cancelled batch removes those panels again.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        output_format(f"x.{fmt}")
    written: list[Path] = []
    total = len(spec.seeds)
    with panel_writer(panels_dir) as writer:
        for i, seed in enumerate(spec.seeds):
            yield Progress(i / total, f"seed {seed} ({i + 1}/{total})")
            photos = [spec.photos[i]] if spec.is_photo and spec.photos else []
            one = replace(spec, kind="strip", seeds=[seed], photos=photos)
            row = plan_rows(one)[0]
            panels = render_row(sources, one, row)
            if writer is not None:
                writer.add(i, panels)
            geo = figure_geometry(one, [row], panels)
            scene = stack([header_band(one, geo), *row_bands(one, geo, row, panels)], one.output.background)
            records = panel_records(one, 0, panels, geo, geo.top_h)
            metadata = figure_metadata(one, records, (scene.width, scene.height))
            del panels  # the scene holds the pixels until it is written; nothing survives the iteration
            files = [out_dir / seed_file_name(seed, i, fmt) for fmt in formats]
            for file in files:
                written.append(save_scene(scene, file, metadata, one.output.dpi, files))
            if writer is not None:
                writer.figure_saved(sidecar_path(written[-1]))
            del scene
        if writer is not None:
            writer.finish()
    yield Progress(1.0, f"{len(written)} files written")
    return written


def tall_grid_png_job(
    spec: FigureSpec, sources: FigureSources, path: str | Path, panels_dir: str | Path | None = None
) -> Job[Path]:
    """A seeds × α grid as one PNG, streamed band by band; the sidecar is written when the PNG is complete.

    A cancelled job removes its partial PNG (see :class:`PngStreamWriter`) and any panels it wrote.
    """
    with panel_writer(panels_dir) as panels_out:
        path = yield from _tall_grid(spec, sources, Path(path), panels_out)
        if panels_out is not None:
            panels_out.finish(sidecar_path(path))
    return path


def _tall_grid(spec: FigureSpec, sources: FigureSources, path: Path, panels_out: Any) -> Job[Path]:
    if output_format(path) != "png":
        raise FigureSpecError(f"{path}: a streamed grid is written as PNG; export PDF/SVG per seed instead")
    grid = replace(spec, kind="grid")
    rows = plan_rows(grid)
    check_outputs([path], figure_metadata(grid, [], (0, 0)))
    records: list[dict[str, Any]] = []
    writer: PngStreamWriter | None = None
    try:
        geo = None
        for i, row in enumerate(rows):
            yield Progress(i / len(rows), f"row {i + 1}/{len(rows)}")
            panels = render_row(sources, grid, row)
            if panels_out is not None:
                panels_out.add(i, panels)
            if writer is None:
                geo = figure_geometry(grid, rows, panels)
                bands_per_row = 2 if any(p.heatmap is not None for p in panels) else 1
                height = geo.top_h + len(rows) * bands_per_row * geo.row_h
                # The full description (with every score) is only known at the end, so the PNG carries the
                # spec and the sidecar carries the per-panel numbers.
                text = {
                    PNG_KEY: json.dumps(figure_metadata(grid, [], (geo.width, height)), separators=(",", ":"))
                }
                writer = PngStreamWriter(path, geo.width, height, grid.output.dpi, text)
                writer.write_rows(np.asarray(rasterize(header_band(grid, geo))))
            records.extend(panel_records(grid, i, panels, geo, writer.rows_written))
            for band in row_bands(grid, geo, row, panels):
                writer.write_rows(np.asarray(rasterize(band)))
            del panels
        writer.close()
    finally:
        if writer is not None:
            writer.close()
    write_sidecar(path, figure_metadata(grid, records, (writer.width, writer.height)))
    yield Progress(1.0, f"wrote {path.name}")
    return path
