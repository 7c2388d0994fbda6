"""The property-slider strip: live scores per assessor and one slider per edit parameter."""

from __future__ import annotations

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

_BAR_STEPS = 1000


#: The model behind each live assessor, as the strip names it (the registry, which knows them, imports torch).
MODEL_NAMES = {
    "resmem": "ResMem",
    "valence": "fer mini-Xception (faces)",
    "brightness": "brightness (luma)",
    "colorfulness": "colourfulness (Hasler–Süsstrunk)",
    "redness": "redness",
    "entropy": "entropy",
}
#: The properties the studio morphs, in this order; every other property is an image factor (GANalyze §3.2).
PROPERTY_GROUPS = {"memorability": "Memorability", "aesthetics": "Aesthetics", "valence": "Valence"}


def group_by_property(
    assessors: list[tuple[str, str, tuple[float, float], int]],
) -> list[tuple[str, list[tuple[str, str, tuple[float, float], int]]]]:
    """The live assessors under their property's heading: memorability, aesthetics, valence, image factors."""
    groups: dict[str, list[tuple[str, str, tuple[float, float], int]]] = {}
    for entry in assessors:
        groups.setdefault(PROPERTY_GROUPS.get(entry[1], "Image factors"), []).append(entry)
    order = [*PROPERTY_GROUPS.values(), "Image factors"]
    return [(group, groups[group]) for group in order if group in groups]


class PropertyStrip(QWidget):
    """Emits ``value_changed(kind, key, value, dragging)``; ``kind`` is "edit" for photo edits."""

    value_changed = Signal(str, str, float, bool)
    drag_started = Signal()
    drag_finished = Signal()
    reset_requested = Signal()

    def __init__(
        self, assessors: list[tuple[str, str, tuple[float, float], int]], parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setObjectName("propertyStrip")
        self.setMinimumWidth(340)
        self._decimals: dict[str, int] = {}
        self._ranges: dict[str, tuple[float, float]] = {}
        self.score_labels: dict[str, QLabel] = {}
        self.score_bars: dict[str, QProgressBar] = {}
        self.sliders: dict[str, QLabeledDoubleSlider] = {}

        scores = QGroupBox("Scores")
        form = QFormLayout(scores)
        for group, members in group_by_property(assessors):
            heading = QLabel(group)
            heading.setObjectName(f"scoreGroup_{group.split()[0].lower()}")
            heading.setStyleSheet("font-weight: 600; padding-top: 4px;")
            form.addRow(heading)
            for name, prop, score_range, decimals in members:
                self._add_score_row(form, name, prop, score_range, decimals)

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

    def _add_score_row(
        self, form: QFormLayout, name: str, prop: str, score_range: tuple[float, float], decimals: int
    ) -> None:
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
        model = MODEL_NAMES.get(name, name)
        row = QLabel(model)
        row.setToolTip(f"assessor {name!r} · {prop}")
        form.addRow(row, column)
        self.score_labels[name], self.score_bars[name] = label, bar
        self._decimals[name], self._ranges[name] = decimals, score_range

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
                label.setStyleSheet("color: gray;")
                label.setToolTip(f"{name}: {value.reason}")
                bar.setValue(0)
            elif name in values:
                label.setText(f"{values[name]:.{self._decimals[name]}f}")
                label.setStyleSheet("")
                label.setToolTip("")
                low, high = self._ranges[name]
                frac = 0.0 if high <= low else (values[name] - low) / (high - low)
                bar.setValue(int(round(min(max(frac, 0.0), 1.0) * _BAR_STEPS)))
            elif name in errors:
                label.setText("error")
                label.setStyleSheet("color: #d33;")
                label.setToolTip(errors[name])
                bar.setValue(0)

    def mark_scores_stale(self) -> None:
        for label in self.score_labels.values():
            label.setStyleSheet("color: gray;")
