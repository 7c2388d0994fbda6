"""Score labels in an image's top-left corner, as in paper 000 Fig. 1/4/9 and paper 001 Fig. 4–5.

Text is set in the DejaVu Sans that matplotlib ships (never a system font), so the same label measures and
rasterises the same on every machine, and the vector backends name the same font.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from PIL import ImageFont

from memstudio.core.figures.fonts import FONT_FAMILY, font_path
from memstudio.core.figures.legend import score_tags, signed
from memstudio.core.figures.scene import Box, RectItem, TextItem
from memstudio.core.figures.spec import LabelStyle


@lru_cache(maxsize=64)
def pil_font(size_px: float, family: str = FONT_FAMILY, bold: bool = False) -> ImageFont.FreeTypeFont:
    """FreeType font at a pixel size (cached: the labels of a figure share a few sizes)."""
    return ImageFont.truetype(str(font_path(family, bold)), size=max(1, int(round(size_px))))


def text_size(text: str, size_px: float, family: str = FONT_FAMILY, bold: bool = False) -> tuple[int, int]:
    """Width and height in pixels of one line set from its ascender line, as the raster backend draws it."""
    font = pil_font(size_px, family, bold)
    left, _, right, _ = font.getbbox(text, anchor="la")
    ascent, descent = font.getmetrics()
    return int(right - min(left, 0)), int(ascent + descent)


def format_score(value: float, decimals: int, sign: bool = False) -> str:
    """A score as printed: fixed decimals, so labels of one figure line up and read alike; ``sign`` prints
    the + of a signed scale's positive scores."""
    return f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}"


def label_lines(
    scores: dict[str, float],
    assessors: Sequence[Mapping[str, Any]],
    style: LabelStyle,
) -> list[str]:
    """One line per assessor: its tag and score (``Mem 0.774``, explained by the legend line), or with
    ``show_names`` the assessor's name (True) or the bare score (False).

    Without tags (figures described before tags existed) names are shown when several scores would
    otherwise be ambiguous, as those figures were drawn."""
    entries = {str(a["name"]): a for a in assessors}
    tags = score_tags(assessors) if style.tags and style.show_names is None else {}
    show_names = style.show_names if style.show_names is not None else len(scores) > 1
    lines = []
    for name, value in scores.items():
        entry = entries.get(name, {})
        places = style.decimals if style.decimals is not None else int(entry.get("decimals", 3))
        text = format_score(value, places, sign=bool(tags) and signed(entry))
        if name in tags:
            lines.append(f"{tags[name]} {text}")
        else:
            lines.append(f"{name} {text}" if show_names else text)
    return lines


def uses_legend(style: LabelStyle) -> bool:
    """The labels print tags, so the figure needs its legend line."""
    return style.tags and style.show_names is None


def wrap_text(
    text: str, size_px: float, width: float, family: str = FONT_FAMILY, separator: str = " · "
) -> list[str]:
    """``text`` broken into lines no wider than ``width`` pixels: between ``separator``-joined entries
    first, then between words, and inside a word only when the word alone is wider than a line (a
    100-character assessor name in a single column)."""

    def fits(line: str) -> bool:
        return text_size(line, size_px, family)[0] <= width

    def pack(parts: list[str], joint: str) -> list[str]:
        lines: list[str] = []
        for part in parts:
            candidate = f"{lines[-1]}{joint}{part}" if lines else part
            if lines and fits(candidate):
                lines[-1] = candidate
            else:
                lines.append(part)
        return lines

    lines = []
    for entry in pack(text.split(separator), separator):
        if fits(entry):
            lines.append(entry)
            continue
        for line in pack(entry.split(" "), " "):
            while not fits(line) and len(line) > 1:
                cut = max(i for i in range(1, len(line)) if fits(line[:i]) or i == 1)
                lines.append(line[:cut])
                line = line[cut:]
            lines.append(line)
    return lines


def label_items(
    x: int, y: int, lines: list[str], style: LabelStyle, clip: Box | None = None
) -> list[RectItem | TextItem]:
    """Items that draw ``lines`` in the top-left corner of a panel whose corner is at (x, y), clipped to
    ``clip`` (the panel) so a label never spills onto a neighbour."""
    if not lines:
        return []
    line_h = text_size("Ag", style.size_px, style.font, style.bold)[1]
    width = max(text_size(line, style.size_px, style.font, style.bold)[0] for line in lines)
    pad = style.padding_px
    left = x + style.margin_px
    top = y + style.margin_px
    items: list[RectItem | TextItem] = []
    if style.mode == "box":
        items.append(
            RectItem(
                left,
                top,
                width + 2 * pad,
                line_h * len(lines) + 2 * pad,
                fill=style.box_color,
                opacity=style.box_opacity,
                clip=clip,
            )
        )
    outline = style.mode == "outline"
    for i, line in enumerate(lines):
        items.append(
            TextItem(
                left + pad,
                top + pad + i * line_h,
                line,
                style.size_px,
                color=style.text_color,
                font=style.font,
                bold=style.bold,
                outline_color=style.outline_color if outline else None,
                outline_px=style.outline_px if outline else 0,
                clip=clip,
            )
        )
    return items


def label_extent(lines: list[str], style: LabelStyle) -> tuple[int, int]:
    """Width and height of the label block including box padding and margin (its footprint on the panel)."""
    if not lines:
        return 0, 0
    line_h = text_size("Ag", style.size_px, style.font, style.bold)[1]
    width = max(text_size(line, style.size_px, style.font, style.bold)[0] for line in lines)
    extra = 2 * style.padding_px + style.margin_px + style.outline_px
    return width + extra, line_h * len(lines) + extra
