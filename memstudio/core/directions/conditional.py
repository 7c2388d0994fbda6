"""Conditional editing (paper 001 §2.4, A.5): move one property while keeping others fixed.

w_new = w* − Σᵢ (w*ᵀaᵢ) aᵢ removes from the edit direction w* its components along the kept attributes'
normals aᵢ. The formula needs the aᵢ orthonormal, which hyperplane normals of different attributes are not
(smile and age correlate), so the kept directions are first made orthonormal by Gram–Schmidt; the projection
then removes the whole span they cover, and the new direction is orthogonal to every one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from memstudio.core.directions.base import Direction, DirectionError

#: A kept direction whose remainder after Gram–Schmidt is this small (relative) adds nothing to the span.
_DEPENDENT = 1e-6


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two vectors of any (equal) shape."""
    return float(torch.nn.functional.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0))


def orthonormal_basis(vectors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Gram–Schmidt (twice, for round-off) over flattened vectors; dependent vectors are dropped."""
    basis: list[torch.Tensor] = []
    for vector in vectors:
        v = vector.flatten().double()
        scale = float(v.norm())
        for _ in range(2):
            for e in basis:
                v = v - (v @ e) * e
        if scale > 0 and float(v.norm()) > _DEPENDENT * scale:
            basis.append(v / v.norm())
    return basis


def project_out(vector: torch.Tensor, keep: Sequence[torch.Tensor]) -> torch.Tensor:
    """``vector`` minus its projection on the span of ``keep`` (same shape as ``vector``)."""
    v = vector.flatten().double()
    for e in orthonormal_basis(keep):
        v = v - (v @ e) * e
    return v.reshape(vector.shape).to(vector.dtype)


def _comparable(direction: Direction, other: Direction) -> torch.Tensor:
    """``other``'s vector in ``direction``'s space; a W direction is compared to W+ ones layer by layer."""
    if other.space == direction.space and other.vector.shape == direction.vector.shape:
        return other.vector
    if other.space == "w" and direction.space == "w+" and other.vector.shape == direction.vector.shape[1:]:
        return other.vector.expand_as(direction.vector)
    raise DirectionError(
        f"cannot keep {other.name!r} ({other.space}, shape {tuple(other.vector.shape)}) fixed while editing "
        f"with {direction.name!r} ({direction.space}, shape {tuple(direction.vector.shape)})"
    )


def make_conditional(
    direction: Direction, keep: Sequence[Direction], keep_norm: bool = True, name: str | None = None
) -> Direction:
    """A copy of ``direction`` orthogonal to every direction in ``keep``, with cosines before and after.

    ``keep_norm`` rescales the result to the original length so α keeps its scale (a hyperplane normal stays
    a unit vector). The old evidence described the old vector, so it is dropped: evaluate again.
    Class vectors (class-conditional GANalyze) are projected class by class.
    """
    if not keep:
        raise DirectionError("give at least one direction to keep fixed")
    others = [_comparable(direction, other) for other in keep]

    def conditioned(vector: torch.Tensor) -> torch.Tensor:
        new = project_out(vector, others)
        length = float(new.norm())
        if length <= _DEPENDENT * float(vector.norm()):
            raise DirectionError(
                f"{direction.name!r} lies in the span of the kept directions; nothing is left to edit with"
            )
        return new * (float(vector.norm()) / length) if keep_norm else new

    vector = conditioned(direction.vector)
    class_vectors = None
    if direction.class_vectors is not None:
        class_vectors = torch.stack([conditioned(v) for v in direction.class_vectors])
    report = {
        other.name: {"before": cosine(direction.vector, o), "after": cosine(vector, o)}
        for other, o in zip(keep, others, strict=True)
    }
    settings = dict(direction.settings)
    settings["conditional_on"] = [{"name": o.name, "property": o.property, "method": o.method} for o in keep]
    metrics = dict(direction.metrics)
    metrics["conditional_cosines"] = report
    return replace(
        direction,
        name=name or f"{direction.name}-keep-{'-'.join(o.name for o in keep)}",
        vector=vector,
        class_vectors=class_vectors,
        method=f"{direction.method}+conditional",
        settings=settings,
        metrics=metrics,
        evidence={},
    )
