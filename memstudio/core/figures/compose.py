"""Layouts of the papers' figures: strips (000 Fig. 1/4), seed × α grids, layers × coefficient (001 Fig. 9).

A figure is composed as horizontal bands: a header (title and α column labels) and one band per row (a seed,
a photo, a layer, or a heatmap row). A whole figure is its bands stacked; a streamed export writes the same
bands one at a time, so both give the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from memstudio.core.figures.label import label_extent, label_items, label_lines, text_size, uses_legend, wrap_text
from memstudio.core.figures.legend import legend_entries
from memstudio.core.figures.render import Panel
from memstudio.core.figures.scene import ImageItem, RectItem, Scene, TextItem
from memstudio.core.figures.size import pt_to_px
from memstudio.core.figures.spec import FigureSpec, FigureSpecError, LabelStyle

#: Width of the frame that marks the original (α = 0) column, in pixels.
FRAME_PX = 3
#: Captions are shrunk to fit a narrow column, never below this (pixels; points at a physical width).
MIN_TEXT = 6.0
#: Score-label padding, margin and outline at a physical width, in points.
LABEL_PAD_PT, LABEL_MARGIN_PT, LABEL_OUTLINE_PT = 1.0, 1.5, 0.5


@dataclass(frozen=True)
class Geometry:
    """Where everything goes, decided once per figure from the panel size and the labels."""

    panel_w: int
    panel_h: int
    columns: int
    left: int  # room for row labels
    gap: int
    header_h: int
    title_h: int
    label_px: float
    #: The score labels' style in output pixels (the spec's, or derived from points at a physical width).
    label: LabelStyle
    frame: int
    min_text_px: float = MIN_TEXT
    #: Pixels left over at the right when a physical width does not divide evenly into columns.
    extra: int = 0
    #: Panels are scaled into their slots (physical width) instead of placed at their own pixel size.
    scaled: bool = False
    caption_h: int = 0
    #: Score labels print each assessor's name on its own line (a narrow panel at a physical width).
    split_names: bool = False
    #: The caption and the labels' legend, wrapped to the figure's width (``caption_h`` is their height).
    caption_lines: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return self.left + self.columns * (self.panel_w + self.gap) + self.gap + self.extra

    @property
    def row_h(self) -> int:
        return self.panel_h + self.gap

    @property
    def top_h(self) -> int:
        return self.title_h + self.header_h + self.gap - self.panel_top

    @property
    def panel_top(self) -> int:
        """Panels sit this far below their band's top, leaving room for the original's frame."""
        return self.gap // 2

    @property
    def frame_px(self) -> int:
        return min(self.frame, self.gap // 2)

    def display_size(self, pixels: np.ndarray) -> tuple[int, int]:
        """(width, height) a panel takes in the figure: its own pixels, or fitted into its slot."""
        h, w = pixels.shape[:2]
        if not self.scaled:
            return w, h
        scale = min(self.panel_w / w, self.panel_h / h)
        return max(1, round(w * scale)), max(1, round(h * scale))

    def column_x(self, col: int) -> int:
        return self.left + self.gap + col * (self.panel_w + self.gap)


def alpha_text(alpha: float) -> str:
    """Column caption; the unedited column says so, as the papers' "original" middle column.

    Layerwise grids use the same α: their coefficient is the α of ``latent + α·d`` on one layer."""
    if alpha == 0.0:
        return "original"
    return f"α = {alpha:+g}".replace("-", "−")


def row_text(seed: int | str, layer: int | None) -> str:
    """Row caption: the layer of a layerwise grid, the seed of a GAN row, or the photo's file name."""
    if layer is not None:
        return f"layer {layer}"
    if isinstance(seed, str):
        return seed.replace("\\", "/").rsplit("/", 1)[-1]
    return f"seed {seed}"


