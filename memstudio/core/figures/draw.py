"""The two backends that draw a :class:`Scene`: Pillow for PNG, matplotlib for PDF and SVG.

The vector backend keeps text as text (``svg.fonttype='none'``, ``pdf.fonttype=42``) and embeds each image
at its native pixels with ``interpolation='none'``, so a journal can scale the figure without blurring the
images or rasterising the labels.
"""

from __future__ import annotations

from typing import Any

from PIL import Image, ImageColor, ImageDraw

from memstudio.core.figures.label import font_path, pil_font
from memstudio.core.figures.scene import ImageItem, RectItem, Scene, TextItem

#: Eight directions of the outline halo drawn with real text objects in the vector backend.
_HALO = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]


def rasterize(scene: Scene) -> Image.Image:
    """The scene as an RGB image of exactly ``scene.width`` × ``scene.height`` pixels."""
    canvas = Image.new("RGB", (scene.width, scene.height), scene.background)
    for item in scene.items:
        if isinstance(item, ImageItem):
            image = Image.fromarray(item.pixels, mode="RGB")
            if image.size != (item.width, item.height):
                image = image.resize((item.width, item.height), Image.Resampling.LANCZOS)
            canvas.paste(image, (item.x, item.y))
        elif item.clip is None:
            _raster_item(canvas, item, 0, 0)
        else:
            # Draw into a crop of the clip box, then put it back: nothing can land outside the box.
            x, y, w, h = item.clip
            box = (
                max(0, round(x)),
                max(0, round(y)),
                min(scene.width, round(x + w)),
                min(scene.height, round(y + h)),
            )
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            region = canvas.crop(box)
            _raster_item(region, item, box[0], box[1])
            canvas.paste(region, box[:2])
    return canvas


def _raster_item(target: Image.Image, item: RectItem | TextItem, ox: int, oy: int) -> None:
    """Draw one item on ``target`` whose top-left corner sits at (ox, oy) in scene pixels."""
    if isinstance(item, RectItem):
        _raster_rect(target, item, ox, oy)
        return
    anchor = "ma" if item.align == "center" else "la"
    ImageDraw.Draw(target).text(
        (item.x - ox, item.y - oy),
        item.text,
        font=pil_font(item.size_px, item.font, item.bold),
        fill=item.color,
        anchor=anchor,
        stroke_width=item.outline_px,
        stroke_fill=item.outline_color,
    )


def _raster_rect(target: Image.Image, item: RectItem, ox: int, oy: int) -> None:
    box = (
        max(0, int(round(item.x - ox))),
        max(0, int(round(item.y - oy))),
        min(target.width, int(round(item.x + item.width - ox))),
        min(target.height, int(round(item.y + item.height - oy))),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        return
    if item.fill is not None:
        region = target.crop(box)
        solid = Image.new("RGB", region.size, ImageColor.getrgb(item.fill))
        target.paste(Image.blend(region, solid, item.opacity), box[:2])
    if item.edge is not None and item.line_px > 0:
        # The frame is drawn inside the rectangle in both backends.
        outline = (box[0], box[1], box[2] - 1, box[3] - 1)
        ImageDraw.Draw(target).rectangle(outline, outline=item.edge, width=int(item.line_px))


def vector_figure(scene: Scene, dpi: float) -> Any:
    """A matplotlib Figure of ``scene.width / dpi`` inches whose items sit at the scene's pixel positions."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    w, h = scene.width, scene.height
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, facecolor=scene.background)
    pt = 72.0 / dpi  # one output pixel in points
    for z, item in enumerate(scene.items, start=1):
        if isinstance(item, ImageItem):
            ax = fig.add_axes((item.x / w, 1 - (item.y + item.height) / h, item.width / w, item.height / h))
            ax.imshow(item.pixels, interpolation="none", aspect="auto", resample=False)
            ax.set_axis_off()
            ax.set_zorder(z)
        elif isinstance(item, RectItem):
            inset = item.line_px / 2 if item.edge is not None else 0.0
            artist = fig.add_artist(
                Rectangle(
                    ((item.x + inset) / w, 1 - (item.y + item.height - inset) / h),
                    (item.width - 2 * inset) / w,
                    (item.height - 2 * inset) / h,
                    transform=fig.transFigure,
                    facecolor=item.fill if item.fill is not None else "none",
                    alpha=item.opacity if item.fill is not None else None,
                    edgecolor=item.edge if item.edge is not None else "none",
                    linewidth=item.line_px * pt,
                    zorder=z,
                )
            )
            _clip(fig, artist, item.clip, w, h)
        else:
            _vector_text(fig, item, w, h, pt, z)
    return fig


def _vector_text(fig: Any, item: TextItem, w: int, h: int, pt: float, z: int) -> None:
    from matplotlib.font_manager import FontProperties

    # The bundled file itself, by path: matplotlib never substitutes a system font of the same name.
    style = {
        "fontproperties": FontProperties(fname=font_path(item.font, item.bold), size=item.size_px * pt),
        "ha": "center" if item.align == "center" else "left",
        "va": "top",
        "transform": fig.transFigure,
    }
    if item.outline_px and item.outline_color:
        for dx, dy in _HALO:
            x = (item.x + dx * item.outline_px) / w
            y = 1 - (item.y + dy * item.outline_px) / h
            _clip(
                fig, fig.text(x, y, item.text, color=item.outline_color, zorder=z, **style), item.clip, w, h
            )
    text = fig.text(item.x / w, 1 - item.y / h, item.text, color=item.color, zorder=z + 0.5, **style)
    _clip(fig, text, item.clip, w, h)


def _clip(fig: Any, artist: Any, clip: tuple[float, float, float, float] | None, w: int, h: int) -> None:
    """Clip an artist to a scene box, as the raster backend does (a clip path in PDF/SVG)."""
    if clip is None:
        return
    from matplotlib.patches import Rectangle

    x, y, cw, ch = clip
    artist.set_clip_path(Rectangle((x / w, 1 - (y + ch) / h), cw / w, ch / h, transform=fig.transFigure))
