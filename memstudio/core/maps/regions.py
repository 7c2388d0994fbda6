"""Region maps (paper 004 §5): score overlapping windows at several scales and average into a per-pixel map.

MemNet was made fully convolutional to score all windows in one pass; an arbitrary assessor cannot be, so we
do the equivalent explicitly: for each scale the whole image is resized so that one window becomes
``crop_size`` pixels (the paper's "scale up the image"), the windows are cut from it and scored in batches on
the assessor's device, and each window's score is spread over its pixels with a centre-weighted taper.

Cost is one assessor call per window, so the grid is sized for a budget: ResMem costs ~0.2 s per window on two
CPU cores. The default scales (2/3, 1/2, 2/5) with ≥25 % overlap give 2×2 + 3×3 + 3×3 = 22 windows; the
coarse map (the 2×2 grid of 2/3-windows, 50 % overlap) arrives after 4.

``crop_size`` defaults to 256 because ResMem (like most assessors) resizes its input to 256 before its centre
crop: windows of that size pass its resize unchanged, and larger ones would only cost memory.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from memstudio.core.assessors.base import Assessor
from memstudio.core.jobs import Job, Progress, run_to_end
from memstudio.core.maps.common import (
    Box,
    MapError,
    RangeSink,
    WindowAccumulator,
    batches,
    check_image,
    check_scales,
    grid_boxes,
    map_preview,
    module_device,
    normalize_map,
)

#: Window sides as fractions of the short side, coarsest first (see the module docstring for the budget).
DEFAULT_SCALES: tuple[float, ...] = (2 / 3, 1 / 2, 2 / 5)
#: Minimum share of a window that its neighbour covers; grids round up, so real overlaps are 25–50 %.
DEFAULT_OVERLAP = 0.25
DEFAULT_CROP_SIZE = 256
DEFAULT_BATCH_SIZE = 16


def plan(
    height: int,
    width: int,
    scales: tuple[float, ...] | list[float] = DEFAULT_SCALES,
    overlap: float = DEFAULT_OVERLAP,
) -> list[list[Box]]:
    """The windows a region map will score, per scale (coarsest first): for budgeting and for display."""
    return [grid_boxes(height, width, s, overlap) for s in check_scales(scales, overlap)]


def _scaled_image(image: torch.Tensor, size: int, crop_size: int | None) -> tuple[torch.Tensor, float]:
    """The image resized so that a ``size``-px window becomes ``crop_size`` px, and that factor: one
    antialiased interpolation per scale instead of one per window."""
    if crop_size is None or crop_size == size:
        return image, 1.0
    k = crop_size / size
    height, width = image.shape[2:]
    scaled_size = (max(crop_size, round(height * k)), max(crop_size, round(width * k)))
    scaled = F.interpolate(image, size=scaled_size, mode="bilinear", align_corners=False, antialias=True)
    return scaled, k


def _crops(scaled: torch.Tensor, k: float, boxes: list[Box]) -> torch.Tensor:
    """The windows ``boxes`` (image coordinates, all one size) cut from the scaled image as one batch."""
    side = round(boxes[0].size * k)
    crops = []
    for b in boxes:
        top = min(round(b.top * k), scaled.shape[2] - side)
        left = min(round(b.left * k), scaled.shape[3] - side)
        crops.append(scaled[:, :, top : top + side, left : left + side])
    return torch.cat(crops)


def region_map_job(
    image: torch.Tensor,
    assessor: Assessor,
    scales: tuple[float, ...] | list[float] = DEFAULT_SCALES,
    overlap: float = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    crop_size: int | None = DEFAULT_CROP_SIZE,
    on_range: RangeSink | None = None,
) -> Job[np.ndarray]:
    """Progressive region map of ``image`` ``[1, 3, H, W]`` in [0, 1].

    Yields a :class:`Progress` after every batch. A Progress whose ``preview`` is set carries a new map
    (``[1, 1, H, W]`` in [0, 1], CPU): the first is the coarse map of the largest scale, each later one
    averages in one more scale. Returns the final ``[H, W]`` float32 map. Closing the generator stops it
    between batches. ``on_range(low, high)`` hears, with every preview, the raw map's range in the
    assessor's units (a window score averaged over the windows covering a pixel) that 0 and 1 stand for.
    """
    check_image(image)
    if crop_size is not None and crop_size < 8:
        raise MapError(f"crop_size must be at least 8 px or None, got {crop_size}")
    height, width = int(image.shape[2]), int(image.shape[3])
    grids = plan(height, width, scales, overlap)
    device = module_device(assessor)
    image = image.detach().to(device=device, dtype=torch.float32)
    total = sum(len(g) for g in grids)
    done = 0
    scale_maps: list[torch.Tensor] = []
    final = normalize_map(torch.zeros(height, width))
    for index, boxes in enumerate(grids):
        acc = WindowAccumulator(height, width)
        chunks = batches(boxes, batch_size)
        with torch.inference_mode():
            scaled, k = _scaled_image(image, boxes[0].size, crop_size)
        for chunk_index, chunk in enumerate(chunks):
            with torch.inference_mode():
                scores = assessor.score(_crops(scaled, k, chunk))
            for box, value in zip(chunk, scores.tolist(), strict=True):
                acc.add(box, value)
            done += len(chunk)
            label = f"pass {index + 1} of {len(grids)} ({boxes[0].size} px windows)"
            if chunk_index < len(chunks) - 1:
                yield Progress(done / total, f"{label}: {done}/{total} windows")
                continue
            scale_maps.append(acc.mean())
            # Equal weight per scale, as the paper averages its per-scale maps.
            raw = torch.stack(scale_maps).mean(dim=0)
            final = normalize_map(raw)
            if on_range is not None:
                on_range(float(raw.min()), float(raw.max()))
            yield Progress(done / total, f"{label} done", map_preview(final))
    return final


def region_map(
    image: torch.Tensor,
    assessor: Assessor,
    scales: tuple[float, ...] | list[float] = DEFAULT_SCALES,
    overlap: float = DEFAULT_OVERLAP,
    batch_size: int = DEFAULT_BATCH_SIZE,
    crop_size: int | None = DEFAULT_CROP_SIZE,
) -> np.ndarray:
    """The final region map ``[H, W]`` float32 in [0, 1] (see :func:`region_map_job`)."""
    return run_to_end(region_map_job(image, assessor, scales, overlap, batch_size, crop_size))
