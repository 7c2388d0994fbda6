"""The heatmap feature's commands: map a frame, save it, check its emphasis, open a VMS model, draw the figure.

Everything here runs on the engine thread — the job command :class:`ComputeMap` (``Engine.submit``) and the
one-shot commands :class:`HeatmapSetup`, :class:`DescribeVms`, :class:`SaveMap`, :class:`EmphasisCheck` and
:class:`ExportHeatmapFigure` (``Engine.request``) — and hands plain values back to the GUI thread. The map
is the core's one implementation (:func:`memstudio.core.maps.api.map_job`), so the studio's map is the CLI's
map, at the CLI's cost per window (``benchmarks/bench_heatmap.py`` times both in one run, wall and CPU time).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from memstudio.core.jobs import Progress
from memstudio.core.maps.scale import SCALED_METHODS, MapScale, scale_for

if TYPE_CHECKING:
    import torch

    from memstudio.core.pipeline import Pipeline

#: Methods whose map is made at several scales (the others ignore ``scales``).
#: Windows per assessor call on a GPU: the core's (and the CLI's) default, one call per scale of the default
#: grid, which is where batching pays.
MAP_BATCH = 16
#: On a CPU: a ResMem window costs the same CPU time alone or in a batch (≈ 0.23 s single-threaded with
#: batches of 4 or 16, within 10 %, ``benchmarks/bench_heatmap.py``), so small batches cost nothing and keep a
#: render that arrives during the map from waiting behind more than 4 windows (≈ 0.5 s on two idle cores).
#: The coarse map (4 windows) is one call either way.
CPU_MAP_BATCH = 4


def map_batch(device: Any) -> int:
    """The studio's windows per assessor call on ``device``."""
    return CPU_MAP_BATCH if str(device).startswith("cpu") else MAP_BATCH


@dataclass(frozen=True)
class MapSettings:
    """What a map depends on besides the frame; equal settings on the same frame mean the same map."""

    method: str
    assessor: str
    scales: tuple[float, ...] | None
    vms_checkpoint: str | None

    def describe(self, default_passes: int | None) -> str:
        parts = [self.method]
        if self.method == "vms":
            parts.append(Path(self.vms_checkpoint or "").name)
        else:
            parts.append(self.assessor)
        passes = len(self.scales) if self.scales is not None else default_passes
        if self.method in SCALED_METHODS and passes:
            parts.append(f"{passes} scale{'s' if passes != 1 else ''}")
        return " · ".join(parts)


@dataclass(frozen=True)
class MapResult:
    """A finished map (``[H, W]`` float32 in [0, 1]) and what its 0 and 1 stand for."""

    map: np.ndarray
    scale: MapScale


@dataclass(frozen=True)
class ComputeMap:
    """The progressive map of one frame ``[1, 3, H, W]``; previews as the core yields them, a
    :class:`MapResult` at the end."""

    image: torch.Tensor
    settings: MapSettings
    frame_id: int = 0
    batch_size: int | None = None  # None: :func:`map_batch` of the pipeline's device

    @property
    def title(self) -> str:
        return f"Heatmap of frame #{self.frame_id} ({self.settings.describe(None)})"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        return map_steps(pipeline, self.image, self.settings, self.batch_size or map_batch(pipeline.device))


def map_steps(
    pipeline: Pipeline, image: torch.Tensor, settings: MapSettings, batch_size: int = MAP_BATCH
) -> Iterator[Progress]:
    """Run :func:`~memstudio.core.maps.api.map_job` on the pipeline's device; returns a :class:`MapResult`."""
    from memstudio.core.maps.api import map_job

    assessor = pipeline.assessor(settings.assessor) if settings.method != "vms" else None
    seen: list[tuple[float, float]] = []
    options: dict[str, Any] = {}
    if settings.method in SCALED_METHODS:
        options["on_range"] = lambda low, high: seen.append((low, high))
    final = yield from map_job(
        image.to(pipeline.device),
        assessor,
        settings.method,
        settings.scales,
        settings.vms_checkpoint,
        batch_size=batch_size,
        **options,
    )
    return MapResult(np.asarray(final, dtype=np.float32), map_scale(settings, assessor, seen[-1] if seen else None))


def map_scale(settings: MapSettings, assessor: Any, raw_range: tuple[float, float] | None) -> MapScale:
    """The colour bar's meaning for a map made with ``settings``."""
    return scale_for(settings.method, settings.assessor, assessor, raw_range)


