"""The Faces dock's widgets: detect, pick a face, align, ovalize per assessor, invert, identity readout.

Only widgets and their signals live here; what the buttons start (engine tasks and jobs) is wired by
:mod:`memstudio.ui.features.faces.feature`, so this panel can be built and inspected without an engine.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from memstudio.core.session.faces import FFHQ_SIZE

#: Inversion spaces offered, as (label, space, fraction of the steps spent in W first). "W → W+" is the
#: projector run in W that then continues in W+ (paper 001 inverts real faces into W+).
SPACES: tuple[tuple[str, str, float], ...] = (
    ("W+", "w+", 0.0),
    ("W → W+", "w+", 0.3),
    ("W", "w", 0.0),
)

#: Reconstruction losses the studio can build offline: multi-scale pixels, or ResMem's trunk plus pixels.
LOSSES: tuple[tuple[str, str], ...] = (
    ("pixels (multi-scale)", "pixel"),
    ("ResMem features + pixels", "resmem"),
)

AUTO_SIZE_TEXT = "auto (generator)"

FACE_ROLE = Qt.ItemDataRole.UserRole


INVERT_TIP = "Project the aligned face into the generator (a job: progress, cancel)"


class FacePanel(QWidget):
    """The dock's contents. ``face_selected(index)`` follows the list; the other signals are the buttons."""

    detect_requested = Signal()
    face_selected = Signal(int)
    align_requested = Signal()
    ovalize_toggled = Signal(str, bool)
    invert_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("facePanel")
        self.detect_button = QPushButton("Detect faces")
        self.detect_button.setObjectName("detectFacesButton")
        self.detect_button.setToolTip("Find every face in the photo on the canvas (MTCNN)")
        self.detect_button.clicked.connect(self.detect_requested)
        self.face_list = QListWidget()
        self.face_list.setObjectName("faceList")
        self.face_list.setMaximumHeight(96)
        self.face_list.currentRowChanged.connect(self._row_changed)

        self.size = QSpinBox()
        self.size.setObjectName("alignSize")
        self.size.setRange(0, 4096)
        self.size.setSingleStep(64)
        self.size.setSpecialValueText(AUTO_SIZE_TEXT)
        self.size.setSuffix(" px")
        self.size.setToolTip(
            f"Side of the aligned face; auto = the generator's resolution ({FFHQ_SIZE} px without one)"
        )
        self.align_button = QPushButton("Align")
        self.align_button.setObjectName("alignFaceButton")
        self.align_button.setToolTip(
            "FFHQ-align the chosen face (dlib's 68 landmarks) into a new photo entry"
        )
        self.align_button.clicked.connect(self.align_requested)
        align_row = QHBoxLayout()
        align_row.addWidget(QLabel("size"))
        align_row.addWidget(self.size, 1)
        align_row.addWidget(self.align_button)

        self.ovalize_box = QGroupBox("Ovalize before scoring")
        self.ovalize_box.setToolTip(
            "Score an oval around the face on white, like the 10k US Adult Faces (paper 001 §2.2)"
        )
        self._ovalize_layout = QVBoxLayout(self.ovalize_box)
        self._ovalize_layout.setContentsMargins(6, 2, 6, 2)
        self.ovalize_checks: dict[str, QCheckBox] = {}

        invert_box = QGroupBox("Invert into the generator")
        self.space = QComboBox()
        self.space.setObjectName("inversionSpace")
        for label, _, _ in SPACES:
            self.space.addItem(label)
        self.steps = QSpinBox()
        self.steps.setObjectName("inversionSteps")
        self.steps.setRange(1, 100_000)
        self.steps.setValue(1000)  # the StyleGAN2-ADA projector's default
        self.loss = QComboBox()
        self.loss.setObjectName("inversionLoss")
        for label, _ in LOSSES:
            self.loss.addItem(label)
        self.invert_button = QPushButton("Invert")
        self.invert_button.setObjectName("invertFaceButton")
        self.invert_button.setToolTip(INVERT_TIP)
        self.invert_button.clicked.connect(self.invert_requested)
        form = QFormLayout(invert_box)
        form.addRow("space", self.space)
        form.addRow("steps", self.steps)
        form.addRow("loss", self.loss)
        form.addRow(self.invert_button)

        self.identity = QLabel("identity: align a face to compare")
        self.identity.setObjectName("identityReadout")
        self.identity.setWordWrap(True)
        self.status = QLabel("Open a photo with a face, then Detect faces.")
        self.status.setObjectName("facesStatus")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.detect_button)
        layout.addWidget(self.face_list)
        layout.addLayout(align_row)
        layout.addWidget(self.ovalize_box)
        layout.addWidget(invert_box)
        layout.addWidget(self.identity)
        layout.addWidget(self.status)
        layout.addStretch(1)

    # ----- faces ----------------------------------------------------------------------------------------
    def set_faces(self, rows: list[tuple[str, str]], selected: int | None = 0) -> None:
        """One row per face, ``(text, tooltip)``, largest first; ``selected`` is preselected (no signal)."""
        self.face_list.blockSignals(True)
        self.face_list.clear()
        for index, (text, tooltip) in enumerate(rows):
            item = QListWidgetItem(text)
            item.setData(FACE_ROLE, index)
            item.setToolTip(tooltip)
            self.face_list.addItem(item)
        if rows and selected is not None:
            self.face_list.setCurrentRow(selected)
        self.face_list.blockSignals(False)

    def selected_face(self) -> int | None:
        row = self.face_list.currentRow()
        return row if row >= 0 else None

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.face_selected.emit(row)

    # ----- settings -------------------------------------------------------------------------------------
    def align_size(self) -> int | None:
        """The requested side, or None for "auto" (the generator's resolution)."""
        return self.size.value() or None

    def inversion_choice(self) -> tuple[str, float]:
        """``(space, w_first)`` of the chosen space entry."""
        _, space, w_first = SPACES[self.space.currentIndex()]
        return space, w_first

    def loss_name(self) -> str:
        return LOSSES[self.loss.currentIndex()][1]

    def set_assessors(self, names: list[str]) -> None:
        """One "ovalize before scoring" checkbox per live assessor (again when the live list changes: the boxes
        of those kept keep their state; one that goes is unticked first, so nothing stays ovalized unseen)."""
        for name in [n for n in self.ovalize_checks if n not in names]:
            box = self.ovalize_checks.pop(name)
            box.setChecked(False)
            self._ovalize_layout.removeWidget(box)
            box.deleteLater()
        for name in [n for n in names if n not in self.ovalize_checks]:
            box = QCheckBox(name)
            box.setObjectName(f"ovalize_{name}")
            box.toggled.connect(lambda on, name=name: self.ovalize_toggled.emit(name, on))
            self._ovalize_layout.addWidget(box)
            self.ovalize_checks[name] = box

    def show_ovalized(self, names: frozenset[str] | set[str]) -> None:
        """Tick the assessors that ovalize the subject on the canvas (the setting is per subject), silently."""
        for name, box in self.ovalize_checks.items():
            box.blockSignals(True)
            box.setChecked(name in names)
            box.blockSignals(False)

    # ----- feedback -------------------------------------------------------------------------------------
    def set_status(self, text: str, problem: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b00020;" if problem else "")

    def set_identity(self, text: str, same_person: bool | None = None) -> None:
        colour = {True: "color: #1b7a2b;", False: "color: #b00020;", None: ""}[same_person]
        if (text, colour) == (self.identity.text(), self.identity.styleSheet()):
            return  # every frame without an aligned face says the same: no re-style, no re-layout
        self.identity.setText(text)
        self.identity.setStyleSheet(colour)

    def set_busy(self, busy: bool) -> None:
        """Disable the detection and alignment buttons while the engine works on them."""
        self.detect_button.setEnabled(not busy)
        self.align_button.setEnabled(not busy)

    def set_invert_available(self, missing: str | None) -> None:
        """Enable Invert, or disable it with ``missing`` (what the user must do first) as its tooltip."""
        self.invert_button.setEnabled(missing is None)
        self.invert_button.setToolTip(INVERT_TIP if missing is None else f"Invert needs a generator: {missing}")
