"""The models and files a figure is drawn from, and their fingerprints in the figure's metadata.

``record_*`` write what a spec must know to find the same inputs again (paths, names, SHA-256);
:func:`open_sources` reads a spec back into live objects and refuses to continue when a file changed since
the figure was made, because then "the identical figure" cannot be promised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.checkpoints import sha256_file
from memstudio.core.directions.base import Direction
from memstudio.core.errors import ModelUnavailableError
from memstudio.core.figures.spec import FigureSpec, FigureSpecError
from memstudio.core.generators.base import Generator

#: ``map_fn(image[1, 3, H, W], assessor) -> map`` (any shape that squeezes to [h, w]); see maps.compute_map.
MapFn = Callable[[torch.Tensor, Assessor], torch.Tensor]


@dataclass
class FigureSources:
    """Live inputs of a figure. ``generator`` is None for photo figures (one editor is built per photo)."""

    directions: list[Direction]
    assessors: list[Assessor]
    generator: Generator | None = None
    map_fn: MapFn | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))


def vector_sha256(direction: Direction) -> str:
    """Content hash of a direction's tensors, for directions that exist only in memory (studio, tests)."""
    digest = hashlib.sha256()
    for tensor in (direction.vector, direction.layer_weights, direction.class_vectors):
        if tensor is not None:
            digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def record_direction(direction: Direction, path: str | Path | None = None) -> dict[str, Any]:
    """A direction's entry in ``FigureSpec.directions``: name, space, files and hashes."""
    entry: dict[str, Any] = {
        "name": direction.name,
        "property": direction.property,
        "space": direction.space,
        "method": direction.method,
        "vector_sha256": vector_sha256(direction),
        "generator": direction.generator,
        "assessor": direction.assessor,
    }
    if path is not None:
        json_path = Path(path).with_suffix(".json")
        entry["path"] = str(json_path.resolve())
        entry["sha256"] = sha256_file(json_path)
        tensors = json_path.with_suffix(".safetensors")
        if tensors.is_file():
            entry["tensors_sha256"] = sha256_file(tensors)
    return entry


def record_assessor(assessor: Assessor) -> dict[str, Any]:
    """An assessor's entry in ``FigureSpec.assessors``: what ``describe`` says, and how its scores print."""
    entry = dict(assessor.describe())
    entry["decimals"] = int(assessor.decimals)
    entry["score_range"] = [float(v) for v in assessor.score_range]
    return entry


def record_generator(generator: Generator, source: str | None) -> dict[str, Any]:
    """``source`` is what ``open_generator`` was given (a registered name or a checkpoint path)."""
    entry = dict(generator.describe())
    entry["source"] = source
    entry["resolution"] = int(generator.resolution)
    if source is not None and Path(source).is_file():
        entry["source"] = str(Path(source).resolve())
    return entry


def record_photo(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    return {"path": str(path.resolve()), "sha256": sha256_file(path)}


def open_sources(
    spec: FigureSpec, device: torch.device | str = "cpu", check_hashes: bool = True
) -> FigureSources:
    """Load the generator, directions and assessors a spec names (heavy imports happen here, lazily)."""
    device = torch.device(device)
    directions = [open_direction(entry, check_hashes) for entry in spec.directions]
    if not directions and spec.kind != "plot":
        raise FigureSpecError("the figure names no direction file")
    assessors = [_spec_assessor(entry, device) for entry in spec.assessors]
    if check_hashes:
        for entry, assessor in zip(spec.assessors, assessors, strict=True):
            check_unchanged(entry.get("checkpoint_sha256"), assessor.checkpoint_hash, f"assessor {entry['name']!r}")
    generator = None
    if spec.is_photo:
        if check_hashes:
            for photo in spec.photos:
                check_unchanged(photo.get("sha256"), sha256_file(_existing(photo["path"], "photo")), photo["path"])
    elif spec.kind != "plot":
        source = spec.generator.get("source") or spec.generator.get("name")
        if not source:
            raise FigureSpecError("the figure names no generator")
        from memstudio.core.generators.opening import open_generator

        generator = open_generator(source, device)
        if check_hashes:
            check_unchanged(spec.generator.get("checkpoint_sha256"), generator.checkpoint_hash, f"generator {source!r}")
    map_fn = heatmap_fn(spec.heatmap) if spec.heatmap else None
    return FigureSources(directions, assessors, generator, map_fn, device)


def _spec_assessor(entry: dict[str, Any], device: torch.device) -> Assessor:
    """The assessor a spec entry names; an ovalized one (``resmem+oval``) is wrapped as it was scored."""
    geometry = entry.get("ovalized")
    if geometry is None:
        return _load_assessor(entry["name"], device)
    from memstudio.core.faces.ovalize import Ovalized

    try:
        return Ovalized(_load_assessor(str(entry["name"]).removesuffix("+oval"), device), geometry=str(geometry))
    except ValueError as exc:
        raise FigureSpecError(f"assessor {entry['name']!r}: {exc}") from exc


def _load_assessor(name: str, device: torch.device) -> Assessor:
    from memstudio.core.assessors.registry import load_assessor

    return load_assessor(name, device)


def heatmap_fn(heatmap: dict[str, Any]) -> MapFn:
    try:
        from memstudio.core.maps import compute_map
    except ImportError as exc:
        raise ModelUnavailableError(f"heatmaps are not available in this installation ({exc})") from exc
    method = heatmap.get("method", "")

    def fn(image: torch.Tensor, assessor: Assessor) -> torch.Tensor:
        return compute_map(image, assessor, method)

    return fn


def open_direction(entry: dict[str, Any], check_hashes: bool, made: str = "figure") -> Direction:
    """The direction a spec (or session, ``made``) entry names, refused when its file changed since then."""
    if "path" not in entry:
        raise FigureSpecError(
            f"direction {entry.get('name')!r} was never saved to a file, so the {made} cannot be re-rendered"
        )
    path = _existing(entry["path"], "direction", made)
    if check_hashes:
        check_unchanged(entry.get("sha256"), sha256_file(path), str(path), made)
        tensors = path.with_suffix(".safetensors")
        if entry.get("tensors_sha256") and tensors.is_file():
            check_unchanged(entry["tensors_sha256"], sha256_file(tensors), str(tensors), made)
    return Direction.load(path)


def _existing(path: str, what: str, made: str = "figure") -> Path:
    p = Path(path)
    if not p.is_file():
        raise FigureSpecError(f"{p}: the {what} this {made} was made from is missing")
    return p


def check_unchanged(recorded: object, actual: object, what: str, made: str = "figure") -> None:
    """Refuse an input whose SHA-256 differs from the one recorded when the figure (or session) was made."""
    if recorded and actual and recorded != actual:
        raise FigureSpecError(
            f"{what}: the file changed since the {made} was made (SHA-256 {str(actual)[:12]}… "
            f"instead of {str(recorded)[:12]}…); the identical {made} cannot be rendered"
        )
