"""The image in the centre, with each assessor's score in its top-left corner as in the papers' figures."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from memstudio.ui.qimage import to_qimage
from memstudio.ui.score_board import ScoreLine


class ImageCanvas(QWidget):
    """Shows the current frame scaled to fit, the score box, an optional heatmap and landmark overlay."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageCanvas")
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self._overlay: QImage | None = None
        self._overlay_opacity = 0.5
        self._score_lines: list[ScoreLine] = []
        self._points: np.ndarray | None = None
        self._placeholder = "Drop a photo, a folder or a generator checkpoint here"

    # ----- content --------------------------------------------------------------------------------------
    def set_frame(self, pixels: np.ndarray) -> None:
        self._image = to_qimage(pixels)
        self.update()

    def has_image(self) -> bool:
        return self._image is not None

    def image_size(self) -> tuple[int, int] | None:
        return None if self._image is None else (self._image.width(), self._image.height())

    def set_scores(self, lines: list[ScoreLine]) -> None:
        """One line per assessor, drawn top-left over the image (stale ones dimmed)."""
        self._score_lines = list(lines)
        self.update()

    def score_lines(self) -> list[tuple[str, str, bool]]:
        """``(name, value text, is_error)`` per line."""
        return [(line.name, line.value, line.is_error) for line in self._score_lines]

    def score_marks(self) -> list[ScoreLine]:
        """The lines with their marks (stale, ovalized, the frame each value belongs to)."""
        return list(self._score_lines)

    def set_overlay(self, rgba: np.ndarray | None, opacity: float = 0.5) -> None:
        self._overlay = None if rgba is None else to_qimage(rgba)
        self._overlay_opacity = opacity
        self.update()

    def set_points(self, points: np.ndarray | None) -> None:
        """Landmarks ``[K, 2]`` in image pixels (face alignment overlay)."""
        self._points = points
        self.update()

    def overlay_image(self) -> QImage | None:
        return self._overlay

    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    def points(self) -> np.ndarray | None:
        return self._points

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    # ----- painting -------------------------------------------------------------------------------------
    def image_rect(self) -> QRect:
        if self._image is None:
            return QRect()
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        return QRect(x, y, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        if self._image is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder
            )
            return
        target = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self._image)
        if self._overlay is not None:
            painter.setOpacity(self._overlay_opacity)
            painter.drawImage(target, self._overlay)
            painter.setOpacity(1.0)
        if self._points is not None and len(self._points):
            self._paint_points(painter, target)
        if self._score_lines:
            self._paint_scores(painter, target)

    def _paint_points(self, painter: QPainter, target: QRect) -> None:
        sx = target.width() / self._image.width()
        sy = target.height() / self._image.height()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(0, 255, 120), 1.5))
        painter.setBrush(QColor(0, 255, 120, 160))
        for x, y in self._points:
            painter.drawEllipse(QPointF(target.x() + x * sx, target.y() + y * sy), 2.5, 2.5)

    def _paint_scores(self, painter: QPainter, target: QRect) -> None:
        font = QFont(self.font())
        font.setPointSizeF(max(9.0, min(14.0, target.height() / 40)))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        texts = [line.text() for line in self._score_lines]
        width = max(metrics.horizontalAdvance(t) for t in texts) + 12
        line_h = metrics.height()
        box = QRectF(target.x() + 6, target.y() + 6, width, line_h * len(texts) + 8)
        # A translucent dark box keeps white text legible on light and dark images alike.
        painter.fillRect(box, QColor(0, 0, 0, 150))
        for i, (line, text) in enumerate(zip(self._score_lines, texts, strict=True)):
            colour = QColor(255, 120, 120) if line.is_error else QColor(255, 255, 255)
            if line.stale:
                colour.setAlpha(110)  # dimmed: this value was computed on an earlier frame
            painter.setPen(colour)
            painter.drawText(QPointF(box.x() + 6, box.y() + 4 + metrics.ascent() + i * line_h), text)
