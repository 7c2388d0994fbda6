"""Opening a figure's inputs from names and paths, as the CLI and the studio's batch export are given them."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from memstudio.core.checkpoints import cache_dir
from memstudio.core.directions.base import Direction
from memstudio.core.figures.sources import FigureSources, heatmap_fn, vector_sha256
from memstudio.core.figures.spec import FigureSpecError, parse_seeds

__all__ = [
    "DEFAULT_ASSESSORS",
    "Inputs",
    "edit_parameter_direction",
    "open_inputs",
    "parse_seeds",
    "stored_direction",
]

#: The assessor a figure scores with when none is named: memorability, the property of the papers.
DEFAULT_ASSESSORS = ("resmem",)


@dataclass
class Inputs:
    """Live sources plus what :func:`memstudio.core.figures.build.make_spec` needs to fingerprint them."""

    sources: FigureSources
    spec_args: dict[str, Any]


def open_inputs(
    *,
    generator: str | None,
    photos: Sequence[str | Path],
    directions: Sequence[str | Path],
    assessors: Sequence[str],
    device: torch.device | str = "cpu",
    heatmap: dict[str, Any] | None = None,
) -> Inputs:
    """Load a generator (or nothing, for photos), directions and assessors by name; errors name the input."""
    if (generator is None) == (not photos):
        raise FigureSpecError(
            "give either a generator (--generator) or photos (--photo), not both or neither"
        )
    if not directions:
        raise FigureSpecError("a figure needs a direction file (--direction)")
    for photo in photos:
        if not Path(photo).is_file():
            raise FigureSpecError(f"{photo}: no such photo")
    device = torch.device(device)
    loaded = [(Direction.load(p), Path(p)) for p in directions]
    from memstudio.core.assessors.registry import load_assessor

    scorers = [load_assessor(name, device) for name in (assessors or DEFAULT_ASSESSORS)]
    gen = None
    if generator is not None:
        from memstudio.core.generators.opening import open_generator

        gen = open_generator(generator, device)
    sources = FigureSources(
        directions=[d for d, _ in loaded],
        assessors=scorers,
        generator=gen,
        map_fn=heatmap_fn(heatmap) if heatmap else None,
        device=device,
    )
    spec_args: dict[str, Any] = {
        "directions": loaded,
        "assessors": scorers,
        "generator": gen,
        "generator_source": generator,
    }
    if heatmap:
        spec_args["heatmap"] = heatmap
    return Inputs(sources, spec_args)


def edit_parameter_direction(parameter: str) -> Direction:
    """A direction along one photo-edit parameter (exposure, saturation, …): a unit "edit"-space vector.

    Useful before any direction is trained: a strip of exposure at α = −0.2 … 0.2 shows how the assessors
    respond to that one edit. α moves the unbounded edit coordinate, which tanh maps to the physical edit.
    """
    from memstudio.core.generators.edit_params import PARAMETER_INDEX, PARAMETERS

    if parameter not in PARAMETER_INDEX:
        raise FigureSpecError(
            f"unknown edit parameter {parameter!r}; expected one of {', '.join(p.name for p in PARAMETERS)}"
        )
    vector = torch.zeros(len(PARAMETERS))
    vector[PARAMETER_INDEX[parameter]] = 1.0
    return Direction(
        name=f"edit-{parameter}",
        property=parameter,
        space="edit",
        vector=vector,
        method="edit-parameter",
        generator={"name": "photo", "checkpoint_sha256": None},
    )


def stored_direction(direction: Direction, folder: Path | None = None) -> Path:
    """The direction saved under a name derived from its content, so a figure can cite it as a file.

    Directions made in memory (an edit parameter, one trained in the studio and never saved) are written to
    ``<cache>/figure-directions/<name>-<hash>.json``; the same content always gives the same file, which is
    reused, so figures made earlier keep matching their recorded SHA-256.
    """
    folder = folder if folder is not None else cache_dir() / "figure-directions"
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        k: v for k, v in asdict(direction).items() if k not in ("vector", "layer_weights", "class_vectors")
    }
    digest = hashlib.sha256(vector_sha256(direction).encode())
    digest.update(json.dumps(meta, sort_keys=True, default=str).encode())
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", direction.name).strip("._") or "direction"
    path = folder / f"{slug[:60]}-{digest.hexdigest()[:16]}.json"
    if path.is_file() and path.with_suffix(".safetensors").is_file():
        return path
    # Direction.save writes the tensors, then the JSON, each atomically: a reader never finds half a direction.
    return direction.save(path)
