"""Training data for the VMS predictor: (image, map) pairs from a folder.

Layout (pairs match by file stem)::

    DATA_DIR/images/NAME.jpg   (any image format memstudio reads)
    DATA_DIR/maps/NAME.png     (grey 8/16-bit PNG: value = brightness) or NAME.npy ([H, W] floats in [0, 1])

Optionally with a fixed split: ``DATA_DIR/train/{images,maps}`` and ``DATA_DIR/val/{images,maps}``;
otherwise ``val_fraction`` of the pairs, chosen by the seed, are held out for the validation L1.
Everything is resized to ``image_size`` squares once and kept in memory as uint8 images and float16 maps
(VISCHEMA-sized sets fit easily; decoding JPEGs every epoch would dominate CPU training time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from memstudio.core.errors import ImageLoadError, MemstudioError
from memstudio.core.imaging import IMAGE_SUFFIXES, load_image
from memstudio.core.maps.io import load_map

MAP_FILE_SUFFIXES = (".png", ".npy", ".tif", ".tiff", ".bmp")


class DatasetError(MemstudioError):
    """A VMS training folder is missing parts or holds unmatched or unreadable pairs."""


@dataclass(frozen=True)
class PairSet:
    """Pairs in memory: images ``[N, 3, S, S]`` uint8, maps ``[N, C, S, S]`` float16 in [0, 1]."""

    images: torch.Tensor
    maps: torch.Tensor
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float batches in [0, 1] for the given rows."""
        return self.images[index].float() / 255.0, self.maps[index].float()


def find_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(image, map) paths of ``folder/images`` and ``folder/maps`` matched by stem, sorted by name."""
    image_dir, map_dir = folder / "images", folder / "maps"
    for d in (image_dir, map_dir):
        if not d.is_dir():
            raise DatasetError(
                f"{folder}: expected a folder {d.name}/ (layout: images/NAME.jpg + maps/NAME.png)"
            )
    images = {p.stem: p for p in sorted(image_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    maps = {p.stem: p for p in sorted(map_dir.iterdir()) if p.suffix.lower() in MAP_FILE_SUFFIXES}
    common = sorted(set(images) & set(maps))
    if not common:
        raise DatasetError(
            f"{folder}: no image in images/ has a map of the same name in maps/ "
            f"({len(images)} images, {len(maps)} maps)"
        )
    return [(images[s], maps[s]) for s in common]


def _load_map_array(path: Path, channels: int) -> np.ndarray:
    """``[C, H, W]`` float32 in [0, 1]."""
    if channels == 1 or path.suffix.lower() == ".npy":
        arr = load_map(path)[None]
        return np.repeat(arr, channels, axis=0)
    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except OSError as exc:
        raise ImageLoadError(f"{path}: unreadable map image ({exc})") from exc
    return rgb.transpose(2, 0, 1)


def _resize_channels(arr: np.ndarray, size: int) -> np.ndarray:
    return np.stack(
        [
            np.asarray(Image.fromarray(c, mode="F").resize((size, size), Image.Resampling.BILINEAR))
            for c in arr
        ]
    )


def load_pairs(pairs: list[tuple[Path, Path]], image_size: int, map_channels: int) -> PairSet:
    """Decode and resize every pair; errors name the file."""
    images = np.empty((len(pairs), 3, image_size, image_size), dtype=np.uint8)
    maps = np.empty((len(pairs), map_channels, image_size, image_size), dtype=np.float16)
    for i, (image_path, map_path) in enumerate(pairs):
        photo = load_image(image_path).image.resize((image_size, image_size), Image.Resampling.BILINEAR)
        images[i] = np.asarray(photo, dtype=np.uint8).transpose(2, 0, 1)
        m = _load_map_array(map_path, map_channels)
        maps[i] = np.clip(_resize_channels(m.astype(np.float32), image_size), 0.0, 1.0)
    names = tuple(p[0].stem for p in pairs)
    return PairSet(torch.from_numpy(images), torch.from_numpy(maps), names)


def load_dataset(
    folder: str | Path, image_size: int, map_channels: int, val_fraction: float, seed: int
) -> tuple[PairSet, PairSet]:
    """(train, val) from the documented layout; a fixed train/ + val/ split wins over ``val_fraction``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder")
    if (folder / "train").is_dir() and (folder / "val").is_dir():
        train = find_pairs(folder / "train")
        val = find_pairs(folder / "val")
    else:
        pairs = find_pairs(folder)
        if len(pairs) < 2:
            raise DatasetError(
                f"{folder}: need at least 2 pairs to hold one out for validation, found {len(pairs)}"
            )
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
        n_val = min(len(pairs) - 1, max(1, round(len(pairs) * val_fraction)))
        val = [pairs[i] for i in sorted(order[:n_val])]
        train = [pairs[i] for i in sorted(order[n_val:])]
    return load_pairs(train, image_size, map_channels), load_pairs(val, image_size, map_channels)
