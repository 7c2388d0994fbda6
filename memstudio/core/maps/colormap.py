"""Maps as colours: a matplotlib colormap (jet by default, like paper 004 Fig. 7) and an overlay on the photo.

matplotlib's colormaps are the reference implementations users know from papers and notebooks, so the
studio's jet is exactly the one in the figures; only the lookup is done here, with no figure or backend.
"""

from __future__ import annotations

import numpy as np

from memstudio.core.maps.common import MapError

DEFAULT_COLORMAP = "jet"
#: Lookup-table size: 8-bit PNGs cannot show more levels than this.
_LUT_SIZE = 256


def colormap_names() -> list[str]:
    """Names ``apply_colormap`` accepts (matplotlib's registered colormaps), sorted for menus."""
    import matplotlib

    return sorted(matplotlib.colormaps)


def _lookup(name: str) -> np.ndarray:
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError as exc:
        raise MapError(f"unknown colormap {name!r}; try jet, viridis, inferno, magma, turbo or gray") from exc
    return cmap(np.linspace(0.0, 1.0, _LUT_SIZE))[:, :3]


def check_map(map_: np.ndarray) -> np.ndarray:
    """A map must be a 2-D array of finite numbers; values are clipped to [0, 1]."""
    arr = np.asarray(map_)
    if arr.ndim != 2:
        raise MapError(f"a map is a 2-D [H, W] array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise MapError("a map must hold finite numbers (found NaN, infinity or non-numbers)")
    return np.clip(arr.astype(np.float32), 0.0, 1.0)


def apply_colormap(map_: np.ndarray, colormap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """``[H, W]`` in [0, 1] → ``[H, W, 3]`` uint8 RGB (0 → the colormap's low end, 1 → its high end)."""
    arr = check_map(map_)
    lut = np.round(_lookup(colormap) * 255.0).astype(np.uint8)
    index = np.round(arr * (_LUT_SIZE - 1)).astype(np.intp)
    return lut[index]


def overlay(
    image_rgb_uint8: np.ndarray, map_: np.ndarray, colormap: str = DEFAULT_COLORMAP, opacity: float = 0.5
) -> np.ndarray:
    """Blend the coloured map over an ``[H, W, 3]`` uint8 photo: ``(1 − opacity)·photo + opacity·colour``.

    A map of another size (e.g. a VMS prediction) is resized to the photo, bilinearly.
    """
    photo = np.asarray(image_rgb_uint8)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise MapError(f"overlay needs an [H, W, 3] uint8 RGB image, got {photo.shape} {photo.dtype}")
    if not 0.0 <= opacity <= 1.0:
        raise MapError(f"opacity must be in [0, 1], got {opacity}")
    arr = check_map(map_)
    if arr.shape != photo.shape[:2]:
        from PIL import Image

        resized = Image.fromarray(arr, mode="F").resize(
            (photo.shape[1], photo.shape[0]), Image.Resampling.BILINEAR
        )
        arr = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    colour = apply_colormap(arr, colormap).astype(np.float32)
    blended = (1.0 - opacity) * photo.astype(np.float32) + opacity * colour
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)
