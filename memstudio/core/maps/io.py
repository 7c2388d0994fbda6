"""Saving and loading maps: ``.npy`` keeps the float values, ``.png`` is for people (coloured) or for
datasets (``colormap="gray"``, 8-bit grey that :func:`load_map` reads back)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from memstudio.core.atomic import write_with
from memstudio.core.errors import ImageLoadError
from memstudio.core.maps.colormap import DEFAULT_COLORMAP, apply_colormap, check_map
from memstudio.core.maps.common import MapError
from memstudio.core.npyfile import load_npy

MAP_SUFFIXES = (".npy", ".png")
#: An 8192 × 8192 float32 map; a header claiming more is refused before anything is allocated.
MAX_MAP_BYTES = 1 << 28


def save_map(map_: np.ndarray, path: str | Path, colormap: str = DEFAULT_COLORMAP) -> Path:
    """Write ``map_`` ``[H, W]`` by suffix: ``.npy`` float32 values, ``.png`` the map in ``colormap``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MAP_SUFFIXES:
        raise MapError(
            f"{path}: maps are saved as .npy (values) or .png (picture), not {suffix or 'no suffix'}"
        )
    arr = check_map(map_)
    # Atomic: a map being overwritten is never seen half-written (the overlay may be reading it).
    if suffix == ".npy":
        write_with(path, lambda p: _save_npy(p, arr))
    elif colormap == "gray":
        grey = np.round(arr * 255.0).astype(np.uint8)
        write_with(path, lambda p: Image.fromarray(grey, mode="L").save(p, format="PNG"))
    else:
        rgb = apply_colormap(arr, colormap)
        write_with(path, lambda p: Image.fromarray(rgb, mode="RGB").save(p, format="PNG"))
    return path


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object, so numpy does not add ".npy" to the temporary name
        np.save(f, arr)


def save_picture(rgb: np.ndarray, path: str | Path) -> Path:
    """Write an RGB uint8 picture (a map blended over its photo) as PNG, atomically like the maps."""
    path = Path(path)
    write_with(path, lambda p: Image.fromarray(rgb, mode="RGB").save(p, format="PNG"))
    return path


def load_map(path: str | Path) -> np.ndarray:
    """Read a map saved as ``.npy`` or as a grey image (8- or 16-bit); returns ``[H, W]`` float32 in [0, 1].

    Coloured PNGs are refused: a colormap cannot be inverted reliably (jet passes through grey-like colours).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"{path}: no such map file")
    if path.suffix.lower() == ".npy":
        arr = np.squeeze(load_npy(path, MAX_MAP_BYTES, ImageLoadError))
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            raise ImageLoadError(
                f"{path}: a map is a 2-D numeric array, found {arr.dtype} of shape {arr.shape}"
            )
        return np.clip(arr.astype(np.float32), 0.0, 1.0)
    try:
        with Image.open(path) as im:
            im.load()
            return image_to_map(im, path)
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not an image file, or a format Pillow cannot read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path}: the image claims an implausibly large size ({exc})") from exc
    except OSError as exc:
        raise ImageLoadError(f"{path}: the image data is damaged or truncated ({exc})") from exc


def image_to_map(im: Image.Image, path: Path) -> np.ndarray:
    """A grey (or grey-as-RGB) image → ``[H, W]`` float32 in [0, 1]; colour images are refused."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        return np.clip(arr / (65535.0 if arr.max() > 255 else 255.0), 0, 1).astype(np.float32)
    if im.mode == "F":
        return np.clip(np.asarray(im, dtype=np.float32), 0, 1)
    if im.mode in ("L", "LA", "1"):
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    if np.abs(rgb[..., 0] - rgb[..., 1]).max() > 2 or np.abs(rgb[..., 1] - rgb[..., 2]).max() > 2:
        raise ImageLoadError(
            f"{path}: a coloured image cannot be read back as map values; save maps as .npy or grey PNG"
        )
    return rgb.mean(axis=2).astype(np.float32) / 255.0
