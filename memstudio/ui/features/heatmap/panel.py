"""The Heatmap dock's widgets: show/hide, method, assessor, scales, opacity, colormap, legend, progress,
Save map and the emphasis check's results.

Only widgets and their signals live here; what they start (engine jobs and tasks) is wired by
:mod:`memstudio.ui.features.heatmap.feature`, so the panel can be built and inspected without an engine — and without
torch or matplotlib: the colormap tables and the core's default scales arrive from the engine.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QFontMetrics, QPainter, QPaintEvent, QPixmap, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledSlider

from memstudio.core.maps.scale import SCALED_METHODS, MapScale
from memstudio.ui.qimage import to_qimage

#: (method id as the core names it, label, tooltip). The ids are ``memstudio.core.maps.api.METHODS``; they are
#: repeated here so building the dock does not import torch.
METHODS: tuple[tuple[str, str, str], ...] = (
    ("regions", "regions", "Score overlapping windows at several scales and average (paper 004 §5)"),
    ("occlusion", "occlusion", "Score drop when a patch is greyed out, at several scales"),
    ("gradient", "gradient", "Gradient saliency of the assessor's score"),
    ("vms", "VMS model", "A trained VMS predictor (paper 003); open one with “Open VMS model…”"),
)
DEFAULT_COLORMAP = "jet"  # paper 004 Fig. 7, and the core's default
DEFAULT_OPACITY = 50  # percent
#: Emphasis renders shown, in the paper's order, with the original as the reference.
EMPHASIS_RENDERS = ("original", "high", "medium", "low")
EMPHASIS_THUMB = 84


class ScalesError(ValueError):
    """The scales field does not hold a list of fractions in (0, 1]."""


def format_scales(scales: tuple[float, ...] | None) -> str:
    """``(2/3, 1/2, 2/5)`` → ``"2/3, 1/2, 2/5"``: simple fractions stay exact when read back."""
    if scales is None:
        return ""
    parts = []
    for s in scales:
        frac = Fraction(s).limit_denominator(12)
        parts.append(f"{frac.numerator}/{frac.denominator}" if float(frac) == s else f"{s:g}")
    return ", ".join(parts)


def parse_scales(text: str) -> tuple[float, ...] | None:
    """Comma- or space-separated fractions ("2/3, 0.5") → a tuple; empty → None (the method's default)."""
    tokens = [t for t in text.replace(",", " ").split() if t]
    if not tokens:
        return None
    scales = []
    for token in tokens:
        try:
            value = float(Fraction(token))
        except (ValueError, ZeroDivisionError) as exc:
            raise ScalesError(f"scale {token!r} is not a number or fraction such as 0.5 or 2/3") from exc
        if not 0.0 < value <= 1.0:
            raise ScalesError(f"scale {token} is outside (0, 1]: scales are fractions of the short side")
        scales.append(value)
    return tuple(scales)


def legend_pixmap(lut: np.ndarray, width: int = 200, height: int = 12) -> QPixmap:
    """A horizontal colour bar of a ``[256, 3]`` colormap table, low on the left."""
    index = np.linspace(0, len(lut) - 1, width).round().astype(np.intp)
    bar = np.repeat(lut[index][None], height, axis=0)
    return QPixmap.fromImage(to_qimage(bar))


class ColourBar(QWidget):
    """The colormap as a bar with numbered ticks in the map's units (the assessor's, where it has them) and a
    label saying what the numbers measure and that the map is normalised per image."""

    BAR_HEIGHT = 12

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmapColourBar")
        self._pixmap: QPixmap | None = None
        self.scale = MapScale("map value")
        fm = QFontMetrics(self.font())
        self.setMinimumHeight(self.BAR_HEIGHT + fm.height() + 6)
        self.setMinimumWidth(160)

    def set_lut(self, lut: np.ndarray) -> None:
        self._pixmap = legend_pixmap(lut)
        self.update()

    def set_scale(self, scale: MapScale) -> None:
        self.scale = scale
        self.setToolTip(scale.label())
        self.update()

    def tick_labels(self) -> list[str]:
        return [text for _, text in self.scale.ticks()]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        fm = painter.fontMetrics()
        margin = max(fm.horizontalAdvance("0.000") // 2, 4)
        bar = QRect(margin, 0, max(self.width() - 2 * margin, 1), self.BAR_HEIGHT)
        if self._pixmap is not None:
            painter.drawPixmap(bar, self._pixmap)
        painter.setPen(self.palette().windowText().color())
        painter.drawRect(bar.adjusted(0, 0, -1, -1))
        for position, text in self.scale.ticks():
            x = bar.left() + round(position * (bar.width() - 1))
            painter.drawLine(x, bar.bottom(), x, bar.bottom() + 3)
            width = fm.horizontalAdvance(text)
            left = min(max(x - width // 2, 0), self.width() - width)
            painter.drawText(left, bar.bottom() + 4 + fm.ascent(), text)
        painter.end()


class HeatmapPanel(QWidget):
    """The dock's contents. ``settings_changed`` asks for a new map (method, assessor, scales);
    ``look_changed`` only for new colours (opacity, colormap); the rest are the buttons."""

    show_toggled = Signal(bool)
    settings_changed = Signal()
    look_changed = Signal()
    vms_requested = Signal()
    save_requested = Signal()
    figure_requested = Signal()
    emphasis_requested = Signal()

    def __init__(self, assessors: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmapPanel")
        self._default_scales: dict[str, tuple[float, ...]] = {}
        self._scales_text: dict[str, str] = {}
        self._method_index = 0

        self.show_box = QCheckBox("Show heatmap on the image")
        self.show_box.setObjectName("heatmapShow")
        self.show_box.setToolTip("Overlay where the image is memorable; the map follows every edit")
        self.show_box.toggled.connect(self.show_toggled)

        self.method = QComboBox()
        self.method.setObjectName("heatmapMethod")
        for method_id, label, tip in METHODS:
            self.method.addItem(label, method_id)
            self.method.setItemData(self.method.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self._set_method_enabled("vms", False)
        self.method.currentIndexChanged.connect(self._method_changed)
        self.vms_button = QPushButton("Open VMS model…")
        self.vms_button.setObjectName("heatmapOpenVms")
        self.vms_button.setToolTip("Choose a checkpoint folder written by `memstudio vms train`")
        self.vms_button.clicked.connect(self.vms_requested)
        self.vms_label = QLabel("no VMS model")
        self.vms_label.setObjectName("heatmapVmsLabel")
        self.vms_label.setWordWrap(True)

        self.assessor = QComboBox()
        self.assessor.setObjectName("heatmapAssessor")
        self.assessor.addItems(assessors)
        if "resmem" in assessors:
            self.assessor.setCurrentText("resmem")
        self.assessor.setToolTip("Whose score the map explains (the VMS method needs none, the emphasis check does)")
        self.assessor.currentIndexChanged.connect(self.settings_changed)

        self.scales = QLineEdit()
        self.scales.setObjectName("heatmapScales")
        self.scales.setPlaceholderText("the method's default")
        self.scales.setToolTip("Window sides as fractions of the short side, coarsest first, e.g. 2/3, 1/2, 2/5")
        self.scales.editingFinished.connect(self._scales_edited)

        self.opacity = QLabeledSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("heatmapOpacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(DEFAULT_OPACITY)
        self.opacity.setToolTip("Opacity of the map over the image, in percent")
        self.opacity.valueChanged.connect(self.look_changed)

        self.colormap = QComboBox()
        self.colormap.setObjectName("heatmapColormap")
        self.colormap.addItem(DEFAULT_COLORMAP)
        self.colormap.currentIndexChanged.connect(self.look_changed)

        # At the top of the dock, under the checkbox: the numbers are what make the colours readable.
        self.legend = ColourBar()
        self.legend_label = QLabel("no map yet")
        self.legend_label.setObjectName("heatmapLegendLabel")
        self.legend_label.setWordWrap(True)
        self.hover = QLabel("")
        self.hover.setObjectName("heatmapHover")
        self.hover.setWordWrap(True)
        self.hover.setToolTip("The map's value under the mouse pointer on the image")

        self.progress = QProgressBar()
        self.progress.setObjectName("heatmapProgress")
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.status = QLabel("Tick “Show heatmap” to see where the image is memorable.")
        self.status.setObjectName("heatmapStatus")
        self.status.setWordWrap(True)

        self.save_button = QPushButton("Save map…")
        self.save_button.setObjectName("heatmapSave")
        self.save_button.setToolTip("Write the finished map as .npy (values) or .png (coloured)")
        self.save_button.clicked.connect(self.save_requested)
        self.figure_button = QPushButton("Export figure…")
        self.figure_button.setObjectName("heatmapFigure")
        self.figure_button.setToolTip(
            "The image, the map at this opacity and a numbered colour bar, one column wide, as PNG, PDF or SVG"
        )
        self.figure_button.clicked.connect(self.figure_requested)
        self.emphasis_button = QPushButton("Emphasis check")
        self.emphasis_button.setObjectName("heatmapEmphasis")
        self.emphasis_button.setToolTip(
            "Paper 004 §5: keep the high / a random half / the low regions sharp, abstract the rest, and score each"
        )
        self.emphasis_button.clicked.connect(self.emphasis_requested)
        self.set_map_ready(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.figure_button)
        buttons.addWidget(self.emphasis_button)

        self.emphasis_box = QGroupBox("Emphasis check")
        self.emphasis_box.setObjectName("heatmapEmphasisBox")
        grid = QGridLayout(self.emphasis_box)
        grid.setContentsMargins(4, 4, 4, 4)
        self.emphasis_images: dict[str, QLabel] = {}
        self.emphasis_scores: dict[str, QLabel] = {}
        for column, name in enumerate(EMPHASIS_RENDERS):
            image = QLabel()
            image.setFixedSize(EMPHASIS_THUMB, EMPHASIS_THUMB)
            image.setAlignment(Qt.AlignmentFlag.AlignCenter)
            score = QLabel(name)
            score.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(image, 0, column)
            grid.addWidget(score, 1, column)
            self.emphasis_images[name] = image
            self.emphasis_scores[name] = score
        self.emphasis_verdict = QLabel()
        self.emphasis_verdict.setObjectName("heatmapEmphasisVerdict")
        self.emphasis_verdict.setWordWrap(True)
        grid.addWidget(self.emphasis_verdict, 2, 0, 1, len(EMPHASIS_RENDERS))
        self.emphasis_box.hide()

        form = QFormLayout()
        form.addRow("method", self.method)
        form.addRow(self.vms_button, self.vms_label)
        form.addRow("assessor", self.assessor)
        form.addRow("scales", self.scales)
        form.addRow("opacity", self.opacity)
        form.addRow("colormap", self.colormap)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.show_box)
        layout.addWidget(self.legend)
        layout.addWidget(self.legend_label)
        layout.addWidget(self.hover)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        layout.addWidget(self.emphasis_box)
        layout.addStretch(1)

    # ----- settings -------------------------------------------------------------------------------------
    def method_id(self) -> str:
        return str(self.method.currentData())

    def set_assessors(self, assessors: list[str]) -> None:
        """Offer ``assessors`` (the studio's list changed); the one chosen stays chosen while it is offered."""
        chosen = self.assessor.currentText()
        self.assessor.blockSignals(True)
        self.assessor.clear()
        self.assessor.addItems(assessors)
        self.assessor.setCurrentText(chosen if chosen in assessors else "resmem")
        self.assessor.blockSignals(False)
        if self.assessor.currentText() != chosen:
            self.settings_changed.emit()

    def assessor_name(self) -> str:
        return self.assessor.currentText()

    def chosen_scales(self) -> tuple[float, ...] | None:
        """The scales to map at: the core's default tuple itself while the field shows it (so 2/3 stays 2/3),
        None for methods without scales. Raises :class:`ScalesError` for a bad field."""
        method = self.method_id()
        if method not in SCALED_METHODS:
            return None
        scales = parse_scales(self.scales.text())
        default = self._default_scales.get(method)
        if (
            scales is not None
            and default is not None
            and len(scales) == len(default)
            and np.allclose(scales, default, atol=5e-4)
        ):
            return default
        return scales

    def opacity_value(self) -> float:
        return self.opacity.value() / 100.0

    def colormap_name(self) -> str:
        return self.colormap.currentText()

    def set_defaults(self, scales: dict[str, tuple[float, ...]], colormaps: list[str]) -> None:
        """What the engine reported: the core's default scales per method and the colormap names."""
        self._default_scales = dict(scales)
        current = self.colormap_name()
        self.colormap.blockSignals(True)
        self.colormap.clear()
        self.colormap.addItems(colormaps)
        self.colormap.setCurrentText(current if current in colormaps else DEFAULT_COLORMAP)
        self.colormap.blockSignals(False)
        method = self.method_id()
        if method in scales and method not in self._scales_text:
            self.scales.setText(format_scales(scales[method]))
        self._sync_scales_field()

    def set_vms_model(self, path: str | None, summary: str = "") -> None:
        """Enable the VMS method for ``path`` (None: no model) and say what it is."""
        self._set_method_enabled("vms", path is not None)
        self.vms_label.setText(summary if path is not None else "no VMS model")
        self.vms_label.setToolTip(path or "")

    def select_method(self, method: str) -> None:
        self.method.setCurrentIndex(self.method.findData(method))

    def _set_method_enabled(self, method: str, enabled: bool) -> None:
        model = self.method.model()
        if isinstance(model, QStandardItemModel):
            model.item(self.method.findData(method)).setEnabled(enabled)

    def _method_changed(self, index: int) -> None:
        # Each method keeps its own scales: occlusion patches and region windows have different defaults.
        previous = METHODS[self._method_index][0]
        self._scales_text[previous] = self.scales.text()
        self._method_index = index
        method = self.method_id()
        default = self._default_scales.get(method)
        self.scales.setText(self._scales_text.get(method, format_scales(default)))
        self._sync_scales_field()
        self.settings_changed.emit()

    def _sync_scales_field(self) -> None:
        self.scales.setEnabled(self.method_id() in SCALED_METHODS)

    def _scales_edited(self) -> None:
        # Emitted on every focus change; the feature ignores settings equal to those of the map it has.
        self._scales_text[self.method_id()] = self.scales.text()
        self.settings_changed.emit()

    # ----- feedback -------------------------------------------------------------------------------------
    def set_legend(self, lut: np.ndarray) -> None:
        self.legend.set_lut(lut)

    def set_scale(self, scale: MapScale) -> None:
        """Number the colour bar for a finished map."""
        self.legend.set_scale(scale)
        self.legend_label.setText(scale.label())

    def set_hover(self, text: str) -> None:
        self.hover.setText(text)

    def set_progress(self, fraction: float | None) -> None:
        """``None`` hides the bar (nothing running)."""
        self.progress.setVisible(fraction is not None)
        if fraction is not None:
            self.progress.setValue(round(min(max(fraction, 0.0), 1.0) * 1000))

    def set_status(self, text: str, problem: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b00020;" if problem else "")

    def set_map_ready(self, ready: bool) -> None:
        """Save and the emphasis check need a finished map."""
        self.save_button.setEnabled(ready)
        self.figure_button.setEnabled(ready)
        self.emphasis_button.setEnabled(ready)

    def show_emphasis(self, result: dict) -> None:
        """Thumbnails and scores of the emphasis renders, and whether high > medium > low holds."""
        for name in EMPHASIS_RENDERS:
            pixels = result["thumbnails"][name]
            self.emphasis_images[name].setPixmap(QPixmap.fromImage(to_qimage(pixels)))
            self.emphasis_scores[name].setText(f"{name}\n{result['scores'][name]:.3f}")
        s = result["scores"]
        holds = result["order_holds"]
        verdict = "holds ✓" if holds else "does not hold ✗"
        self.emphasis_verdict.setText(
            f"{result['assessor']}: high {s['high']:.3f} · medium {s['medium']:.3f} · low {s['low']:.3f} — "
            f"high > medium > low {verdict} (map of frame #{result['frame_id']})"
        )
        self.emphasis_verdict.setStyleSheet("color: #1b7a2b;" if holds else "color: #b00020;")
        self.emphasis_box.show()
