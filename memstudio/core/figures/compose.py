"""Layouts of the papers' figures: strips (000 Fig. 1/4), seed × α grids, layers × coefficient (001 Fig. 9).

A figure is composed as horizontal bands: a header (title and α column labels) and one band per row (a seed,
a photo, a layer, or a heatmap row). A whole figure is its bands stacked; a streamed export writes the same
bands one at a time, so both give the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from memstudio.core.figures.label import label_items, label_lines, text_size
from memstudio.core.figures.render import Panel
from memstudio.core.figures.scene import ImageItem, RectItem, Scene, TextItem
from memstudio.core.figures.spec import FigureSpec

#: Width of the frame that marks the original (α = 0) column, in pixels.
FRAME_PX = 3


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

    @property
    def width(self) -> int:
        return self.left + self.columns * (self.panel_w + self.gap) + self.gap

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
        return min(FRAME_PX, self.gap // 2)

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


def geometry(spec: FigureSpec, panel_shape: tuple[int, int], row_captions: list[str]) -> Geometry:
    """Geometry for panels of ``panel_shape`` (h, w) with the given row captions (empty: no row labels)."""
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
    title_h = line_h + gap if out.title else 0
    return Geometry(
        panel_shape[1], panel_shape[0], len(spec.alphas), left, gap, header_h, title_h, caption_px
    )


def header_band(spec: FigureSpec, geo: Geometry) -> Scene:
    """Title and column labels above the first row."""
    band = Scene(geo.width, geo.top_h, spec.output.background)
    fg = spec.output.foreground
    if spec.output.title:
        band.add(TextItem(geo.width / 2, geo.gap, spec.output.title, geo.label_px * 1.15, fg, align="center"))
    if spec.output.column_labels:
        y = geo.title_h + geo.gap
        for col, alpha in enumerate(spec.alphas):
            x = geo.column_x(col) + geo.panel_w / 2
            text = alpha_text(alpha)
            band.add(
                TextItem(x, y, text, _fit(text, geo.label_px, geo.panel_w + geo.gap - 2), fg, align="center")
            )
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
    decimals = {str(a["name"]): int(a.get("decimals", 3)) for a in spec.assessors}
    for col, panel in enumerate(panels):
        x = geo.column_x(col)
        pixels = panel.heatmap if heatmap else panel.pixels
        if pixels is None:
            continue
        y = geo.panel_top
        band.add(ImageItem(x, y, pixels))
        if not heatmap:
            lines = label_lines(panel.scores, decimals, spec.label)
            for item in label_items(x, y, lines, spec.label, clip=(x, y, pixels.shape[1], pixels.shape[0])):
                band.add(item)
        if panel.is_original and spec.output.mark_original and geo.frame_px:
            # Around the panel, in the gap, so the original's pixels stay untouched.
            f = geo.frame_px
            h, w = pixels.shape[:2]
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


def label_record(panel: Panel, spec: FigureSpec) -> list[str]:
    """The label lines a panel shows, as stored in the figure's metadata."""
    decimals = {str(a["name"]): int(a.get("decimals", 3)) for a in spec.assessors}
    return label_lines(panel.scores, decimals, spec.label)


def _fit(text: str, size_px: float, width: int) -> float:
    """A caption's size, shrunk (not below 6 px) so narrow columns keep their captions apart."""
    natural = text_size(text, size_px)[0]
    return size_px if natural <= width else max(6.0, size_px * width / natural)


def _shift(item: ImageItem | RectItem | TextItem, dy: int) -> ImageItem | RectItem | TextItem:
    if isinstance(item, ImageItem) or item.clip is None:
        return replace(item, y=item.y + dy)
    x, y, w, h = item.clip
    return replace(item, y=item.y + dy, clip=(x, y + dy, w, h))
