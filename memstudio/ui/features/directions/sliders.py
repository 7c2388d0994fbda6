"""Direction sliders in the property strip: one α slider per loaded direction, with its evidence and live score.

A row only shows and emits; the feature routes moves to the undoable state (a drag merges into one step) and
calls :meth:`DirectionSliders.sync` after undo/redo so the sliders follow the state.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from memstudio.ui.gestures import SliderGestures


class DirectionRow(QWidget):
    """α slider over the direction's range, its property's live score and a remove button."""

    moved = Signal(str, float, bool)  # id, α, dragging
    pressed = Signal()
    released = Signal()
    remove_requested = Signal(str)

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__()
        self.info = info
        self.direction_id = str(info["id"])
        self.setObjectName(f"direction_{self.direction_id}")
        self.unusable_reason: str | None = None
        low, high = info["alpha_range"]
        self.slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName(f"alpha_{self.direction_id}")
        self.slider.setRange(float(low), float(high))
        self.slider.setDecimals(3)
        self.slider.setSingleStep((high - low) / 100.0 if high > low else 0.01)
        self.slider.setValue(0.0)
        self.slider.valueChanged.connect(self._moved)
        SliderGestures(self.slider, self.pressed.emit, self.released.emit)
        self.score = QLabel("")
        self.score.setObjectName(f"directionScore_{self.direction_id}")
        self.score.setMinimumWidth(64)
        self.score.setStyleSheet("color: gray;")
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this direction from the studio (its file stays)")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self.direction_id))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.score)
        row.addWidget(self.remove)
        self.title = QLabel(self._title())
        self.title.setWordWrap(True)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 2, 0, 2)
        column.setSpacing(1)
        column.addWidget(self.title)
        column.addLayout(row)
        self.setToolTip(self.tooltip())

    def _title(self) -> str:
        info = self.info
        return f"<b>{info['name']}</b> <span style='color:gray'>{info['property']} · {info['method']}</span>"

    def tooltip(self) -> str:
        info = self.info
        low, high = info["alpha_range"]
        lines = [
            f"{info['name']} — {info['property']} ({info['method']}, {info['space']} space)",
            f"α range [{low:g}, {high:g}]",
            f"Evidence: {info['summary']}",
        ]
        if info.get("make_up"):
            lines.append(f"Edit parameters: {info['make_up']} (θ per parameter, normalised)")
        if info.get("shipped"):
            lines.append("Shipped with memstudio: trained on real photos, β measured on held-out ones")
        if info.get("cosines"):
            lines += [
                f"cos with {name}: {c['before']:+.4f} before, {c['after']:+.4f} after"
                for name, c in info["cosines"].items()
            ]
        if info.get("path"):
            lines.append(f"File: {info['path']}")
        if self.unusable_reason:
            lines.append(f"Not applicable now: {self.unusable_reason}")
        return "\n".join(lines)

    def update_info(self, info: dict[str, Any]) -> None:
        self.info = info
        self.title.setText(self._title())
        self.setToolTip(self.tooltip())

    def set_usable(self, reason: str | None) -> None:
        """Disable the slider (with the reason in its tooltip) when it cannot edit the current subject."""
        self.unusable_reason = reason
        self.slider.setEnabled(reason is None)
        self.setToolTip(self.tooltip())

    def set_alpha(self, alpha: float) -> None:
        if abs(self.slider.value() - alpha) > 1e-9:
            self.slider.blockSignals(True)
            self.slider.setValue(alpha)
            self.slider.blockSignals(False)

    def set_score(self, text: str) -> None:
        self.score.setText(text)

    def _moved(self, value: float) -> None:
        self.moved.emit(self.direction_id, float(value), self.slider.isSliderDown())


class DirectionSliders:
    """The rows inside the strip's ``directions_box`` (shown only while it has rows)."""

    def __init__(self, box: QGroupBox) -> None:
        self.box = box
        self.form: QFormLayout = box.layout()
        self.rows: dict[str, DirectionRow] = {}

    def add(self, info: dict[str, Any]) -> DirectionRow:
        old = self.rows.pop(str(info["id"]), None)
        if old is not None:
            self.form.removeRow(old)
        row = DirectionRow(info)
        self.form.addRow(row)
        self.rows[row.direction_id] = row
        self.box.setVisible(True)
        return row

    def remove(self, direction_id: str) -> None:
        row = self.rows.pop(direction_id, None)
        if row is not None:
            self.form.removeRow(row)
        self.box.setVisible(bool(self.rows))

    def sync(self, alphas: dict[str, float]) -> None:
        for direction_id, row in self.rows.items():
            row.set_alpha(alphas.get(direction_id, 0.0))

    def show_scores(self, values: dict[str, float], decimals: dict[str, int], complete: bool = True) -> None:
        """Each row shows the live score of the assessor it was trained with, when that one is scored.

        A partial result (the cheap assessors come first) leaves the other rows as they are: a slow score
        missing from it is still on its way, not gone."""
        for row in self.rows.values():
            name = row.info.get("assessor", "")
            if name in values:
                row.set_score(f"score {values[name]:.{decimals.get(name, 3)}f}")
                row.score.setToolTip(f"live {name} score of the image on the canvas")
            elif complete:
                row.set_score("")
