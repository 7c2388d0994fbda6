"""The canvas room: the image in the middle of the window and the live loop that renders and scores it.

Every state change asks the engine for a frame (:mod:`memstudio.ui.features.canvas.live_view`); the frame and
its scores come back to the canvas, and the live view's signals tell the property strip and the other features
what is on screen now. Other rooms draw on the canvas (heatmap overlays, face landmarks) through the context.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from memstudio.engine import Failure
from memstudio.ui.canvas import ImageCanvas
from memstudio.ui.features.canvas.live_view import LiveView
from memstudio.ui.studio_context import StudioContext


class CanvasFeature(QObject):
    """Puts the canvas in the window's centre and keeps it live; ``live`` is the loop the others follow."""

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.canvas = ImageCanvas()
        studio.show_in_centre(self.canvas)
        timing = QLabel("")
        studio.statusBar().addPermanentWidget(timing)
        self.live = LiveView(studio.state, studio.engine, self.canvas, timing, studio.wanted_assessors, self)
        self.live.problem.connect(lambda message: studio.statusBar().showMessage(message, 10_000))
        studio.state.settled.connect(self.live.request_frame)
        studio.engine.failed.connect(self._failed)
        studio.closing.connect(self._closing)
        self.live.refresh_assessors()

    def _failed(self, failure: Failure) -> None:
        if failure.origin == "render":
            self.live.render_failed(failure)

    def _closing(self) -> None:
        self.live.closed = True  # frames the engine finishes from now on are dropped


def install(studio: StudioContext) -> CanvasFeature:
    return CanvasFeature(studio)
