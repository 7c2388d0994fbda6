"""Builders of the awkward image files users drop in, shared by the core, CLI and GUI tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def zero_byte(folder: Path) -> Path:
    path = folder / "empty.jpg"
    path.write_bytes(b"")
    return path


def truncated_jpeg(folder: Path) -> Path:
    full = folder / "full.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(full, quality=90)
    data = full.read_bytes()
    path = folder / "truncated.jpg"
    path.write_bytes(data[: len(data) // 3])
    return path


def text_as_jpeg(folder: Path) -> Path:
    path = folder / "notes.jpg"
    path.write_text("these are my notes, not a photo\n" * 20)
    return path


def decompression_bomb_png(folder: Path) -> Path:
    """A tiny file declaring 20000×20000 pixels: above Pillow's limit (2 × 89.5 Mpx)."""
    width = height = 20000
    raw = b"".join(b"\x00" + b"\x00" * ((width + 7) // 8) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    path = folder / "bomb.png"
    path.write_bytes(png)
    return path


def cmyk_jpeg(folder: Path) -> Path:
    path = folder / "cmyk.jpg"
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(path)  # pure red in CMYK
    return path


def png16(folder: Path) -> Path:
    path = folder / "deep.png"
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    Image.fromarray(ramp).save(path)
    return path


def grayscale(folder: Path) -> Path:
    path = folder / "gray.png"
    Image.new("L", (40, 30), 128).save(path)
    return path


def rgba(folder: Path) -> Path:
    path = folder / "alpha.png"
    im = Image.new("RGBA", (40, 30), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (0, 0, 20, 30))
    im.save(path)
    return path


def exif_rotated(folder: Path) -> Path:
    """Stored landscape 60×40 with orientation 6 (rotate 90° CW to view): shown upright as 40×60."""
    path = folder / "rotated.jpg"
    im = Image.new("RGB", (60, 40), (255, 255, 255))
    im.paste((255, 0, 0), (0, 0, 10, 40))  # red band on the stored left edge → top after rotation
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(path, exif=exif.tobytes(), quality=95)
    return path


def animated_gif(folder: Path) -> Path:
    path = folder / "anim.gif"
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def one_pixel(folder: Path) -> Path:
    path = folder / "pixel.png"
    Image.new("RGB", (1, 1), (10, 200, 30)).save(path)
    return path


def huge_jpeg(folder: Path) -> Path:
    """A 12000×9000 JPEG (108 Mpx, above Pillow's warning line): must load reduced, without a memory blow-up."""
    path = folder / "huge.jpg"
    small = Image.linear_gradient("L").resize((1200, 900)).convert("RGB")
    small.resize((12000, 9000), Image.Resampling.NEAREST).save(path, quality=70)
    return path


BAD = {
    "zero_byte": zero_byte,
    "truncated_jpeg": truncated_jpeg,
    "text_as_jpeg": text_as_jpeg,
    "decompression_bomb": decompression_bomb_png,
}
AWKWARD = {
    "cmyk": cmyk_jpeg,
    "png16": png16,
    "grayscale": grayscale,
    "rgba": rgba,
    "exif": exif_rotated,
    "gif": animated_gif,
    "one_pixel": one_pixel,
}
