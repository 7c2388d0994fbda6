"""The property-slider strip: live scores per assessor and one slider per edit parameter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider

from memstudio.core.generators.edit_params import PARAMETERS
from memstudio.core.unavailable import Score, Unavailable
from memstudio.ui.gestures import SliderGestures

if TYPE_CHECKING:
    from memstudio.core.assessors.registry import LiveAssessor

_BAR_STEPS = 1000


#: The properties the studio morphs, in this order.
PROPERTY_GROUPS = {"memorability": "Memorability", "aesthetics": "Aesthetics", "valence": "Valence"}
#: GANalyze's image factors (§3.2), shown last under one heading.
IMAGE_FACTORS = ("brightness", "colorfulness", "redness", "entropy")
FACTORS_HEADING = "Image factors"


def group_by_property(assessors: Sequence[LiveAssessor]) -> list[tuple[str, list[LiveAssessor]]]:
    """The live assessors under their property's heading: memorability, aesthetics, valence, then any other
    property an assessor trained on your ratings measures (under its own name), then the image factors."""
    groups: dict[str, list[LiveAssessor]] = {}
    for entry in assessors:
        if entry.property in IMAGE_FACTORS:
            heading = FACTORS_HEADING
        else:
            heading = PROPERTY_GROUPS.get(entry.property, entry.property[:1].upper() + entry.property[1:])
        groups.setdefault(heading, []).append(entry)
    first = [group for group in PROPERTY_GROUPS.values() if group in groups]
    others = [group for group in groups if group not in first and group != FACTORS_HEADING]
    last = [FACTORS_HEADING] if FACTORS_HEADING in groups else []
    return [(group, groups[group]) for group in [*first, *others, *last]]


class PropertyStrip(QWidget):
    """Emits ``value_changed(kind, key, value, dragging)``; ``kind`` is "edit" for photo edits."""

    value_changed = Signal(str, str, float, bool)
    drag_started = Signal()
    drag_finished = Signal()
    reset_requested = Signal()

    def __init__(self, assessors: Sequence[LiveAssessor] = (), parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("propertyStrip")
        self.setMinimumWidth(340)
        self._decimals: dict[str, int] = {}
        self._ranges: dict[str, tuple[float, float]] = {}
        self.score_labels: dict[str, QLabel] = {}
        self.score_bars: dict[str, QProgressBar] = {}
        self.sliders: dict[str, QLabeledDoubleSlider] = {}

        scores = QGroupBox("Scores")
        self._score_form = QFormLayout(scores)
        self.set_assessors(assessors, empty="finding the assessors available here…")

        edits = QGroupBox("Photo edits")
        edit_form = QFormLayout(edits)
        for param in PARAMETERS:
            slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
            slider.setObjectName(f"slider_{param.name}")
            slider.setRange(param.low, param.high)
            slider.setDecimals(2 if param.high - param.low < 10 else 1)
            slider.setValue(0.0)
            slider.setTracking(True)
            slider.valueChanged.connect(lambda v, key=param.name, s=slider: self._moved(key, v, s))
            SliderGestures(slider, self.drag_started.emit, self.drag_finished.emit)
            label = f"{param.label} ({param.unit})" if param.unit else param.label
            edit_form.addRow(label, slider)
            self.sliders[param.name] = slider
        reset = QPushButton("Reset edits")
        reset.setObjectName("resetEdits")
        reset.clicked.connect(self.reset_requested)
        edit_form.addRow(reset)

        inner = QWidget()
        column = QVBoxLayout(inner)
        column.addWidget(scores)
        column.addWidget(edits)
        self.directions_box = QGroupBox("Directions")
        self.directions_box.setLayout(QFormLayout())
        self.directions_box.setVisible(False)
        column.addWidget(self.directions_box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def set_assessors(
        self, assessors: Sequence[LiveAssessor], empty: str = "no assessor is available (see `memstudio models`)"
    ) -> None:
        """Show a score row for each of ``assessors``, grouped by property (again after an import or a training);
        ``empty`` says why there is none."""
        form = self._score_form
        while form.rowCount():
            form.removeRow(0)
        self._decimals.clear()
        self._ranges.clear()
        self.score_labels.clear()
        self.score_bars.clear()
        if not assessors:
            note = QLabel(empty)
            note.setObjectName("scoreGroup_none")
            note.setStyleSheet("color: gray;")
            form.addRow(note)
        for group, members in group_by_property(assessors):
            heading = QLabel(group)
            heading.setObjectName(f"scoreGroup_{group.split()[0].lower()}")
            heading.setStyleSheet("font-weight: 600; padding-top: 4px;")
            form.addRow(heading)
            for entry in members:
                self._add_score_row(form, entry)

    def _add_score_row(self, form: QFormLayout, entry: LiveAssessor) -> None:
        name = entry.name
        label = QLabel("—")
        label.setObjectName(f"score_{name}")
        label.setMinimumWidth(64)
        bar = QProgressBar()
        bar.setRange(0, _BAR_STEPS)
        bar.setTextVisible(False)
        bar.setMaximumHeight(8)
        column = QVBoxLayout()
        column.setSpacing(1)
        column.addWidget(label)
        column.addWidget(bar)
        row = QLabel(entry.model)
        row.setObjectName(f"scoreModel_{name}")
        row.setToolTip(f"assessor {name!r} · {entry.property}")
        form.addRow(row, column)
        self.score_labels[name], self.score_bars[name] = label, bar
        self._decimals[name], self._ranges[name] = entry.decimals, entry.score_range

    def _moved(self, key: str, value: float, slider: QLabeledDoubleSlider) -> None:
        self.value_changed.emit("edit", key, float(value), slider.isSliderDown())

    def set_edit_values(self, values: dict[str, float]) -> None:
        """Show ``values`` (e.g. after undo) without emitting changes."""
        for name, slider in self.sliders.items():
            slider.blockSignals(True)
            slider.setValue(values.get(name, 0.0))
            slider.blockSignals(False)

    def set_edits_enabled(self, enabled: bool) -> None:
        for slider in self.sliders.values():
            slider.setEnabled(enabled)

    def set_scores(self, values: dict[str, Score], errors: dict[str, str]) -> None:
        for name, label in self.score_labels.items():
            bar = self.score_bars[name]
            value = values.get(name)
            if isinstance(value, Unavailable):  # no score for this frame (valence: no face), not a failure
                label.setText(str(value))
                _style(label, "color: gray;")
                label.setToolTip(f"{name}: {value.reason}")
                bar.setValue(0)
            elif name in values:
                label.setText(f"{values[name]:.{self._decimals[name]}f}")
                _style(label, "")
                label.setToolTip("")
                low, high = self._ranges[name]
                frac = 0.0 if high <= low else (values[name] - low) / (high - low)
                bar.setValue(int(round(min(max(frac, 0.0), 1.0) * _BAR_STEPS)))
            elif name in errors:
                label.setText("error")
                _style(label, "color: #d33;")
                label.setToolTip(errors[name])
                bar.setValue(0)

    def mark_scores_stale(self) -> None:
        for label in self.score_labels.values():
            _style(label, "color: gray;")


def _style(label: QLabel, sheet: str) -> None:
    """Set ``sheet`` unless the label has it: this runs on every slider tick, and each set re-polishes."""
    if label.styleSheet() != sheet:
        label.setStyleSheet(sheet)