def figure_caption(spec: FigureSpec) -> str:
    """What the figure shows, for its caption line: each direction's property, method and assessor, and
    the assessors whose scores the labels print (unless the legend line names them already)."""
    parts = []
    for d in spec.directions:
        how = ", ".join(str(v) for v in (d.get("method"), d.get("assessor")) if v)
        parts.append(f"edit: {d.get('property') or d.get('name') or 'direction'}" + (f" ({how})" if how else ""))
    if uses_legend(spec.label):
        return " · ".join(parts)
    scores = [
        f"{a['name']} ({a['property']})" if a.get("property") not in (None, "", a["name"]) else str(a["name"])
        for a in spec.assessors
    ]
    if scores:
        parts.append("scores: " + ", ".join(scores))
    return " · ".join(parts)


def legend_text(spec: FigureSpec) -> str:
    """The legend line of the score labels' tags, empty when the labels print names or bare scores."""
    if not uses_legend(spec.label) or not spec.assessors:
        return ""
    return " · ".join(legend_entries(spec.assessors))


def header_lines(spec: FigureSpec, size_px: float, width: float) -> tuple[str, ...]:
    """The caption and the legend, each wrapped to ``width`` pixels: a long assessor name takes a second
    line instead of shrinking the text below 6 pt or running off the page."""
    texts = [t for t in (spec.output.caption, legend_text(spec)) if t]
    return tuple(line for text in texts for line in wrap_text(text, size_px, width - 2))


def caption_gap(lines: tuple[str, ...], gap: int) -> int:
    """Space between the caption block and the α labels, so the legend never touches them."""
    return gap // 2 if lines else 0


def geometry(spec: FigureSpec, panel_shape: tuple[int, int], row_captions: list[str]) -> Geometry:
    """Geometry for panels of ``panel_shape`` (h, w) with the given row captions (empty: no row labels)."""
    if spec.output.width_in is not None:
        return physical_geometry(spec, panel_shape, row_captions)
    out = spec.output
    caption_px = max(10.0, spec.label.size_px)
    gap = out.gap_px
    left = 0
    if out.row_labels and row_captions:
        widest = max(text_size(c, caption_px)[0] for c in row_captions)
        left = out.row_label_px if out.row_label_px is not None else widest + gap
    line_h = text_size("Ag", caption_px)[1]
    header_h = 0
    if out.column_labels:
        header_h = out.header_px if out.header_px is not None else line_h + gap
    columns = len(spec.alphas)
    lines = header_lines(spec, caption_px, left + columns * (panel_shape[1] + gap) - gap)
    caption_h = line_h * len(lines)
    title_h = (line_h + gap if out.title else 0) + caption_h + caption_gap(lines, gap)
    return Geometry(
        panel_shape[1],
        panel_shape[0],
        columns,
        left,
        gap,
        header_h,
        title_h,
        caption_px,
        spec.label,
        FRAME_PX,
        caption_h=caption_h,
        caption_lines=lines,
    )


def physical_geometry(spec: FigureSpec, panel_shape: tuple[int, int], row_captions: list[str]) -> Geometry:
    """The layout at ``output.width_in`` inches: text, gaps and frame from points, panels scaled to share
    what the row labels and gaps leave of the width (their PDF/SVG images keep every native pixel)."""
    out = spec.output
    dpi = out.dpi

    def px(points: float) -> float:
        return pt_to_px(points, dpi)

    font_px = px(out.font_pt)
    gap = max(2, round(px(out.gap_pt)))
    columns = len(spec.alphas)
    left = 0
    if out.row_labels and row_captions:
        left = max(text_size(c, font_px)[0] for c in row_captions) + gap
    total = round(out.width_in * dpi)
    panel_w = (total - left - gap * (columns + 1)) // columns
    if panel_w < 8:
        raise FigureSpecError(
            f"{out.width_in:g} in at {dpi:g} dpi leaves {panel_w} px per image for {columns} columns; "
            "choose a wider figure, a higher dpi or fewer α"
        )
    panel_h = max(1, round(panel_w * panel_shape[0] / panel_shape[1]))
    line_h = text_size("Ag", font_px)[1]
    header_h = line_h + gap if out.column_labels else 0
    lines = header_lines(spec, font_px, total - 2 * gap)
    caption_h = line_h * len(lines)
    title_h = (text_size("Ag", font_px * 1.15)[1] + gap if out.title else 0) + caption_h + caption_gap(lines, gap)
    label = replace(
        spec.label,
        size_px=font_px,
        padding_px=max(1, round(px(LABEL_PAD_PT))),
        margin_px=max(1, round(px(LABEL_MARGIN_PT))),
        outline_px=max(1, round(px(LABEL_OUTLINE_PT))),
    )
    used = left + columns * (panel_w + gap) + gap
    return Geometry(
        panel_w,
        panel_h,
        columns,
        left,
        gap,
        header_h,
        title_h,
        font_px,
        label,
        max(1, round(px(out.line_pt))),
        min_text_px=px(MIN_TEXT),
        extra=total - used,
        scaled=True,
        caption_h=caption_h,
        caption_lines=lines,
    )


