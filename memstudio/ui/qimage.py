"""numpy ↔ QImage, in one place (QImage must own a copy: the numpy buffer may be freed)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def to_qimage(pixels: np.ndarray) -> QImage:
    """``[H, W, 3]`` uint8 RGB (or ``[H, W, 4]`` RGBA) → an independent QImage."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    fmt = QImage.Format.Format_RGBA8888 if pixels.shape[2] == 4 else QImage.Format.Format_RGB888
    return QImage(pixels.data, w, h, pixels.strides[0], fmt).copy()
