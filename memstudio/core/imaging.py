"""Reading any image a user drops in, safely, and converting between PIL and the tensor convention.

The convention everywhere in memstudio: an image batch is a float tensor ``[N, 3, H, W]``, RGB, in [0, 1].
Loading is defensive because photos arrive in every shape: EXIF rotation, CMYK, 16-bit, palette, alpha,
animations, decompression bombs and 100-megapixel camera files.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from memstudio.core.errors import ImageLoadError

if TYPE_CHECKING:
    import torch

#: Longest side an image is reduced to when loaded for editing and scoring. Assessors look at 227-px
#: crops, so keeping 12000×9000 pixels resident would only cost memory and render time.
DEFAULT_MAX_SIDE = 2048

#: Extensions the seed browser offers; loading itself trusts the bytes, not the name.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class LoadedImage:
    """A decoded RGB photo plus what the user should know about how it was read."""

    image: Image.Image
    path: Path
    original_size: tuple[int, int]
    notes: tuple[str, ...] = ()


def _pixel_limit() -> int:
    # Pillow raises DecompressionBombError above twice MAX_IMAGE_PIXELS; we use the same line.
    limit = Image.MAX_IMAGE_PIXELS or 89_478_485
    return 2 * int(limit)


def load_image(path: str | Path, max_side: int = DEFAULT_MAX_SIDE) -> LoadedImage:
    """Decode ``path`` as an upright RGB image no larger than ``max_side`` on its longest side.

    Raises :class:`ImageLoadError` with a specific reason for every way a file can fail.
    """
    path = Path(path)
    if not path.exists():
        raise ImageLoadError(f"{path}: no such file")
    if path.is_dir():
        raise ImageLoadError(f"{path}: is a folder, not an image")
    size = path.stat().st_size
    if size == 0:
        raise ImageLoadError(f"{path}: the file is empty (0 bytes)")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            # Files between Pillow's warning and error thresholds are fine: we decode them reduced.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if width * height > _pixel_limit():
                    raise ImageLoadError(
                        f"{path}: {width}×{height} pixels is above the safety limit of "
                        f"{_pixel_limit():,} pixels (possible decompression bomb); not loaded"
                    )
                if getattr(im, "n_frames", 1) > 1:
                    notes.append(f"animated image with {im.n_frames} frames: using the first")
                    im.seek(0)
                if im.format == "JPEG" and max(width, height) > 2 * max_side:
                    # Decode at 1/2, 1/4 or 1/8 scale in libjpeg: a 12000×9000 photo never exists in RAM.
                    im.draft("RGB", (max_side, max_side))
                im.load()
                oriented = ImageOps.exif_transpose(im)
                rgb = _to_rgb(oriented, notes)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path}: {exc} (possible decompression bomb); not loaded") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not an image file, or a format Pillow cannot read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{path}: the image data is damaged or truncated ({exc})") from exc
    if max(rgb.size) > max_side:
        notes.append(f"reduced from {width}×{height} to fit {max_side} px for editing")
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return LoadedImage(image=rgb, path=path, original_size=(width, height), notes=tuple(notes))


def _to_rgb(im: Image.Image, notes: list[str]) -> Image.Image:
    """Convert any mode to 8-bit RGB; alpha is composited over white, as a viewer would show it."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        notes.append("16-bit image converted to 8 bits")
        arr8 = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, mode="L").convert("RGB")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr8 = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo)
        return Image.fromarray(np.round(arr8 * 255).astype(np.uint8), mode="L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        notes.append("transparency composited over white")
        rgba = im.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    if im.mode == "CMYK":
        notes.append("CMYK converted to RGB")
    return im.convert("RGB")


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB → ``[1, 3, H, W]`` float32 in [0, 1]."""
    import torch  # imported here so the window can list photos before torch has loaded

    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)


def tensor_to_pil(batch: torch.Tensor, index: int = 0) -> Image.Image:
    """One image of an ``[N, 3, H, W]`` batch in [0, 1] → PIL RGB, rounded to the nearest 8-bit value."""
    img = batch[index].detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(img, mode="RGB")


def tensor_to_uint8(batch: torch.Tensor) -> np.ndarray:
    """``[N, 3, H, W]`` in [0, 1] → ``[N, H, W, 3]`` uint8, for painting and saving."""
    import torch

    levels = batch.detach().float().clamp(0, 1).mul_(255).round_().to(torch.uint8)
    return levels.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def list_images(folder: str | Path) -> list[Path]:
    """Image files in ``folder`` (not recursive), sorted by name, judged by suffix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageLoadError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files stay files; folders expand to the images they hold, so CLI and drag-and-drop agree."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(list_images(p) if p.is_dir() else [p])
    return out


def read_path_list(list_file: str | Path) -> list[Path]:
    """The images a list names: a ``.csv`` with a ``path`` column (else its first column), or a text file
    with one path per line (blank lines and ``#`` comments skipped).

    Relative paths are taken from the list's own folder, so a dataset's list works from anywhere.
    """
    import csv

    list_file = Path(list_file)
    try:
        text = list_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageLoadError(f"{list_file}: cannot read the list of images: {exc}") from exc
    if list_file.suffix.lower() == ".csv":
        rows = list(csv.reader(text.splitlines()))
        if not rows:
            raise ImageLoadError(f"{list_file}: the CSV is empty")
        header = [cell.strip().lower() for cell in rows[0]]
        column = header.index("path") if "path" in header else 0
        names = [row[column].strip() for row in rows[1:] if len(row) > column and row[column].strip()]
    else:
        names = [line.strip() for line in text.splitlines()]
        names = [name for name in names if name and not name.startswith("#")]
    return [p if p.is_absolute() else list_file.parent / p for p in map(Path, names)]
