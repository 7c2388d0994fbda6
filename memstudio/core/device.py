"""Choosing the torch device and dtype once, so every model agrees on where it lives."""

from __future__ import annotations

import os

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
