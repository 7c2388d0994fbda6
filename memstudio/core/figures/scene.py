"""A figure as a flat list of placed items in pixel coordinates, drawn by one raster and one vector backend.

Composing once and drawing twice is what keeps the PNG, PDF and SVG of a figure the same figure: the
positions of every image, label box and caption are decided here, in output pixels (origin top-left).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: ``(x, y, width, height)`` in scene pixels; items with a clip never paint outside it (labels stay inside
#: their panel however small the panel, captions inside their band).
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ImageItem:
    """An image placed at its exact pixel size, or scaled into ``size`` (see there)."""

    x: int
    y: int
    pixels: np.ndarray  # [H, W, 3] uint8
    #: (width, height) the image takes in the scene when it is not its pixel size (a figure at a physical
    #: width): the raster backend resamples to it, the vector backend scales the native pixels into it.
    size: tuple[int, int] | None = None

    @property
    def width(self) -> int:
        return int(self.size[0] if self.size else self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.size[1] if self.size else self.pixels.shape[0])


@dataclass(frozen=True)
class RectItem:
    """A filled and/or outlined rectangle: label boxes and the original's frame."""

    x: float
    y: float
    width: float
    height: float
    fill: str | None = None
    opacity: float = 1.0
    edge: str | None = None
    line_px: float = 0.0
    clip: Box | None = None


@dataclass(frozen=True)
class TextItem:
    """One line of text anchored at its top-left (``align='left'``) or top-centre (``align='center'``).

    ``outline_px`` > 0 draws a halo in ``outline_color`` so the text reads on light and dark pixels.
    """

    x: float
    y: float
    text: str
    size_px: float
    color: str = "#000000"
    align: str = "left"
    font: str = "DejaVu Sans"
    bold: bool = False
    outline_color: str | None = None
    outline_px: int = 0
    clip: Box | None = None


@dataclass
class Scene:
    """A canvas of ``width`` × ``height`` pixels and the items on it, drawn in order."""

    width: int
    height: int
    background: str = "#ffffff"
    items: list[ImageItem | RectItem | TextItem] = field(default_factory=list)

    def add(self, item: ImageItem | RectItem | TextItem) -> None:
        self.items.append(item)

    def images(self) -> list[ImageItem]:
        return [i for i in self.items if isinstance(i, ImageItem)]

    def texts(self) -> list[TextItem]:
        return [i for i in self.items if isinstance(i, TextItem)]
