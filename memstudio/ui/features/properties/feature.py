"""The Properties dock: the live scores, grouped by property, and the photo-edit sliders.

The sliders change the studio state (one undo entry per drag: the state merges a press, its moves and the
release); the scores follow the live view, marked as updating from the moment a new frame is asked for until
its scores arrive.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt

from memstudio.core.requests import PhotoSubject
from memstudio.engine import ScoreResult
from memstudio.ui.features.properties.panel import PropertyStrip
from memstudio.ui.studio_context import StudioContext


class PropertiesFeature(QObject):
    """Owns the property strip and its dock (the front tab of the right column)."""

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.strip = strip = PropertyStrip()
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.dock = studio.add_feature_dock(strip, "Properties", "propertyStripDock", right)
        state = studio.state
        strip.value_changed.connect(state.set_value)
        strip.drag_started.connect(state.begin_drag)
        strip.drag_finished.connect(state.end_drag)
        strip.reset_requested.connect(state.reset_edits)
        state.changed.connect(self._sync)
        studio.live_assessors_changed.connect(strip.set_assessors)
        studio.scores_pending.connect(strip.mark_scores_stale)
        studio.scores_arrived.connect(self._scores)

    def _sync(self) -> None:
        state = self.studio.state
        self.strip.set_edit_values(state.values.edits)
        self.strip.set_edits_enabled(isinstance(state.subject, PhotoSubject))

    def _scores(self, result: ScoreResult) -> None:
        self.strip.set_scores(result.values, result.errors)


def install(studio: StudioContext) -> PropertiesFeature:
    return PropertiesFeature(studio)
