"""A score that does not exist, with the reason: "n/a · no face" instead of a made-up number.

Some assessors cannot score every image — facial-expression valence needs a face. Their missing scores travel
as :class:`Unavailable` values (torch-free, so the studio's requests and results can carry them): formatted
they read ``n/a · no face`` whatever the format spec (tables, the property strip and the canvas overlay print
them unchanged), in JSON they are ``null`` with the reason beside, and :func:`number` — what every consumer
that needs arithmetic (directions, heatmaps, figures) goes through — raises :class:`ScoreUnavailableError`
saying why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from memstudio.core.errors import ScoreUnavailableError


@dataclass(frozen=True)
class Unavailable:
    """No score for this image: ``reason`` for messages (``"no face found"``), ``short`` for narrow cells."""

    reason: str
    short: str

    def __format__(self, spec: str) -> str:
        return f"n/a · {self.short}"

    def __str__(self) -> str:
        return f"n/a · {self.short}"

    def __float__(self) -> float:
        raise ScoreUnavailableError(f"no score: {self.reason}")


#: A displayed score: a number, or why there is none.
Score = float | Unavailable

#: What a NaN from an assessor that did not say why means.
NOT_A_NUMBER = Unavailable("the assessor returned no number", "no number")


def as_score(value: float, unavailable: Unavailable | None = None) -> Score:
    """``value``, or ``unavailable`` (the assessor's reason) when it is NaN."""
    value = float(value)
    return (unavailable or NOT_A_NUMBER) if math.isnan(value) else value


def number(score: Score, assessor: str, purpose: str = "this") -> float:
    """The score as a float for arithmetic; :class:`ScoreUnavailableError` naming the assessor and why not."""
    if isinstance(score, Unavailable):
        raise ScoreUnavailableError(
            f"{assessor} has no score for this image ({score.reason}); {purpose} needs a number"
        )
    return float(score)
