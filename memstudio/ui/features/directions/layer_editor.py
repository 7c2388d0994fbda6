"""The layerwise W+ editor (paper 001 §3.4): per-layer on/off and coefficient for every W/W+ direction.

StyleGAN's W+ holds one w per synthesis layer; coarse layers carry pose and shape, fine ones colour. The dock
shows ``num_ws`` rows (read from the generator) grouped coarse / middle / fine; the coefficients scale every
W/W+ direction per layer, live. With a direction selected it also shows that direction's layer-effect plot
(001 Fig. 9) when an analysis is stored in it, and offers to run one.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

PHOTO_HINT = (
    "The layerwise editor applies to StyleGAN W+ only: open a StyleGAN generator "
    "(File ▸ Open generator…) and a W or W+ direction."
)
NO_W_PLUS_HINT = "This generator has no W+ space: layerwise editing needs StyleGAN."


class LayerRow(QWidget):
    """One W+ layer: on/off and its coefficient."""

    changed = Signal()

    def __init__(self, layer: int) -> None:
        super().__init__()
        self.layer = layer
        self.enabled = QCheckBox(f"layer {layer}")
        self.enabled.setObjectName(f"layerOn_{layer}")
        self.enabled.setChecked(True)
        self.coefficient = QDoubleSpinBox()
        self.coefficient.setObjectName(f"layerCoef_{layer}")
        self.coefficient.setRange(-5.0, 5.0)
        self.coefficient.setSingleStep(0.1)
        self.coefficient.setDecimals(2)
        self.coefficient.setValue(1.0)
        self.coefficient.setKeyboardTracking(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.enabled, 1)
        row.addWidget(self.coefficient)
        self.enabled.toggled.connect(self._toggled)
        self.coefficient.valueChanged.connect(lambda _: self.changed.emit())

    def _toggled(self, on: bool) -> None:
        self.coefficient.setEnabled(on)
        self.changed.emit()

    def weight(self) -> float:
        return float(self.coefficient.value()) if self.enabled.isChecked() else 0.0

    def set_weight(self, weight: float) -> None:
        """Show ``weight`` without emitting (zero = off, keeping the coefficient at 1)."""
        for widget in (self.enabled, self.coefficient):
            widget.blockSignals(True)
        self.enabled.setChecked(weight != 0.0)
        self.coefficient.setValue(weight if weight != 0.0 else 1.0)
        self.coefficient.setEnabled(weight != 0.0)
        for widget in (self.enabled, self.coefficient):
            widget.blockSignals(False)


class LayerEditor(QWidget):
    """Emits ``weights_changed(tuple | None)`` (None = every layer at 1, i.e. no layerwise edit)."""

    weights_changed = Signal(object)
    direction_selected = Signal(str)
    analyse_requested = Signal(str, int)  # direction id, K samples
    save_requested = Signal(str)  # direction id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerEditor")
        self.rows: list[LayerRow] = []
        self.groups: dict[str, QGroupBox] = {}
        self.hint = QLabel(PHOTO_HINT)
        self.hint.setObjectName("layerEditorHint")
        self.hint.setWordWrap(True)

        self.direction = QComboBox()
        self.direction.setObjectName("layerDirection")
        self.direction.currentIndexChanged.connect(self._selection_changed)
        self.all_on = QPushButton("All on / reset")
        self.all_on.setObjectName("layersReset")
        self.all_on.clicked.connect(self.reset)
        self.all_off = QPushButton("All off")
        self.all_off.setObjectName("layersOff")
        self.all_off.clicked.connect(lambda: self.set_weights([0.0] * len(self.rows), emit=True))
        self.samples = QSpinBox()
        self.samples.setRange(2, 10_000)
        self.samples.setValue(32)
        self.samples.setToolTip("K: samples averaged per layer and α (paper 001 uses many hundreds)")
        self.analyse = QPushButton("Analyse layers…")
        self.analyse.setObjectName("analyseLayers")
        self.analyse.setToolTip("Edit each layer alone at several α and plot the mean score change (001 Fig. 9)")
        self.analyse.clicked.connect(self._analyse)
        self.save = QPushButton("Save layerwise copy…")
        self.save.setObjectName("saveLayers")
        self.save.setToolTip("Write the selected direction with these layer coefficients (CLI: layers --apply)")
        self.save.clicked.connect(lambda: self.save_requested.emit(self.selected_id() or ""))
        self.plot = QLabel()
        self.plot.setObjectName("layerPlot")
        self.plot.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_caption = QLabel("")
        self.plot_caption.setWordWrap(True)

        self.controls = QWidget()
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        picker = QHBoxLayout()
        picker.addWidget(QLabel("Direction"))
        picker.addWidget(self.direction, 1)
        controls.addLayout(picker)
        buttons = QHBoxLayout()
        buttons.addWidget(self.all_on)
        buttons.addWidget(self.all_off)
        controls.addLayout(buttons)
        self._grid_host = QWidget()
        self._grid = QVBoxLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self._grid_host)
        analysis = QHBoxLayout()
        analysis.addWidget(QLabel("K"))
        analysis.addWidget(self.samples)
        analysis.addWidget(self.analyse, 1)
        controls.addLayout(analysis)
        controls.addWidget(self.save)
        controls.addWidget(self.plot_caption)
        controls.addWidget(self.plot)
        controls.addStretch(1)

        inner = QWidget()
        column = QVBoxLayout(inner)
        column.addWidget(self.hint)
        column.addWidget(self.controls)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.controls.setVisible(False)
        self._plots: dict[str, bytes | None] = {}
        self._generator_hint = ""
        self._update_buttons()

    # ----- generator --------------------------------------------------------------------------------------
    def set_generator(self, context: dict[str, Any] | None) -> None:
        """Build one row per W+ layer of the generator (``context`` from the engine), or show the hint."""
        for group in self.groups.values():
            group.deleteLater()
        self.groups.clear()
        self.rows = []
        if context is None or not context.get("w_plus"):
            self._generator_hint = "" if context is None else NO_W_PLUS_HINT
            self.hint.setText(PHOTO_HINT if context is None else NO_W_PLUS_HINT)
            self.hint.setVisible(True)
            self.controls.setVisible(False)
            return
        for title, layers in context["groups"].items():
            span = f"layers {layers[0]}–{layers[-1]}" if layers else f"none at {context['resolution']} px"
            box = QGroupBox(f"{title.capitalize()} ({span})")
            box.setObjectName(f"layerGroup_{title}")
            grid = QGridLayout(box)
            if not layers:
                grid.addWidget(QLabel("This generator has no layers at these resolutions."), 0, 0)
            for i, layer in enumerate(layers):
                row = LayerRow(layer)
                row.changed.connect(self._emit)
                grid.addWidget(row, i // 2, i % 2)
                self.rows.append(row)
            self._grid.addWidget(box)
            self.groups[title] = box
        self.rows.sort(key=lambda r: r.layer)
        self._generator_hint = (
            f"{context['name']}: {len(self.rows)} W+ layers. Coefficients scale every W/W+ direction per "
            "layer (z directions act before the mapping and are not split by layer)."
        )
        self.hint.setText(self._generator_hint)
        self.hint.setVisible(True)
        self.controls.setVisible(True)

    def set_photo_mode(self, photo: bool) -> None:
        """A photo on the canvas: the dock says it applies to StyleGAN W+ only."""
        self.hint.setText(PHOTO_HINT if photo else self._generator_hint or PHOTO_HINT)
        self.controls.setVisible(not photo and bool(self.rows))

    # ----- weights ----------------------------------------------------------------------------------------
    def weights(self) -> tuple[float, ...] | None:
        values = tuple(row.weight() for row in self.rows)
        return None if all(v == 1.0 for v in values) else values

    def set_weights(self, weights: list[float] | tuple[float, ...] | None, emit: bool = False) -> None:
        for i, row in enumerate(self.rows):
            row.set_weight(1.0 if weights is None or i >= len(weights) else float(weights[i]))
        if emit:
            self._emit()

    def reset(self) -> None:
        self.set_weights(None, emit=True)

    def _emit(self) -> None:
        self.weights_changed.emit(self.weights())

    # ----- directions -------------------------------------------------------------------------------------
    def set_directions(self, infos: list[dict[str, Any]]) -> None:
        """The W/W+ directions the dock can select (others have no layers)."""
        current = self.selected_id()
        self.direction.blockSignals(True)
        self.direction.clear()
        self._plots = {}
        for info in infos:
            if info["space"] in ("w", "w+"):
                self.direction.addItem(f"{info['name']} ({info['space']})", info["id"])
                self._plots[info["id"]] = info.get("layer_plot")
        index = self.direction.findData(current) if current is not None else -1
        self.direction.setCurrentIndex(index if index >= 0 else (0 if self.direction.count() else -1))
        self.direction.blockSignals(False)
        self._selection_changed()

    def selected_id(self) -> str | None:
        data = self.direction.currentData()
        return None if data is None else str(data)

    def select(self, direction_id: str) -> None:
        index = self.direction.findData(direction_id)
        if index >= 0:
            self.direction.setCurrentIndex(index)

    def _selection_changed(self) -> None:
        selected = self.selected_id()
        self._show_plot(self._plots.get(selected) if selected else None)
        self._update_buttons()
        if selected:
            self.direction_selected.emit(selected)

    def _show_plot(self, png: bytes | None) -> None:
        if not png:
            self.plot.clear()
            self.plot.setFixedHeight(0)
            self.plot_caption.setText("No layer analysis stored in this direction yet." if self.rows else "")
            return
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        width = max(240, self.width() - 40)
        scaled = pixmap.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
        self.plot.setFixedHeight(scaled.height())
        self.plot.setPixmap(scaled)
        self.plot_caption.setText("Layer effect: mean score change when only that layer is edited.")

    def _update_buttons(self) -> None:
        has = self.selected_id() is not None
        self.analyse.setEnabled(has)
        self.save.setEnabled(has)

    def _analyse(self) -> None:
        selected = self.selected_id()
        if selected:
            self.analyse_requested.emit(selected, int(self.samples.value()))

    def plot_pixmap(self) -> QPixmap | None:
        return self.plot.pixmap() if self.plot.height() > 0 else None
