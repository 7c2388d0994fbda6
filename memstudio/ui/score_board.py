"""What the score box on the canvas says: each assessor's latest value, marked stale until the frame on screen
has its own.

Scores arrive after their frame, cheap ones first (:class:`memstudio.engine.ScoreResult`). A value scored for
an older frame stays visible — a blank box would flicker on every drag — but dimmed and labelled "updating…"
with the frame it belongs to, so a number never claims to describe an image it was not computed on. A value
computed on the face oval says "ovalized", on the canvas as in exported figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstudio.engine import ScoreResult


@dataclass(frozen=True)
class ScoreLine:
    """One line of the canvas score box."""

    name: str
    value: str
    is_error: bool = False
    stale: bool = False
    ovalized: bool = False
    request_id: int = 0

    def text(self) -> str:
        """``resmem 0.895 · ovalized``; stale: ``brightness 0.453 · updating… (frame 41)``."""
        parts = [f"{self.name} {self.value}"]
        if self.ovalized:
            parts.append("ovalized")
        if self.stale:
            parts.append(f"updating… (frame {self.request_id})")
        return " · ".join(parts)


class ScoreBoard:
    """The latest score of each live assessor, with the frame it was computed on."""

    def __init__(self, assessors: tuple[str, ...], decimals: dict[str, int]) -> None:
        self.assessors = assessors
        self._decimals = decimals
        self._cells: dict[str, ScoreLine] = {}
        self._shown = 0

    def set_assessors(self, assessors: tuple[str, ...], decimals: dict[str, int]) -> None:
        """Score these from now on (the studio's live list changed); the values of those kept stay."""
        self.assessors = assessors
        self._decimals = decimals
        self._cells = {name: cell for name, cell in self._cells.items() if name in assessors}

    def frame_shown(self, request_id: int) -> None:
        """A new frame is on the canvas: every value from before it is stale until its own arrive."""
        self._shown = request_id

    def add(self, result: ScoreResult) -> None:
        """Take the values and errors of ``result`` (a frame's cheap or slow assessors)."""
        for name in self.assessors:
            if name in result.values:
                text = f"{result.values[name]:.{self._decimals.get(name, 3)}f}"
                oval = name in result.ovalized
                self._cells[name] = ScoreLine(name, text, False, ovalized=oval, request_id=result.request_id)
            elif name in result.errors:
                self._cells[name] = ScoreLine(name, "error", True, request_id=result.request_id)

    def lines(self) -> list[ScoreLine]:
        """One line per assessor that has a value, in the studio's order, stale ones marked."""
        out = []
        for name in self.assessors:
            cell = self._cells.get(name)
            if cell is not None:
                stale = cell.request_id != self._shown
                out.append(ScoreLine(cell.name, cell.value, cell.is_error, stale, cell.ovalized, cell.request_id))
        return out
