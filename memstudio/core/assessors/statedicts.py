"""Reading the state dicts that assessor papers published: unwrapping training checkpoints, checking shapes.

Research code saved its weights in several wrappers — a bare state dict, ``{"state_dict": …, "epoch": …}``
from an ImageNet-style training script, keys prefixed ``module.`` by ``DataParallel`` or ``model.`` by a
wrapper class. These helpers strip the wrappers and name the first tensor whose shape is not the network's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from memstudio.core.errors import CheckpointError


def tensors_of(obj: Any) -> dict[str, torch.Tensor] | None:
    """The tensor dict inside ``obj`` (itself or its ``state_dict`` entry), None when there is none."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        return None
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    return tensors or None


def strip_prefixes(state: dict[str, torch.Tensor], prefixes: Iterable[str]) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (``module.``, ``model.``) that every key shares, in the order given."""
    for prefix in prefixes:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix) :]: v for k, v in state.items()}
    return state


def check_shapes(
    state: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]], path: Path, what: str
) -> dict[str, torch.Tensor]:
    """``state`` restricted to ``expected``'s keys (floats as float32); else a :class:`CheckpointError`
    naming the first missing or misshapen tensor."""
    out = {}
    for key, shape in expected.items():
        if key not in state:
            raise CheckpointError(f"{path}: not a {what} state dict: missing tensor {key!r} (shape {shape})")
        found = tuple(state[key].shape)
        if found != shape:
            raise CheckpointError(f"{path}: {what} tensor {key!r}: expected shape {shape}, found {found}")
        tensor = state[key].detach()
        out[key] = (tensor.to(torch.float32) if tensor.is_floating_point() else tensor).contiguous()
    return out
