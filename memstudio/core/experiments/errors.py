"""User-facing errors of the memory-game experiments; each message names the file (and line) at fault."""

from __future__ import annotations

from memstudio.core.errors import MemstudioError


class DesignError(MemstudioError):
    """Stimuli or constraints from which no valid memory-game design can be built, or a bad design file."""


class ResponseFormatError(MemstudioError):
    """A response CSV that cannot be scored: malformed rows, unknown images, impossible trial orders."""


def format_problems(header: str, problems: list[str], limit: int = 25) -> str:
    """Join many problems into one message; a person fixes the first ones first, so cap the list."""
    shown = problems[:limit]
    more = len(problems) - len(shown)
    tail = [f"... and {more} more"] if more > 0 else []
    return "\n  ".join([header, *shown, *tail])