def label_samples(spec: FigureSpec, panels: list[Panel]) -> tuple[list[list[str]], float]:
    """Labels to size the score labels by, and the room they need beyond their own width.

    Later rows may print wider numbers than the first (a minus sign, 10.00 after 9.87). Where every
    assessor records its nominal range, a label of each score's widest printing (its range's ends, or its
    first-row value when wider) is added and no further room is needed; older descriptions keep 10 %."""
    samples = [label_record(p, spec) for p in panels]
    ranges = {str(a["name"]): a.get("score_range") for a in spec.assessors}
    if not panels or not ranges or any(not isinstance(r, list) or len(r) != 2 for r in ranges.values()):
        return samples, 1.1
    style = spec.label
    worst = []
    for name, value in panels[0].scores.items():
        candidates = [value, *(float(v) for v in ranges.get(name) or ())]
        lines = [label_lines({name: v}, spec.assessors, style)[0] for v in candidates]
        worst.append(max(lines, key=lambda t: text_size(t, style.size_px, style.font, style.bold)[0]))
    return [*samples, worst], 1.0


def fit_labels(geo: Geometry, samples: list[list[str]], room_factor: float = 1.1) -> Geometry:
    """At a physical width, shrink the score labels (never below 6 pt) so the widest of ``samples`` (times
    ``room_factor``, see :func:`label_samples`) fits inside its panel, and the tallest fits its height; a
    label that cannot fit at 6 pt is refused rather than clipped."""
    lines = [line for label in samples for line in label]
    if not geo.scaled or not lines:
        return geo
    style = geo.label
    room = geo.panel_w - 2 * style.padding_px - style.margin_px - style.outline_px - 1

    def widest(texts: list[str]) -> float:
        return room_factor * max(text_size(t, style.size_px, style.font, style.bold)[0] for t in texts)

    if widest(lines) * geo.min_text_px / style.size_px > room and any(" " in line for line in lines):
        # Even 6 pt is too wide for "name score": the name goes on its own line above its score.
        geo = replace(geo, split_names=True)
        lines = split_lines(lines)
    if widest(lines) > room:
        style = replace(style, size_px=max(geo.min_text_px, style.size_px * room / widest(lines)))
    tallest = max(len(split_lines(label) if geo.split_names else label) for label in samples)
    room_h = geo.panel_h - 1
    extra = label_extent(["Ag"], style)[1] - text_size("Ag", style.size_px, style.font, style.bold)[1]
    height = label_extent(["Ag"] * tallest, style)[1]
    if height > room_h:
        style = replace(style, size_px=max(geo.min_text_px, style.size_px * (room_h - extra) / (height - extra)))
        if label_extent(["Ag"] * tallest, style)[1] > room_h:
            raise FigureSpecError(
                f"{tallest} score lines do not fit an image {geo.panel_h} px high even at 6 pt; choose a wider "
                "figure, fewer α or fewer assessors"
            )
    return replace(geo, label=style)


def split_lines(lines: list[str]) -> list[str]:
    """``"resmem 0.734"`` → ``["resmem", "0.734"]``: a label's name and score on two lines."""
    return [part for line in lines for part in line.rsplit(" ", 1)]


