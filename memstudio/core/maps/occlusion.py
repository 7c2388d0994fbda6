"""Occlusion maps: how much the score drops when one region is hidden (Zeiler & Fergus style).

Where region maps ask "how memorable is this part on its own", occlusion asks "how much does the whole image
need this part", which also catches context that only matters together with the rest. Each square patch is
filled with mid-grey or with a heavy blur of itself (blur hides detail but keeps colour and layout, so the
assessor is not misled by a grey square that no photo has). The drop ``score(image) − score(occluded)`` is
spread over the patch with a centre-weighted taper and averaged over overlapping patches and scales.

Occluded images are whole images, so they are scored at a working resolution (long side ``work_side``):
assessors resize to ~256 px anyway, and a batch of full-size photos would not fit in memory.
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
    gaussian_blur,
    grid_boxes,
    map_preview,
    module_device,
    normalize_map,
    resize_map,
)

#: Patch sides as fractions of the short side; 50 % overlap gives a 5×5 grid of patches.
DEFAULT_SCALES: tuple[float, ...] = (1 / 3,)
DEFAULT_OVERLAP = 0.5
DEFAULT_WORK_SIDE = 512
FILLS = ("grey", "blur")


def _occlude(image: torch.Tensor, fill_image: torch.Tensor, boxes: list[Box]) -> torch.Tensor:
    """One copy of ``image`` per box with that box replaced by ``fill_image``'s pixels."""
    out = image.expand(len(boxes), -1, -1, -1).clone()
    for i, b in enumerate(boxes):
        rows, cols = slice(b.top, b.top + b.size), slice(b.left, b.left + b.size)
        out[i, :, rows, cols] = fill_image[0, :, rows, cols]
    return out


def occlusion_map_job(
    image: torch.Tensor,
    assessor: Assessor,
    scales: tuple[float, ...] | list[float] = DEFAULT_SCALES,
    overlap: float = DEFAULT_OVERLAP,
    batch_size: int = 8,
    fill: str = "grey",
    work_side: int = DEFAULT_WORK_SIDE,
    on_range: RangeSink | None = None,
) -> Job[np.ndarray]:
    """Progressive occlusion map of ``image`` ``[1, 3, H, W]``; yields like
    :func:`~memstudio.core.maps.regions.region_map_job` (a preview after each scale), returns ``[H, W]``.
    ``on_range(low, high)`` hears the raw range that 0 and 1 stand for: the score drop, in the assessor's units."""
    check_image(image)
    if fill not in FILLS:
        raise MapError(f"unknown occlusion fill {fill!r}; choose one of {', '.join(FILLS)}")
    height, width = int(image.shape[2]), int(image.shape[3])
    device = module_device(assessor)
    work = image.detach().to(device=device, dtype=torch.float32)
    k = min(1.0, work_side / max(height, width))
    if k < 1.0:
        size = (max(8, round(height * k)), max(8, round(width * k)))
        work = F.interpolate(work, size=size, mode="bilinear", align_corners=False, antialias=True)
    work_h, work_w = int(work.shape[2]), int(work.shape[3])
    grids = [grid_boxes(work_h, work_w, s, overlap) for s in check_scales(scales, overlap)]
    total = sum(len(g) for g in grids) + 1
    with torch.inference_mode():
        base = float(assessor.score(work)[0])
    yield Progress(1 / total, "scored the unoccluded image")
    done = 1
    scale_maps: list[torch.Tensor] = []
    final = normalize_map(torch.zeros(height, width))
    for index, boxes in enumerate(grids):
        if fill == "grey":
            fill_image = torch.full_like(work, 0.5)
        else:
            fill_image = gaussian_blur(work, sigma=boxes[0].size / 4.0)
        acc = WindowAccumulator(work_h, work_w)
        chunks = batches(boxes, batch_size)
        for chunk_index, chunk in enumerate(chunks):
            with torch.inference_mode():
                scores = assessor.score(_occlude(work, fill_image, chunk))
            for box, value in zip(chunk, scores.tolist(), strict=True):
                acc.add(box, base - value)
            done += len(chunk)
            label = f"pass {index + 1} of {len(grids)} ({boxes[0].size} px patches)"
            if chunk_index < len(chunks) - 1:
                yield Progress(done / total, f"{label}: {done - 1}/{total - 1} patches")
                continue
            scale_maps.append(acc.mean())
            mean = torch.stack(scale_maps).mean(dim=0)
            raw = resize_map(mean, height, width)
            final = normalize_map(raw)
            if on_range is not None:
                on_range(float(raw.min()), float(raw.max()))
            yield Progress(done / total, f"{label} done", map_preview(final))
    return final


def occlusion_map(
    image: torch.Tensor,
    assessor: Assessor,
    scales: tuple[float, ...] | list[float] = DEFAULT_SCALES,
    overlap: float = DEFAULT_OVERLAP,
    batch_size: int = 8,
    fill: str = "grey",
    work_side: int = DEFAULT_WORK_SIDE,
) -> np.ndarray:
    """The final occlusion map ``[H, W]`` float32 in [0, 1]: 1 where hiding the region costs most."""
    return run_to_end(occlusion_map_job(image, assessor, scales, overlap, batch_size, fill, work_side))