@dataclass(frozen=True)
class HeatmapSetup:
    """The colormap tables (``[256, 3]`` uint8 per name) and the core's default scales, made where matplotlib
    and torch are already imported, so the GUI thread imports neither."""

    def run(self, pipeline: Pipeline) -> dict[str, Any]:
        from memstudio.core.maps import occlusion, regions
        from memstudio.core.maps.colormap import apply_colormap, colormap_names

        ramp = np.linspace(0.0, 1.0, 256, dtype=np.float32)[None]
        return {
            "luts": {name: apply_colormap(ramp, name)[0] for name in colormap_names()},
            "scales": {"regions": regions.DEFAULT_SCALES, "occlusion": occlusion.DEFAULT_SCALES},
        }


@dataclass(frozen=True)
class DescribeVms:
    """Load (and so validate) a VMS checkpoint on the engine's device; result: its folder and a summary line."""

    path: str

    def run(self, pipeline: Pipeline) -> dict[str, str]:
        from memstudio.core.maps.vms_checkpoint import checkpoint_folder, load_generator, read_meta

        _, config = load_generator(self.path, pipeline.device)
        folder = checkpoint_folder(self.path)
        meta = read_meta(folder)
        history = meta.get("history") or []
        summary = f"{folder.name}: U-Net {config.image_size} px, {meta.get('epoch', 0)} epochs"
        if history:
            summary += f", val L1 {min(h['val_l1'] for h in history):.3f}"
        return {"path": str(folder), "summary": summary}


@dataclass(frozen=True, eq=False)
class SaveMap:
    """The bare map for data: ``.npy`` values or a coloured ``.png``; result: the path written."""

    map: np.ndarray
    path: str
    colormap: str

    def run(self, pipeline: Pipeline) -> str:
        from memstudio.core.maps.io import save_map

        return str(save_map(self.map, self.path, self.colormap))


@dataclass(frozen=True, eq=False)
class EmphasisCheck:
    """Scores of the four emphasis renders (paper 004 §5) of a frame ``[1, 3, H, W]`` and its map, and
    ``thumb``-px thumbnails of them for the dock."""

    image: torch.Tensor
    map: np.ndarray
    assessor: str
    frame_id: int
    thumb: int

    def run(self, pipeline: Pipeline) -> dict[str, Any]:
        import torch.nn.functional as F

        from memstudio.core.imaging import tensor_to_uint8
        from memstudio.core.maps.emphasis import emphasis_check

        result = emphasis_check(self.image.to(pipeline.device), self.map, pipeline.assessor(self.assessor))
        thumbnails = {}
        for render, image in result["images"].items():
            height, width = image.shape[2:]
            k = self.thumb / max(height, width)
            size = (max(1, round(height * k)), max(1, round(width * k)))
            small = F.interpolate(
                image.float().cpu(), size=size, mode="bilinear", antialias=True, align_corners=False
            )
            thumbnails[render] = tensor_to_uint8(small)[0]
        return {
            "scores": result["scores"],
            "order_holds": bool(result["order_holds"]),
            "thumbnails": thumbnails,
            "assessor": self.assessor,
            "frame_id": self.frame_id,
        }


def frame_image_path(figure: str | Path) -> Path:
    """Where the studio keeps the frame a figure was drawn from: beside it, so ``--from`` can draw it again."""
    figure = Path(figure)
    return figure.with_name(f"{figure.stem}-frame.png")


@dataclass(frozen=True, eq=False)
class ExportHeatmapFigure:
    """The heatmap figure of a studio frame (the CLI's ``heatmap --figure``): the frame is saved beside it as
    a PNG and named in the sidecar, so ``memstudio heatmap --from`` draws the figure again; result: the paths
    written."""

    pixels: np.ndarray
    map: np.ndarray
    scale: MapScale
    settings: MapSettings
    path: str
    colormap: str
    opacity: float
    width_in: float | None = None

    def run(self, pipeline: Pipeline) -> list[str]:
        from PIL import Image

        from memstudio.core.atomic import save_image_atomic
        from memstudio.core.checkpoints import sha256_file
        from memstudio.core.figures.heatmap_figure import (
            DEFAULT_WIDTH_IN,
            HeatmapFigureSpec,
            write_heatmap_figures,
        )

        settings, pixels = self.settings, self.pixels
        frame = frame_image_path(self.path)
        save_image_atomic(Image.fromarray(np.ascontiguousarray(pixels), mode="RGB"), frame)
        spec = HeatmapFigureSpec(
            photo=str(frame.resolve()),
            photo_sha256=sha256_file(frame),
            method=settings.method,
            assessor=settings.assessor,
            scales=list(settings.scales) if settings.scales else None,
            vms_checkpoint=settings.vms_checkpoint,
            max_side=int(max(pixels.shape[:2])),
            colormap=self.colormap,
            opacity=float(self.opacity),
            width_in=self.width_in or DEFAULT_WIDTH_IN,
        )
        return [str(p) for p in write_heatmap_figures(pixels, self.map, self.scale, spec, [self.path])]
