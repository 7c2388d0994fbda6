"""What a map's colours stand for: the raw range behind a normalised map, in the assessor's units, with ticks.

Every method returns maps normalised per image (min → 0, max → 1, see :mod:`.common`), which is what the
colours show; a colour bar that only says "less … more" hides how big the differences are. Region and
occlusion maps are averages of assessor scores, so their 0 and 1 stand for real scores (ResMem
memorability 0.61 … 0.74, say), and the bar is labelled with those. Gradient and VMS maps have no such units:
their bar says "normalised" and runs 0 … 1. Pure Python, so the studio's GUI thread can use it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class MapScale:
    """``low``/``high``: the raw values of the map's 0 and 1 (None: no units, only the ranking);
    ``quantity``: what they measure, for the bar's label."""

    quantity: str
    low: float | None = None
    high: float | None = None
    normalised: bool = True

    @property
    def has_units(self) -> bool:
        return self.low is not None and self.high is not None

    def value(self, position: float) -> float:
        """The raw value at a normalised map value (itself when the map has no units)."""
        if not self.has_units:
            return float(position)
        return float(self.low + position * (self.high - self.low))

    def bounds(self) -> tuple[float, float]:
        """The bar's ends: the raw range, or 0 … 1 without units."""
        return (float(self.low), float(self.high)) if self.has_units else (0.0, 1.0)

    def ticks(self, count: int = 5) -> list[tuple[float, str]]:
        """``(position in [0, 1] along the bar, label)`` at round values inside the range, ends included."""
        low, high = self.bounds()
        values = nice_ticks(low, high, count)
        digits = tick_decimals(values)
        span = high - low
        out = []
        for v in values:
            position = 0.5 if span <= 0 else (v - low) / span
            # The ends are the map's real extremes: three significant digits, however round the inner ticks.
            places = max(digits, _significant(v, 3)) if v in (low, high) else digits
            out.append((min(max(position, 0.0), 1.0), f"{v:.{places}f}"))
        return out

    def label(self) -> str:
        """The bar's label: the quantity, and how the map was normalised."""
        if not self.has_units:
            return f"{self.quantity} (normalised per image: 0 = least, 1 = most)"
        return f"{self.quantity} (map normalised per image: colours span {self.low:.4g} … {self.high:.4g})"

    def describe(self, position: float) -> str:
        """A status-line reading of one map value: raw units and the normalised value."""
        if not self.has_units:
            return f"{position:.3f} (normalised)"
        return f"{self.value(position):.4f} ({position:.0%} of the map's range)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MapScale:
        low, high = data.get("low"), data.get("high")
        return cls(
            quantity=str(data.get("quantity", "map value")),
            low=None if low is None else float(low),
            high=None if high is None else float(high),
            normalised=bool(data.get("normalised", True)),
        )


def quantity_of(method: str, assessor_name: str, assessor_property: str = "") -> str:
    """What a method's raw map measures, in words."""
    what = assessor_name if assessor_property in ("", assessor_name) else f"{assessor_name} {assessor_property}"
    if method == "regions":
        return f"{what} of the windows covering a pixel"
    if method == "occlusion":
        return f"{what} lost when the patch is hidden"
    if method == "gradient":
        return f"gradient of {what}"
    return "VMS predicted memorability"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (steps of 1, 2 or 5 × 10ⁿ) between ``low`` and ``high``, plus both ends
    when no round value lies close to them, so the bar's extremes are always readable."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    inner = []
    v = first
    while v <= high + 1e-9 * step:
        inner.append(round(v, 12))
        v += step
    close = 0.3 * step
    out = [low] if not inner or inner[0] - low > close else []
    out += inner
    if high - out[-1] > close:
        out.append(high)
    return out


def tick_decimals(values: list[float]) -> int:
    """Enough decimals to tell neighbouring ticks apart (at least 2, at most 6)."""
    if len(values) < 2:
        return 3
    gap = min(b - a for a, b in zip(values, values[1:], strict=False))
    if gap <= 0:
        return 3
    return int(min(6, max(2, math.ceil(-math.log10(gap)) + 1)))


def _significant(value: float, digits: int) -> int:
    """Decimals that show ``digits`` significant digits of ``value`` (at most 6)."""
    if value == 0 or not math.isfinite(value):
        return 0
    return int(min(6, max(0, digits - 1 - math.floor(math.log10(abs(value))))))


#: Methods whose maps average assessor scores, so their colour bar can speak in the assessor's units.
SCALED_METHODS = ("regions", "occlusion")


def scale_for(method: str, assessor_name: str, assessor: Any, raw_range: tuple[float, float] | None) -> MapScale:
    """The colour bar's meaning for a ``method`` map by ``assessor`` whose raw range was ``raw_range``."""
    name = assessor_name if assessor is not None else ""
    quantity = quantity_of(method, name, str(getattr(assessor, "property", "") or ""))
    if raw_range is None:
        return MapScale(quantity)
    return MapScale(quantity, raw_range[0], raw_range[1])
