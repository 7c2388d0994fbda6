"""Choosing the torch device and dtype once, so every model agrees on where it lives."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch


def default_device() -> torch.device:
    """CUDA when present (and not disabled with MEMSTUDIO_DEVICE=cpu), else the CPU."""
    wanted = os.environ.get("MEMSTUDIO_DEVICE", "").strip().lower()
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe(device: torch.device) -> str:
    """A short human label for the status bar, e.g. 'CPU (2 threads)' or 'cuda:0 NVIDIA H100'."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} {torch.cuda.get_device_name(index)}"
    return f"CPU ({torch.get_num_threads()} threads)"


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Allow or forbid TF32 in cuDNN convolutions and cuBLAS matrix products inside this block.

    PyTorch lets cuDNN round convolution inputs to TF32 (a 10-bit mantissa) by default. On an H100 that moved
    StyleGAN images by 3e-4 relative; float16 inputs, with the same mantissa, moved the real ResMem's scores of
    the built-in photos by up to 6.6e-4. Scores are what people cite, so they are computed with ``tf32(False)``
    (at batch 1 on an H100: 12 ms instead of 8). The flags are process-wide: use this on the thread that owns
    the models.
    """
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
