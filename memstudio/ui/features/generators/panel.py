"""The Generator dock's widget: what is loaded, truncation ψ, the class picker and a page of seed thumbnails.

It holds no model and renders nothing: it asks (signals) and is told (``show_generator``,
``set_thumbnail``). Seeds run over NVIDIA's whole range 0 … 2³²−1, so the grid shows one page at a time,
chosen with a start-seed box, previous/next buttons or "go to seed".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLargeIntSpinBox

from memstudio.ui.debounce import Debouncer
from memstudio.ui.qimage import to_qimage

MAX_SEED = 2**32 - 1
THUMB = 96
SEED_ROLE = Qt.ItemDataRole.UserRole
HINT = "Open a generator (File ▸ Open generator…) to browse seeds"
#: A ψ drag settles for this long before the seed and the thumbnails are re-rendered.
TRUNCATION_SETTLE_MS = 200


class GeneratorPanel(QWidget):
    """Signals: ``seed_chosen(seed)``, ``page_requested(start)``, ``truncation_changed(psi)``,
    ``class_changed(index or None)``, and the buttons' ``open_requested``, ``save_latent_requested``,
    ``open_latent_requested``."""

    seed_chosen = Signal(object)  # seeds reach 2³²−1: past a C++ int
    page_requested = Signal(object)
    truncation_changed = Signal(float)
    class_changed = Signal(object)
    open_requested = Signal()
    save_latent_requested = Signal()
    open_latent_requested = Signal()

    def __init__(self, page_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("generatorPanel")
        self.page_size = page_size
        self._items: dict[int, QListWidgetItem] = {}
        self._rendered: set[int] = set()
        # Cells hold a grey square until their seed is rendered, so the grid never reflows as batches land.
        blank = QPixmap(THUMB, THUMB)
        blank.fill(Qt.GlobalColor.lightGray)
        self._blank = QIcon(blank)

        self.hint = QLabel(HINT)
        self.hint.setObjectName("generatorHint")
        self.hint.setWordWrap(True)
        self.open_button = QPushButton("Open generator…")
        self.open_button.clicked.connect(self.open_requested)
        self.info = QLabel()
        self.info.setObjectName("generatorInfo")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.truncation = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.truncation.setObjectName("truncationSlider")
        self.truncation.setDecimals(2)
        self.truncation.setSingleStep(0.05)
        self.truncation.setRange(0.0, 1.5)
        self.truncation.setValue(1.0)
        self._settle = Debouncer(
            TRUNCATION_SETTLE_MS, lambda: self.truncation_changed.emit(self.truncation_value()), self
        )
        self.truncation.valueChanged.connect(lambda _v: self._settle.throttle())

        self.class_combo = QComboBox()
        self.class_combo.setObjectName("classPicker")
        self.class_combo.setEditable(True)
        self.class_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.class_combo.setMaxVisibleItems(20)
        completer = QCompleter(self.class_combo.model(), self.class_combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.class_combo.setCompleter(completer)
        self.class_combo.currentIndexChanged.connect(self._class_index_changed)
        self.class_label = QLabel("Class")

        self.start = QLargeIntSpinBox()
        self.start.setObjectName("pageStartSeed")
        self.start.setRange(0, MAX_SEED)
        self.start.setSingleStep(page_size)
        self.start.setKeyboardTracking(False)
        self.start.valueChanged.connect(lambda v: self.page_requested.emit(int(v)))
        self.previous = QPushButton("◀")
        self.previous.setToolTip("Previous page of seeds")
        self.previous.clicked.connect(lambda: self._step_page(-1))
        self.next = QPushButton("▶")
        self.next.setToolTip("Next page of seeds")
        self.next.clicked.connect(lambda: self._step_page(1))
        self.go_seed = QLargeIntSpinBox()
        self.go_seed.setObjectName("goToSeed")
        self.go_seed.setRange(0, MAX_SEED)
        self.go_seed.setKeyboardTracking(False)
        go = QPushButton("Go")
        go.setToolTip("Show this seed on the canvas and its page in the grid")
        go.clicked.connect(self.go_to_seed)
        self.go_seed.lineEdit().returnPressed.connect(self.go_to_seed)

        self.grid = QListWidget()
        self.grid.setObjectName("seedGrid")
        self.grid.setViewMode(QListWidget.ViewMode.IconMode)
        self.grid.setIconSize(QSize(THUMB, THUMB))
        self.grid.setGridSize(QSize(THUMB + 12, THUMB + 26))
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.setMovement(QListWidget.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setWordWrap(False)
        self.grid.itemClicked.connect(self._item_clicked)
        self.grid.itemActivated.connect(self._item_clicked)
        self.status = QLabel("")
        self.status.setObjectName("thumbnailStatus")

        save = QPushButton("Save latent…")
        save.setObjectName("saveLatentButton")
        save.clicked.connect(self.save_latent_requested)
        reopen = QPushButton("Open latent…")
        reopen.setObjectName("openLatentButton")
        reopen.clicked.connect(self.open_latent_requested)

        form = QFormLayout()
        form.addRow("Truncation ψ", self.truncation)
        form.addRow(self.class_label, self.class_combo)
        page_row = QHBoxLayout()
        page_row.addWidget(QLabel("Seeds from"))
        page_row.addWidget(self.start, 1)
        page_row.addWidget(self.previous)
        page_row.addWidget(self.next)
        go_row = QHBoxLayout()
        go_row.addWidget(QLabel("Go to seed"))
        go_row.addWidget(self.go_seed, 1)
        go_row.addWidget(go)
        latent_row = QHBoxLayout()
        latent_row.addWidget(save)
        latent_row.addWidget(reopen)

        self.controls = QWidget()
        controls = QVBoxLayout(self.controls)
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.info)
        controls.addLayout(form)
        controls.addLayout(page_row)
        controls.addLayout(go_row)
        controls.addWidget(self.grid, 1)
        controls.addWidget(self.status)
        controls.addLayout(latent_row)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(self.open_button)
        layout.addWidget(self.controls, 1)
        self.show_generator(None)

    # ----- told by the feature ----------------------------------------------------------------------------
    def show_generator(self, info: dict[str, Any] | None) -> None:
        """Show ``info`` (from :func:`memstudio.core.session.generators.generator_info`), or the photo-mode
        hint for None."""
        self.hint.setVisible(info is None)
        self.open_button.setVisible(info is None)
        self.controls.setVisible(info is not None)
        self.grid.clear()
        self._items.clear()
        self._rendered.clear()
        if info is None:
            return
        sha = info.get("checkpoint_sha256") or ""
        classes = f" · {info['num_classes']} classes" if info["num_classes"] else ""
        ws = f" · num_ws {info['num_ws']}" if info["num_ws"] else ""
        side = info["resolution"]
        self.info.setText(
            f"<b>{info['name']}</b><br>{info['family']} · {side}×{side}{ws}{classes}"
            + (f"<br><small>sha256 {sha[:16]}…</small>" if sha else "")
        )
        self.info.setToolTip(f"sha256 {sha}" if sha else "")
        low, high = info["truncation_range"]
        self.truncation.blockSignals(True)
        self.truncation.setRange(low, high)
        self.truncation.setValue(info["default_truncation"])
        self.truncation.blockSignals(False)
        self._fill_classes(info)
        self.set_page_start(0)

    def _fill_classes(self, info: dict[str, Any]) -> None:
        count = int(info["num_classes"])
        names = info.get("class_names") or ()
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        for index in range(count):
            label = f"{index}: {names[index]}" if index < len(names) else str(index)
            self.class_combo.addItem(label, index)
        if count:
            self.class_combo.setCurrentIndex(int(info.get("default_class") or 0))
        self.class_combo.blockSignals(False)
        self.class_combo.setVisible(count > 0)
        self.class_label.setVisible(count > 0)

    def set_page_start(self, start: int) -> None:
        """Lay out empty cells for the page starting at ``start`` (no signal; the feature renders them)."""
        start = max(0, min(int(start), MAX_SEED))
        self.start.blockSignals(True)
        self.start.setValue(start)
        self.start.blockSignals(False)
        self.grid.clear()
        self._items.clear()
        self._rendered.clear()
        for seed in range(start, min(start + self.page_size, MAX_SEED + 1)):
            item = QListWidgetItem(f"seed {seed}")
            item.setData(SEED_ROLE, seed)
            item.setIcon(self._blank)
            item.setSizeHint(QSize(THUMB + 8, THUMB + 22))
            self.grid.addItem(item)
            self._items[seed] = item
        self.previous.setEnabled(start > 0)
        self.next.setEnabled(start + self.page_size <= MAX_SEED)

    def set_thumbnail(self, seed: int, pixels: np.ndarray) -> None:
        """Show ``pixels`` (``[H, W, 3]`` uint8) for ``seed`` if its cell is on the page."""
        item = self._items.get(seed)
        if item is None:
            return
        pixmap = QPixmap.fromImage(to_qimage(pixels))
        if pixmap.width() < THUMB:
            # Tiny generators: enlarge with visible pixels rather than leave a speck in the cell.
            pixmap = pixmap.scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
            )
        item.setIcon(QIcon(pixmap))
        self._rendered.add(seed)

    def select_seed(self, seed: int | None) -> None:
        """Highlight ``seed``'s cell when it is on the page (the canvas shows it)."""
        item = self._items.get(seed) if seed is not None else None
        self.grid.blockSignals(True)
        if item is None:
            self.grid.clearSelection()
        else:
            self.grid.setCurrentItem(item)
        self.grid.blockSignals(False)

    # ----- read by the feature ----------------------------------------------------------------------------
    def page_seeds(self) -> list[int]:
        return list(self._items)

    def rendered_seeds(self) -> list[int]:
        return [seed for seed in self._items if seed in self._rendered]

    def item_for(self, seed: int) -> QListWidgetItem | None:
        return self._items.get(seed)

    def truncation_value(self) -> float:
        return round(float(self.truncation.value()), 3)

    def class_index(self) -> int | None:
        if self.class_combo.count() == 0:
            return None
        data = self.class_combo.currentData()
        return None if data is None else int(data)

    def set_class_index(self, index: int) -> None:
        """Pick class ``index`` as a user would (emits ``class_changed``)."""
        position = self.class_combo.findData(int(index))
        if position < 0:
            raise ValueError(f"class {index} is not offered (0 … {self.class_combo.count() - 1})")
        self.class_combo.setCurrentIndex(position)

    # ----- user actions -----------------------------------------------------------------------------------
    def go_to_seed(self) -> None:
        seed = int(self.go_seed.value())
        start = seed - seed % self.page_size
        if start != int(self.start.value()) or not self._items:
            self.page_requested.emit(start)
        self.seed_chosen.emit(seed)

    def _step_page(self, sign: int) -> None:
        self.page_requested.emit(max(0, min(int(self.start.value()) + sign * self.page_size, MAX_SEED)))

    def _item_clicked(self, item: QListWidgetItem) -> None:
        self.seed_chosen.emit(int(item.data(SEED_ROLE)))

    def _class_index_changed(self, _position: int) -> None:
        self.class_changed.emit(self.class_index())
