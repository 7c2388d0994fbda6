"""Shared makers for the figure tests: a photo on disk, a hand-made edit-space direction, a tiny assessor,
and a tiny StyleGAN2 with seeded random weights. (No tests here; the module is imported by the others.)"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from memstudio.core.assessors.base import Assessor
from memstudio.core.directions.base import Direction
from memstudio.core.generators.photo import PARAMETER_INDEX


class MeanLuma(Assessor):
    """BT.601 mean luma: a real (tiny) image statistic with a known answer, standing in for a network."""

    name = "luma"
    property = "brightness"
    decimals = 3

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return (images * w).sum(dim=1).mean(dim=(1, 2))


class RedFraction(Assessor):
    """Share of clearly red pixels (000 §3.2 redness, simplified): a second assessor for multi-label tests."""

    name = "red"
    property = "redness"
    decimals = 2

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        r, g, b = images[:, 0], images[:, 1], images[:, 2]
        return torch.sigmoid(40 * (r - torch.maximum(g, b) - 0.1)).mean(dim=(1, 2))


def make_photo(path: Path, size: tuple[int, int] = (96, 80), seed: int = 0) -> Path:
    """A smooth gradient photo with noise: light on one side, dark on the other (label legibility)."""
    rng = np.random.default_rng(seed)
    w, h = size
    xs = np.linspace(0, 1, w)[None, :, None]
    ys = np.linspace(0, 1, h)[:, None, None]
    base = np.concatenate([xs * np.ones_like(ys), ys * np.ones_like(xs), 0.5 * (xs + ys)], axis=2)
    arr = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)
    Image.fromarray(np.round(arr * 255).astype(np.uint8)).save(path)
    return path


def exposure_direction(path: Path | None = None, strength: float = 3.0) -> tuple[Direction, Path | None]:
    """A hand-made 'edit' direction that mostly changes exposure (and a little saturation)."""
    vector = torch.zeros(10)
    vector[PARAMETER_INDEX["exposure"]] = strength
    vector[PARAMETER_INDEX["saturation"]] = 0.5
    d = Direction(name="brighter", property="brightness", space="edit", vector=vector, method="manual")
    if path is None:
        return d, None
    json_path = d.save(path)
    return Direction.load(json_path), json_path


def tiny_stylegan2(seed: int = 0):
    """A real StyleGAN2 architecture at 16 px with seeded random weights (num_ws = 6)."""
    from memstudio.core.generators.stylegan2 import StyleGAN2Generator

    torch.manual_seed(seed)
    g = StyleGAN2Generator(
        z_dim=8,
        c_dim=0,
        w_dim=8,
        img_resolution=16,
        synthesis_kwargs=dict(channel_base=128, channel_max=8),
        mapping_kwargs=dict(num_layers=2),
    )
    return g.eval()


def pdf_text_runs(pdf: bytes) -> list[str]:
    """The strings shown by text operators (Tj/TJ) in a PDF's content streams, one per BT…ET block.

    matplotlib writes Type 42 fonts either with one byte per character or as two-byte codes; both are
    decoded, so the label text can be found without pdftotext.
    """
    runs = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(match.group(1))
        except zlib.error:
            content = match.group(1)
        for block in re.findall(rb"BT(.*?)ET", content, re.S):
            text = ""
            for segment in re.findall(rb"/F(\d+)\s+[\d.]+\s+Tf(.*?)(?=/F\d+\s+[\d.]+\s+Tf|$)", block, re.S):
                for literal in _literals(segment[1]):
                    pairs = len(literal) % 2 == 0 and all(b == 0 for b in literal[0::2])
                    text += literal[1::2].decode("latin-1") if pairs else literal.decode("latin-1")
            runs.append(text)
    return runs


def _literals(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        if data[i : i + 1] == b"(":
            depth, j, buf = 1, i + 1, bytearray()
            while depth:
                c = data[j : j + 1]
                if c == b"\\":
                    nxt = data[j + 1 : j + 2]
                    buf += {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(nxt, nxt)
                    j += 2
                    continue
                depth += (c == b"(") - (c == b")")
                if depth:
                    buf += c
                j += 1
            out.append(bytes(buf))
            i = j
        else:
            i += 1
    return out
