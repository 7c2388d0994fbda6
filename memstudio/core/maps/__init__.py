"""Memorability heatmaps (issue 6; papers 003 and 004): region, occlusion, gradient and VMS maps.

The public API is re-exported here lazily, so importing one submodule (or this package) does not import
torch and matplotlib until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "METHODS": "api",
    "compute_map": "api",
    "map_job": "api",
    "MapError": "common",
    "apply_colormap": "colormap",
    "colormap_names": "colormap",
    "overlay": "colormap",
    "DEFAULT_COLORMAP": "colormap",
    "save_map": "io",
    "load_map": "io",
    "emphasis_check": "emphasis",
    "emphasis_renders": "emphasis",
    "plan": "regions",
    "predict_vms": "vms_checkpoint",
    "train_job": "vms_train",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