def header_band(spec: FigureSpec, geo: Geometry) -> Scene:
    """Title and column labels above the first row."""
    band = Scene(geo.width, geo.top_h, spec.output.background)
    fg = spec.output.foreground
    if spec.output.title:
        band.add(TextItem(geo.width / 2, geo.gap, spec.output.title, geo.label_px * 1.15, fg, align="center"))
    if geo.caption_lines:
        line_h = text_size("Ag", geo.label_px)[1]
        y = geo.title_h - geo.caption_h - caption_gap(geo.caption_lines, geo.gap)
        y += geo.gap if not spec.output.title else 0
        for i, line in enumerate(geo.caption_lines):
            band.add(TextItem(geo.width / 2, y + i * line_h, line, geo.label_px, fg, align="center"))
    if spec.output.column_labels:
        y = geo.title_h + geo.gap
        for col, alpha in enumerate(spec.alphas):
            x = geo.column_x(col) + geo.panel_w / 2
            text = alpha_text(alpha)
            size = _fit(text, geo.label_px, geo.panel_w + geo.gap - 2, geo.min_text_px)
            band.add(TextItem(x, y, text, size, fg, align="center"))
    return band


def row_band(
    spec: FigureSpec,
    geo: Geometry,
    panels: list[Panel],
    caption: str | None,
    heatmap: bool = False,
) -> Scene:
    """One row of panels with score labels; ``heatmap`` draws the panels' map overlays instead."""
    band = Scene(geo.width, geo.row_h, spec.output.background)
    if caption is not None and spec.output.row_labels and geo.left:
        caption_h = text_size(caption, geo.label_px)[1]
        y = geo.panel_top + (geo.panel_h - caption_h) / 2
        band.add(
            TextItem(
                geo.gap // 2,
                y,
                caption,
                geo.label_px,
                spec.output.foreground,
                clip=(0, 0, geo.left, geo.row_h),
            )
        )
    for col, panel in enumerate(panels):
        x = geo.column_x(col)
        pixels = panel.heatmap if heatmap else panel.pixels
        if pixels is None:
            continue
        y = geo.panel_top
        w, h = geo.display_size(pixels)
        band.add(ImageItem(x, y, pixels, size=(w, h) if geo.scaled else None))
        if not heatmap:
            lines = label_lines(panel.scores, spec.assessors, spec.label)
            lines = split_lines(lines) if geo.split_names else lines
            for item in label_items(x, y, lines, geo.label, clip=(x, y, w, h)):
                band.add(item)
        if panel.is_original and spec.output.mark_original and geo.frame_px:
            # Around the panel, in the gap, so the original's pixels stay untouched.
            f = geo.frame_px
            band.add(RectItem(x - f, y - f, w + 2 * f, h + 2 * f, edge=spec.output.original_color, line_px=f))
    return band


def stack(bands: list[Scene], background: str) -> Scene:
    """Bands one under another, as a single scene (what a non-streamed export draws)."""
    width = max(b.width for b in bands)
    scene = Scene(width, sum(b.height for b in bands), background)
    y = 0
    for band in bands:
        for item in band.items:
            scene.add(_shift(item, y))
        y += band.height
    return scene


def label_record(panel: Panel, spec: FigureSpec, geo: Geometry | None = None) -> list[str]:
    """The label lines a panel shows, as stored in the figure's metadata."""
    lines = label_lines(panel.scores, spec.assessors, spec.label)
    return split_lines(lines) if geo is not None and geo.split_names else lines


def _fit(text: str, size_px: float, width: float, minimum: float = MIN_TEXT) -> float:
    """A caption's size, shrunk (not below ``minimum``) so narrow columns keep their captions apart."""
    natural = text_size(text, size_px)[0]
    return size_px if natural <= width else max(minimum, size_px * width / natural)


def _shift(item: ImageItem | RectItem | TextItem, dy: int) -> ImageItem | RectItem | TextItem:
    if isinstance(item, ImageItem) or item.clip is None:
        return replace(item, y=item.y + dy)
    x, y, w, h = item.clip
    return replace(item, y=item.y + dy, clip=(x, y + dy, w, h))
