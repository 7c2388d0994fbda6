"""The Export figure dialog: what to draw (kind, direction, α, assessors), how (labels, format, size) and a
live preview. Widgets only: the export feature (``ui/features/export/feature.py``) feeds it the loaded directions,
sends its choices to the engine and hands back preview images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from memstudio.core.figures.size import WIDTH_NAMES, WIDTH_PRESETS
from memstudio.core.generators.edit_params import PARAMETERS

#: (kind, label) in the order the dialog lists them.
KINDS = (
    ("strip", "Strip (one image × α)"),
    ("grid", "Grid (selected photos / seeds × α)"),
    ("layer_grid", "Layerwise grid (W+ layers × α)"),
    ("plot", "Plot (mean score vs α)"),
)
FORMATS = ("png", "pdf", "svg")
LABEL_MODES = (("box", "On a box"), ("outline", "Outlined"), ("plain", "Plain text"))
FONTS = ("DejaVu Sans", "DejaVu Sans Mono", "DejaVu Serif")
DEFAULT_ALPHAS = "-0.2 -0.1 0 0.1 0.2"


class ColorButton(QPushButton):
    """A button showing a colour; clicking opens a colour picker."""

    color_changed = Signal(str)

    def __init__(self, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clicked.connect(self._pick)
        self.set_color(color)

    def color(self) -> str:
        return self._color

    def set_color(self, color: str) -> None:
        self._color = QColor(color).name()
        self.setText(self._color)
        text = "#000000" if QColor(self._color).lightness() > 128 else "#ffffff"
        self.setStyleSheet(f"background-color: {self._color}; color: {text};")
        self.color_changed.emit(self._color)

    def _pick(self) -> None:
        chosen = QColorDialog.getColor(QColor(self._color), self, "Label colour")
        if chosen.isValid():
            self.set_color(chosen.name())


class ExportDialog(QDialog):
    """Non-modal: the studio stays usable while it is open, and its preview follows the current image."""

    #: Any choice changed (the feature debounces and re-renders the preview).
    options_changed = Signal()
    export_requested = Signal()
    batch_requested = Signal()
    load_direction_requested = Signal()

    def __init__(self, assessors: list[str], checked: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export figure")
        self.setModal(False)
        self.resize(1100, 640)
        self._building = True

        self.subject_label = QLabel("No image: open a photo or a seed first")
        self.subject_label.setObjectName("exportSubject")
        self.subject_label.setWordWrap(True)

        self.kind = QComboBox()
        for kind, text in KINDS:
            self.kind.addItem(text, kind)
        self.direction = QComboBox()
        self.direction.setObjectName("exportDirection")
        self.direction.setMinimumContentsLength(24)
        load = QPushButton("Load direction file…")
        load.clicked.connect(self.load_direction_requested)
        self.alphas = QLineEdit(DEFAULT_ALPHAS)
        self.alphas.setToolTip("α values separated by spaces or commas; 0 (the original) is always included")
        self.seeds = QLineEdit("")
        self.seeds.setPlaceholderText("e.g. 0-9 or 3,7,11 (GAN grids and batches)")
        self.layers = QLineEdit("")
        self.layers.setPlaceholderText("all layers")
        self.assessor_list = QListWidget()
        self.assessor_list.setMaximumHeight(110)
        self.set_assessors(assessors, checked)

        what = QFormLayout()
        what.addRow(self.subject_label)
        what.addRow("Kind", self.kind)
        direction_row = QHBoxLayout()
        direction_row.addWidget(self.direction, 1)
        direction_row.addWidget(load)
        what.addRow("Direction", direction_row)
        what.addRow("α values", self.alphas)
        what.addRow("Seeds", self.seeds)
        what.addRow("W+ layers", self.layers)
        what.addRow("Assessors", self.assessor_list)
        what_box = QGroupBox("Figure")
        what_box.setLayout(what)

        self.font_name = QComboBox()
        self.font_name.addItems(FONTS)
        self.font_size = QDoubleSpinBox()
        self.font_size.setRange(4.0, 96.0)
        self.font_size.setValue(14.0)
        self.font_size.setSuffix(" px")
        self.bold = QCheckBox("Bold")
        self.decimals = QSpinBox()
        self.decimals.setRange(-1, 8)
        self.decimals.setValue(-1)
        self.decimals.setSpecialValueText("assessor's own")
        self.label_mode = QComboBox()
        for mode, text in LABEL_MODES:
            self.label_mode.addItem(text, mode)
        self.text_color = ColorButton("#ffffff")
        self.box_color = ColorButton("#000000")
        style = QFormLayout()
        font_row = QHBoxLayout()
        font_row.addWidget(self.font_name, 1)
        font_row.addWidget(self.bold)
        style.addRow("Font", font_row)
        style.addRow("Size", self.font_size)
        style.addRow("Decimals", self.decimals)
        style.addRow("Legibility", self.label_mode)
        style.addRow("Text colour", self.text_color)
        style.addRow("Box / outline colour", self.box_color)
        style_box = QGroupBox("Labels")
        style_box.setLayout(style)

        self.format = QComboBox()
        for fmt in FORMATS:
            self.format.addItem(fmt.upper(), fmt)
        self.panel_px = QSpinBox()
        self.panel_px.setRange(0, 4096)
        self.panel_px.setValue(0)
        self.panel_px.setSpecialValueText("native")
        self.panel_px.setSuffix(" px")
        self.dpi = QDoubleSpinBox()
        self.dpi.setRange(10.0, 1200.0)
        self.dpi.setValue(150.0)
        # A physical width lays the figure out for a journal column or a slide: text in points, images at dpi.
        self.figure_width = QComboBox()
        self.figure_width.setObjectName("exportWidth")
        self.figure_width.addItem("Pixels (native images)", None)
        for name, inches in WIDTH_PRESETS.items():
            self.figure_width.addItem(f"{WIDTH_NAMES[name]} ({inches:g} in)", inches)
        self.figure_width.addItem("Custom width", "custom")
        self.custom_width = QDoubleSpinBox()
        self.custom_width.setRange(0.5, 100.0)
        self.custom_width.setDecimals(2)
        self.custom_width.setValue(5.0)
        self.custom_width.setSuffix(" in")
        self.font_pt = QDoubleSpinBox()
        self.font_pt.setRange(4.0, 48.0)
        self.font_pt.setSingleStep(0.5)
        self.font_pt.setValue(7.0)
        self.font_pt.setSuffix(" pt")
        self.font_pt.setToolTip("Text size at the chosen width (journals ask for ≥ 6 pt)")
        self.line_pt = QDoubleSpinBox()
        self.line_pt.setRange(0.0, 12.0)
        self.line_pt.setSingleStep(0.25)
        self.line_pt.setValue(1.0)
        self.line_pt.setSuffix(" pt")
        self.line_pt.setToolTip(
            "At the chosen width: the frame around the original (strips, grids) or the curves (plots)"
        )
        self.title = QLineEdit("")
        self.caption = QLineEdit("")
        self.caption.setPlaceholderText("'auto': the direction's property, method and assessor")
        self.label_names = QCheckBox("Assessor names next to the scores (not property tags)")
        self.label_names.setToolTip(
            "Without it each score carries its property's tag (Mem 0.774, Aesth 5.21; † ovalized) and a "
            "legend line names each tag's assessor"
        )
        self.panels = QCheckBox("Also write unlabelled panels + manifest (memory game)")
        self.panels.setToolTip(
            "Each image without its label as <seed>_alpha<α>.png and manifest.json, the targets of "
            "'memstudio memgame build'"
        )
        self.heatmap_row = QCheckBox("Heatmap row: each image's map under it")
        self.heatmap_row.setObjectName("exportHeatmapRow")
        self.heatmap_row.setToolTip(
            "A second row with the heatmap of each α's image (paper 004 §5), as 'strip --heatmap-row'; "
            "the preview leaves it out, the export draws it"
        )
        self.heatmap_method = QComboBox()
        self.heatmap_method.setObjectName("exportHeatmapMethod")
        for method in ("regions", "occlusion", "gradient"):
            self.heatmap_method.addItem(method, method)
        output = QFormLayout()
        output.addRow("Format", self.format)
        output.addRow("Width", self.figure_width)
        output.addRow("Custom width", self.custom_width)
        output.addRow("Text size", self.font_pt)
        output.addRow("Line width", self.line_pt)
        output.addRow("Panel size", self.panel_px)
        output.addRow("DPI", self.dpi)
        output.addRow("Title", self.title)
        output.addRow("Caption", self.caption)
        output.addRow(self.label_names)
        output.addRow(self.heatmap_row)
        output.addRow("Heatmap method", self.heatmap_method)
        output.addRow(self.panels)
        output_box = QGroupBox("Output")
        output_box.setLayout(output)

        controls = QVBoxLayout()
        for box in (what_box, style_box, output_box):
            controls.addWidget(box)
        controls.addStretch(1)
        controls_widget = QWidget()
        controls_widget.setLayout(controls)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(controls_widget)
        scroll.setMinimumWidth(440)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.preview = QLabel("The preview appears here")
        self.preview.setObjectName("exportPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(480, 240)
        self.preview.setStyleSheet("background: #f4f4f4; border: 1px solid #ccc;")
        self.preview_status = QLabel("")
        self.preview_status.setObjectName("exportPreviewStatus")
        self.preview_status.setWordWrap(True)
        self.export_button = QPushButton("Export…")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export_requested)
        self.batch_button = QPushButton("Batch export selected…")
        self.batch_button.setToolTip("One strip per photo selected in the seed browser (or per seed above)")
        self.batch_button.clicked.connect(self.batch_requested)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_status, 1)
        buttons.addWidget(self.batch_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)
        right = QVBoxLayout()
        right.addWidget(self.preview, 1)
        right.addLayout(buttons)

        layout = QHBoxLayout(self)
        layout.addWidget(scroll)
        layout.addLayout(right, 1)

        self._preview_pixels: np.ndarray | None = None
        for signal in (
            self.kind.currentIndexChanged,
            self.direction.currentIndexChanged,
            self.alphas.editingFinished,
            self.seeds.editingFinished,
            self.layers.editingFinished,
            self.assessor_list.itemChanged,
            self.font_name.currentIndexChanged,
            self.font_size.valueChanged,
            self.bold.toggled,
            self.decimals.valueChanged,
            self.label_mode.currentIndexChanged,
            self.text_color.color_changed,
            self.box_color.color_changed,
            self.panel_px.valueChanged,
            self.dpi.valueChanged,
            self.title.editingFinished,
            self.figure_width.currentIndexChanged,
            self.custom_width.valueChanged,
            self.font_pt.valueChanged,
            self.line_pt.valueChanged,
            self.caption.editingFinished,
            self.label_names.toggled,
        ):
            signal.connect(self._changed)
        self.kind.currentIndexChanged.connect(self._update_enabled)
        self.heatmap_row.toggled.connect(self._update_enabled)
        self.figure_width.currentIndexChanged.connect(self._width_changed)
        self._building = False
        self._photo = True
        self._update_enabled()

    # ----- fed by the feature ---------------------------------------------------------------------------

    def set_assessors(self, assessors: list[str], checked: list[str]) -> None:
        """Offer ``assessors`` (again when the studio's list changes); those already listed keep their tick."""
        ticked = {
            self.assessor_list.item(i).text(): self.assessor_list.item(i).checkState()
            for i in range(self.assessor_list.count())
        }
        self.assessor_list.clear()
        for name in assessors:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            default = Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked
            item.setCheckState(ticked.get(name, default))
            self.assessor_list.addItem(item)
    def set_subject(self, text: str, is_photo: bool, has_layers: bool) -> None:
        """Say what the figure is drawn from; photo figures offer edit parameters, seeds the GAN's layers."""
        self.subject_label.setText(text)
        self._photo = is_photo
        self._has_layers = has_layers
        self._update_enabled()

    def set_directions(self, items: list[tuple[str, str]]) -> None:
        """``(key, label)`` pairs; the current choice is kept when it is still offered."""
        current = self.direction.currentData()
        self.direction.blockSignals(True)
        self.direction.clear()
        for key, label in items:
            self.direction.addItem(label, key)
        index = self.direction.findData(current)
        self.direction.setCurrentIndex(index if index >= 0 else 0)
        self.direction.blockSignals(False)
        if self.direction.currentData() != current:
            self._changed()

    def select_direction(self, key: str) -> bool:
        index = self.direction.findData(key)
        if index >= 0:
            self.direction.setCurrentIndex(index)
        return index >= 0

    def set_kind(self, kind: str) -> None:
        self.kind.setCurrentIndex(self.kind.findData(kind))

    def set_color(self, which: str, color: str) -> None:
        {"text": self.text_color, "box": self.box_color}[which].set_color(color)

    def show_preview(self, pixels: np.ndarray, note: str = "") -> None:
        """Show a rendered figure, scaled to fit (the export keeps its full resolution)."""
        self._preview_pixels = np.ascontiguousarray(pixels)
        h, w = self._preview_pixels.shape[:2]
        image = QImage(self._preview_pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        target = self.preview.size()
        pixmap = QPixmap.fromImage(image)
        if w > target.width() or h > target.height():
            pixmap = pixmap.scaled(
                target, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        self.preview.setPixmap(pixmap)
        self.preview_status.setText(note or f"{w} × {h} px")

    def show_preview_message(self, text: str) -> None:
        self.preview_status.setText(text)

    def preview_pixels(self) -> np.ndarray | None:
        return self._preview_pixels

    # ----- read by the feature --------------------------------------------------------------------------
    def choices(self) -> dict[str, Any]:
        """Everything chosen, as plain values (parsed; bad text raises ``ValueError`` naming the field)."""
        decimals = self.decimals.value()
        return {
            "kind": self.kind.currentData(),
            "direction": self.direction.currentData(),
            "alphas": _numbers(self.alphas.text(), "α values", float),
            "seeds_text": self.seeds.text().strip(),
            "layers": tuple(_numbers(self.layers.text(), "W+ layers", int)),
            "assessors": tuple(
                self.assessor_list.item(i).text()
                for i in range(self.assessor_list.count())
                if self.assessor_list.item(i).checkState() == Qt.CheckState.Checked
            ),
            "label": (
                ("font", self.font_name.currentText()),
                ("bold", self.bold.isChecked()),
                ("size_px", float(self.font_size.value())),
                ("decimals", None if decimals < 0 else decimals),
                ("text_color", self.text_color.color()),
                ("box_color", self.box_color.color()),
                ("outline_color", self.box_color.color()),
                ("mode", self.label_mode.currentData()),
                ("show_names", True if self.label_names.isChecked() else None),
            ),
            "output": self._output_choices(),
            "format": self.format.currentData(),
            "panels": self.panels.isChecked() and self.kind.currentData() != "plot",
            "heatmap": (
                (("method", self.heatmap_method.currentData()), ("assessor", None))
                if self.heatmap_row.isChecked() and self.kind.currentData() in ("strip", "grid")
                else ()
            ),
        }

    def width_in(self) -> float | None:
        """The chosen physical width in inches, or None for the pixel layout."""
        data = self.figure_width.currentData()
        return float(self.custom_width.value()) if data == "custom" else data

    # ----- internal -------------------------------------------------------------------------------------
    def _output_choices(self) -> tuple[tuple[str, Any], ...]:
        width = self.width_in()
        common = (("dpi", float(self.dpi.value())), ("title", self.title.text()), ("caption", self.caption.text()))
        if width is None:
            return (("panel_px", self.panel_px.value() or None), *common)
        physical = (("font_pt", float(self.font_pt.value())), ("line_pt", float(self.line_pt.value())))
        return (("width_in", width), *common, *physical)

    def _width_changed(self, *_: object) -> None:
        """Physical layouts default to 300 dpi (print), pixel layouts to 150; a dpi the user chose stays."""
        physical = self.width_in() is not None
        if physical and self.dpi.value() == 150.0:
            self.dpi.setValue(300.0)
        elif not physical and self.dpi.value() == 300.0:
            self.dpi.setValue(150.0)
        self._update_enabled()

    def _changed(self, *_: object) -> None:
        if not self._building:
            self.options_changed.emit()

    def _update_enabled(self, *_: object) -> None:
        kind = self.kind.currentData()
        gan = not self._photo
        self.seeds.setEnabled(gan)
        self.layers.setEnabled(kind == "layer_grid")
        layer_index = self.kind.findData("layer_grid")
        item = self.kind.model().item(layer_index)
        item.setEnabled(gan and getattr(self, "_has_layers", False))
        self.panels.setEnabled(kind != "plot")
        self.heatmap_row.setEnabled(kind in ("strip", "grid"))
        self.heatmap_method.setEnabled(kind in ("strip", "grid") and self.heatmap_row.isChecked())
        physical = self.width_in() is not None
        self.custom_width.setEnabled(self.figure_width.currentData() == "custom")
        for widget in (self.font_pt, self.line_pt):
            widget.setEnabled(physical)
        self.panel_px.setEnabled(not physical)
        self.font_size.setEnabled(not physical)


def edit_parameter_items() -> list[tuple[str, str]]:
    """The photo editor's parameters as directions (a unit step on one parameter per α unit)."""
    return [(f"edit:{p.name}", f"Edit parameter: {p.label}") for p in PARAMETERS]


def _numbers(text: str, what: str, kind: type) -> list[Any]:
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        return [kind(p) for p in parts]
    except ValueError as exc:
        raise ValueError(f"{what}: {text!r} is not a list of numbers") from exc
