"""Conditional editing (paper 001 A.5): project the kept attributes' directions out."""

from __future__ import annotations

import pytest
import torch

from memstudio.core.directions.base import Direction, DirectionError
from memstudio.core.directions.conditional import cosine, make_conditional, orthonormal_basis


def _direction(name: str, vector: torch.Tensor, space: str = "w", **kw: object) -> Direction:
    return Direction(name=name, property=name, space=space, vector=vector, method="hyperplane-logistic", **kw)


def test_projection_is_orthogonal_to_every_kept_direction() -> None:
    g = torch.Generator().manual_seed(0)
    smile, age = torch.randn(32, generator=g), torch.randn(32, generator=g)
    # a memorability direction that correlates with both attributes
    mem = torch.randn(32, generator=g) + 0.8 * smile - 0.6 * age
    direction = _direction("mem", mem, evidence={"beta": 0.9})
    new = make_conditional(direction, [_direction("smile", smile), _direction("age", age)])
    cosines = new.metrics["conditional_cosines"]
    assert abs(cosines["smile"]["before"]) > 0.3 and abs(cosines["age"]["before"]) > 0.2
    for other in (smile, age):
        assert abs(cosine(new.vector, other)) < 1e-6
    assert cosines["smile"]["after"] == pytest.approx(0.0, abs=1e-6)
    assert float(new.vector.norm()) == pytest.approx(float(mem.norm()), rel=1e-5)
    assert new.evidence == {} and new.method == "hyperplane-logistic+conditional"
    assert [k["name"] for k in new.settings["conditional_on"]] == ["smile", "age"]
    # the part of mem outside span(smile, age) is untouched
    basis = orthonormal_basis([smile, age])
    residual = mem.double() - sum((mem.double() @ e) * e for e in basis)
    assert cosine(new.vector, residual) == pytest.approx(1.0, abs=1e-9)


def test_w_direction_against_w_plus_and_class_vectors() -> None:
    g = torch.Generator().manual_seed(1)
    keep = _direction("glasses", torch.randn(8, generator=g))
    w_plus = _direction(
        "mem", torch.randn(4, 8, generator=g), space="w+", class_vectors=torch.randn(3, 4, 8, generator=g)
    )
    new = make_conditional(w_plus, [keep], keep_norm=False)
    expanded = keep.vector.expand(4, 8)
    assert abs(cosine(new.vector, expanded)) < 1e-6
    assert all(abs(cosine(v, expanded)) < 1e-6 for v in new.class_vectors)
    assert float(new.vector.norm()) < float(w_plus.vector.norm())


def test_errors_name_the_problem() -> None:
    a = torch.tensor([1.0, 0.0, 0.0])
    with pytest.raises(DirectionError, match="span"):
        make_conditional(_direction("a", a), [_direction("b", 2 * a)])
    with pytest.raises(DirectionError, match="cannot keep"):
        make_conditional(_direction("a", a), [_direction("z", torch.ones(5), space="z")])
    with pytest.raises(DirectionError, match="at least one"):
        make_conditional(_direction("a", a), [])
