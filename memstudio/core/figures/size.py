"""Physical figure sizes: a width in inches, centimetres or millimetres, or a journal/slide preset.

Journals set figures at a column width (one column ≈ 3.5 in, a full page width ≈ 7.16 in) and ask for text of
at least 6–7 pt after scaling; a figure laid out at its final width with fonts in points needs no scaling.
"""

from __future__ import annotations

import re

from memstudio.core.figures.spec import FigureSpecError

#: Widths in inches: a journal's single column and double column (e.g. IEEE, Elsevier), a 16:9 slide.
WIDTH_PRESETS = {"single": 3.5, "double": 7.16, "slide": 13.33}
WIDTH_NAMES = {"single": "Single column", "double": "Double column", "slide": "Slide"}
_UNITS = {"in": 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4, "pt": 1 / 72}
_WIDTH = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(in|cm|mm|pt)\s*$")


def parse_width(text: str) -> float:
    """``"3.5in"``, ``"8.9cm"``, ``"89mm"`` or a preset name → inches; a bare number is refused (which unit?)."""
    key = text.strip().lower()
    if key in WIDTH_PRESETS:
        return WIDTH_PRESETS[key]
    match = _WIDTH.match(key)
    if not match:
        presets = ", ".join(f"{k} ({v} in)" for k, v in WIDTH_PRESETS.items())
        raise FigureSpecError(f"width {text!r}: give a number with a unit (3.5in, 8.9cm, 89mm) or one of {presets}")
    inches = float(match.group(1)) * _UNITS[match.group(2)]
    if not 0.5 <= inches <= 100:
        raise FigureSpecError(f"width {text!r} is {inches:.2f} in; a figure is 0.5–100 in wide")
    return inches


def pt_to_px(points: float, dpi: float) -> float:
    """Points (1/72 in) to output pixels at ``dpi``."""
    return points * dpi / 72.0
