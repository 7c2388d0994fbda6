"""Directions that ship with memstudio (read-only package data), and what a photo direction is made of.

The studio opens every shipped direction on start, so the photo editor has a Memorability slider before anyone
has trained anything. A photo direction is a vector over the editor's parameters as one editor version renders
them; a direction trained on another version is refused with both versions named. Which parameters carry a
direction (θ per edit parameter, normalised) is the confound a user should see next to β: a "memorability"
direction that is mostly "zoom in" is a zoom slider.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.generators.edit_params import EDITOR_VERSION, PARAMETERS

if TYPE_CHECKING:
    import torch

    from memstudio.core.directions.base import Direction

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
#: Loadings below this share of the largest one are left out of the one-line summary.
SUMMARY_SHARE = 0.25


def shipped_direction_paths() -> list[Path]:
    """The shipped direction files (``NAME.json`` beside ``NAME.safetensors``), sorted by name."""
    if not SHIPPED_DIR.is_dir():
        return []
    return sorted(p for p in SHIPPED_DIR.glob("*.json") if p.with_suffix(".safetensors").is_file())


def is_shipped(path: str | Path) -> bool:
    """Whether ``path`` is one of the shipped direction files (package data, never written to)."""
    try:
        return Path(path).resolve().parent == SHIPPED_DIR
    except (OSError, ValueError):
        return False


def check_editor_version(direction: Direction, source: str, required: bool = False) -> None:
    """Refuse a photo direction trained on another photo-editor version, naming both versions.

    Files written before the editor had versions carry none; they are accepted unless ``required`` (shipped
    directions must say which editor they were trained on).
    """
    from memstudio.core.directions.base import DirectionError

    if direction.space != "edit":
        return
    version = direction.generator.get("editor_version")
    if version is None and not required:
        return
    if version != EDITOR_VERSION:
        said = "no editor version" if version is None else f"photo editor version {version}"
        raise DirectionError(
            f"{source}: photo direction {direction.name!r} was trained on {said}, "
            f"this photo editor is version {EDITOR_VERSION}; retrain it for this version"
        )


def edit_loadings(vector: torch.Tensor) -> dict[str, float]:
    """θ per edit parameter, normalised to unit length, largest magnitude first (the direction's make-up)."""
    values = [float(v) for v in vector.detach().float().cpu().reshape(-1)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    loadings = {p.name: v / norm for p, v in zip(PARAMETERS, values, strict=True)}
    return dict(sorted(loadings.items(), key=lambda item: -abs(item[1])))


def loadings_summary(loadings: dict[str, float], most: int = 3) -> str:
    """"mostly: vignette −, exposure +, sharpness −": the parameters that carry the direction, with their sign."""
    ranked = sorted(loadings.items(), key=lambda item: -abs(item[1]))
    if not ranked or ranked[0][1] == 0:
        return "mostly: nothing (θ is zero)"
    top = abs(ranked[0][1])
    kept = [(name, v) for name, v in ranked[:most] if abs(v) >= SUMMARY_SHARE * top]
    return "mostly: " + ", ".join(f"{name} {'+' if v > 0 else '−'}" for name, v in kept)
