"""What every heatmap method shares: input checks, the crop grid, normalisation and smoothing.

A map is a float32 ``[H, W]`` array in [0, 1] aligned with the image's pixels. Maps are normalised
independently (min → 0, max → 1), as paper 004 Fig. 7 shows them, because scores of different assessors and
methods live on unrelated scales; only the ranking of regions within one image is meaningful.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from memstudio.core.errors import MemstudioError

#: Told the raw ``(low, high)`` that a normalised map's 0 and 1 stand for, in the assessor's units.
RangeSink = Callable[[float, float], None]


class MapError(MemstudioError):
    """A heatmap cannot be computed from these inputs (wrong image shape, bad scales, unknown method)."""


@dataclass(frozen=True)
class Box:
    """A square window of the image, in pixels: rows ``top:top+size``, columns ``left:left+size``."""

    top: int
    left: int
    size: int


def check_image(image: torch.Tensor) -> None:
    """Maps are per image: refuse batches and non-RGB tensors with a message saying what arrived."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise MapError(f"a heatmap needs one RGB image as a [1, 3, H, W] tensor, got {shape}")
    if min(image.shape[2:]) < 8:
        raise MapError(f"image of {image.shape[3]}×{image.shape[2]} px is too small for a heatmap (< 8 px)")


def check_scales(scales: tuple[float, ...] | list[float], overlap: float) -> tuple[float, ...]:
    """Scales are window sides as fractions of the image's short side, in (0, 1]; coarsest first."""
    values = tuple(float(s) for s in scales)
    if not values:
        raise MapError("at least one scale is needed")
    bad = [s for s in values if not 0.0 < s <= 1.0]
    if bad:
        raise MapError(
            f"scales are window sides as fractions of the image's short side, in (0, 1]; got {bad}"
        )
    if not 0.0 <= overlap < 1.0:
        raise MapError(f"overlap must be in [0, 1), got {overlap}")
    # Coarsest first: the biggest windows are the fewest, so the first (coarse) map arrives soonest.
    return tuple(sorted(dict.fromkeys(values), reverse=True))


def module_device(module: nn.Module) -> torch.device:
    """Where an assessor lives (its first parameter or buffer); parameter-free assessors run on the CPU."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def axis_positions(length: int, size: int, overlap: float) -> list[int]:
    """Evenly spaced window starts covering ``[0, length)`` with at least ``overlap`` shared between
    neighbours; the first window touches the start and the last the end, so every pixel is seen."""
    if size >= length:
        return [0]
    stride = size * (1.0 - overlap)
    count = math.ceil((length - size) / stride - 1e-9) + 1
    return [int(round(i * (length - size) / (count - 1))) for i in range(count)]


def grid_boxes(height: int, width: int, scale: float, overlap: float) -> list[Box]:
    """The square windows of one scale, row by row."""
    size = max(8, int(round(scale * min(height, width))))
    return [
        Box(top, left, size)
        for top in axis_positions(height, size, overlap)
        for left in axis_positions(width, size, overlap)
    ]


def window_weight(size: int, device: torch.device | None = None) -> torch.Tensor:
    """``[size, size]`` weights that favour a window's centre (raised Hann, floor 0.1).

    A crop's score says most about what lies in its middle, and tapering the edges turns the blocky average
    of overlapping squares into a smooth map; the floor keeps image borders, seen by one window only, defined.
    """
    t = (torch.arange(size, dtype=torch.float32, device=device) + 0.5) / size
    w1 = 0.1 + 0.9 * torch.sin(math.pi * t) ** 2
    return w1[:, None] * w1[None, :]


class WindowAccumulator:
    """Weighted average of per-window values spread over the pixels each window covers."""

    def __init__(self, height: int, width: int) -> None:
        self.total = torch.zeros(height, width, dtype=torch.float32)
        self.weight = torch.zeros(height, width, dtype=torch.float32)
        self._windows: dict[int, torch.Tensor] = {}

    def add(self, box: Box, value: float) -> None:
        w = self._windows.get(box.size)
        if w is None:
            w = self._windows[box.size] = window_weight(box.size)
        rows = slice(box.top, box.top + box.size)
        cols = slice(box.left, box.left + box.size)
        self.total[rows, cols] += w * value
        self.weight[rows, cols] += w

    def mean(self) -> torch.Tensor:
        """``[H, W]`` float32; pixels no window covered get the mean of the covered ones."""
        covered = self.weight > 0
        out = torch.zeros_like(self.total)
        out[covered] = self.total[covered] / self.weight[covered]
        if not bool(covered.all()):
            out[~covered] = out[covered].mean() if bool(covered.any()) else 0.0
        return out


def normalize_map(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """Min–max to [0, 1] as float32. A flat map (no region differs) becomes 0.5 everywhere, not noise."""
    arr = values.detach().double().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    arr = np.nan_to_num(arr.astype(np.float64), nan=0.0)
    lo, hi = float(arr.min()), float(arr.max())
    span = hi - lo
    if span <= 1e-12 * max(1.0, abs(hi), abs(lo)):
        return np.full(arr.shape, 0.5, dtype=np.float32)
    return ((arr - lo) / span).astype(np.float32)


def map_preview(map_: np.ndarray) -> torch.Tensor:
    """A map as the ``[1, 1, H, W]`` CPU tensor that :class:`~memstudio.core.jobs.Progress` previews carry."""
    return torch.from_numpy(np.ascontiguousarray(map_, dtype=np.float32))[None, None]


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[N, C, H, W]`` with reflect padding (no dark borders); σ in pixels."""
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(3.0 * sigma)))
    # Reflect padding needs the pad smaller than the side; huge σ on a small image is clipped to fit.
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def resize_map(map_: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``[h, w]`` → ``[height, width]`` bilinear (maps are smooth, so nothing finer is needed)."""
    if tuple(map_.shape) == (height, width):
        return map_
    return F.interpolate(
        map_[None, None].float(), size=(height, width), mode="bilinear", align_corners=False
    )[0, 0]


def batches(items: list, batch_size: int) -> list[list]:
    """Consecutive chunks of at most ``batch_size``."""
    if batch_size < 1:
        raise MapError(f"batch_size must be at least 1, got {batch_size}")
    return [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
