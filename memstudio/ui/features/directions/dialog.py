"""The Train direction dialog: GANalyze (paper 000), a hyperplane (001 §2.4) or a conditional edit (001 A.5).

It only collects choices: GANalyze and hyperplane become a :class:`TrainDirection` command (the core's
:class:`TrainDirectionSettings`, the same the CLI fills) that the feature runs on the engine; a conditional
edit is a quick engine task whose cosines (before / after) come back into the dialog. The held-out count
shown is the one used, and the dialog warns before training when it is too small to cite.

"Estimate" asks the feature to run an :class:`EstimateTraining` command on the engine thread (a measured
warm-up step of exactly these settings); the dialog stays live meanwhile, shows "≈ 2.1 s/step · 300 steps
≈ 11 min on CPU" when it lands and what fits the chosen time budget, which "Use suggested settings" applies.
Any change of the settings makes a shown estimate stale (and a running one is cancelled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from memstudio.core.directions.estimate import (
    BUDGETS_S,
    Suggestion,
    TrainEstimate,
    format_duration,
    suggest_settings,
)
from memstudio.core.directions.train import MIN_CITABLE_SAMPLES, TrainDirectionSettings
from memstudio.core.session.directions import EstimateTraining, TrainDirection

METHODS = (("GANalyze", "ganalyze"), ("Hyperplane", "hyperplane"), ("Conditional", "conditional"))

ALPHA_HELP = (
    "α ~ U(−a, a) is in score units: θ is asked to move the score by α. “auto” picks "
    "a = min(0.5, 4 × std of the assessor's scores over random samples), so the targets stay reachable; "
    "paper 000 used 0.5 with MemNet."
)

ALPHA_SHORT = (
    "α is in score units. auto: a = min(0.5, 4 × the assessor's score std\n"
    "over random samples), so every target is reachable (paper 000: 0.5)."
)


class TrainDirectionDialog(QDialog):
    """``train_requested(TrainDirection)``; ``conditional_requested(base_id, keep_ids, output)``;
    ``estimate_requested(EstimateTraining)``; ``estimate_stale()`` when a running estimate is no longer wanted."""

    train_requested = Signal(object)
    conditional_requested = Signal(str, list, str)
    estimate_requested = Signal(object)
    estimate_stale = Signal()

    def __init__(
        self,
        parent: QWidget | None,
        assessors: list[str],
        photo_mode: bool,
        spaces: list[str],
        selected_photos: list[str],
        sample_photos: list[str],
        directions: list[dict[str, Any]],
        output_folder: Path,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trainDirectionDialog")
        self.setWindowTitle("Train direction")
        self.setMinimumWidth(580)
        self.photo_mode = photo_mode
        self.selected_photos = list(selected_photos)
        self.sample_photos = list(sample_photos)
        self.output_folder = output_folder

        self.method = QComboBox()
        self.method.setObjectName("directionMethod")
        for label, key in METHODS:
            self.method.addItem(label, key)
        self.assessor = QComboBox()
        self.assessor.setObjectName("directionAssessor")
        self.assessor.addItems(assessors)
        self.mode_label = QLabel(
            "Photo editing: θ over the photo editor's parameters, trained over photos."
            if photo_mode
            else "GAN: θ in the generator's latent space."
        )
        self.mode_label.setWordWrap(True)

        # GANalyze
        self.steps = _spin(1, 1_000_000, 300, "steps")
        self.batch = _spin(1, 4096, 8, "batch")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(4)
        self.lr.setRange(1e-4, 10.0)
        self.lr.setValue(0.05)
        self.alpha_max = QDoubleSpinBox()
        self.alpha_max.setObjectName("alphaMax")
        self.alpha_max.setDecimals(4)
        self.alpha_max.setRange(0.0, 10.0)
        self.alpha_max.setSingleStep(0.05)
        self.alpha_max.setSpecialValueText("auto")
        self.alpha_max.setValue(0.0)
        alpha_help = QLabel(ALPHA_SHORT)
        alpha_help.setToolTip(ALPHA_HELP)
        alpha_help.setStyleSheet("color: gray;")
        self.alpha_max.setToolTip(ALPHA_HELP)
        self.g_space = QComboBox()
        self.g_space.setObjectName("ganalyzeSpace")
        ganalyze = QWidget()
        g_form = QFormLayout(ganalyze)
        g_form.addRow("Steps", self.steps)
        g_form.addRow("Batch", self.batch)
        g_form.addRow("Learning rate (Adam)", self.lr)
        g_form.addRow("α max (a)", self.alpha_max)
        g_form.addRow(alpha_help)
        g_form.addRow("Space", self.g_space)

        # Hyperplane
        self.samples = _spin(10, 10_000_000, 500, "hyperplaneSamples")
        self.split = QComboBox()
        self.split.addItems(["mean", "median", "fraction"])
        self.classifier = QComboBox()
        self.classifier.addItems(["logistic", "svm"])
        self.h_space = QComboBox()
        self.h_space.setObjectName("hyperplaneSpace")
        hyperplane = QWidget()
        h_form = QFormLayout(hyperplane)
        h_form.addRow("Samples N", self.samples)
        h_form.addRow("High/low split", self.split)
        h_form.addRow("Classifier", self.classifier)
        h_form.addRow("Space", self.h_space)
        if photo_mode:
            h_form.addRow(QLabel("A hyperplane needs a GAN's latent space: open a generator first."))

        # Conditional
        self.base = QComboBox()
        self.base.setObjectName("conditionalBase")
        self.keep = QListWidget()
        self.keep.setObjectName("conditionalKeep")
        self.cosines = QLabel("")
        self.cosines.setObjectName("conditionalCosines")
        self.cosines.setWordWrap(True)
        self.cosines.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        conditional = QWidget()
        c_form = QFormLayout(conditional)
        c_form.addRow("Direction to edit with", self.base)
        c_form.addRow("Keep fixed (orthogonal to)", self.keep)
        c_form.addRow(self.cosines)
        self.set_directions(directions)

        self.pages = QStackedWidget()
        for page in (ganalyze, hyperplane, conditional):
            self.pages.addWidget(page)
        self.method.currentIndexChanged.connect(self._method_changed)

        # Photos
        self.photos_box = QGroupBox("Photos")
        photos = QFormLayout(self.photos_box)
        self.use_selected = QRadioButton(f"Photos selected in the seed browser ({len(self.selected_photos)})")
        self.use_samples = QRadioButton(f"Built-in sample photos ({len(self.sample_photos)})")
        group = QButtonGroup(self)
        group.addButton(self.use_selected)
        group.addButton(self.use_samples)
        (self.use_selected if len(self.selected_photos) >= 2 else self.use_samples).setChecked(True)
        self.use_selected.setEnabled(bool(self.selected_photos))
        self.photo_size = _spin(16, 2048, 256, "photoSize")
        self.heldout = _spin(0, 0, 0, "heldoutPhotos")
        self.heldout.setToolTip(
            "Photos kept out of training; the evidence (β, CI, R²) is measured on them, one sample per photo."
        )
        photos.addRow(self.use_selected)
        photos.addRow(self.use_samples)
        photos.addRow("Photo size (px)", self.photo_size)
        photos.addRow("Held-out photos (evidence)", self.heldout)
        self.photos_box.setVisible(photo_mode)
        group.buttonToggled.connect(self._photos_changed)

        self.eval_samples = _spin(2, 100_000, 64, "evalSamples")
        self.eval_samples.setToolTip("Fresh latents from memstudio's held-out seed; the evidence's n.")
        self.evidence_warning = QLabel("")
        self.evidence_warning.setObjectName("evidenceWarning")
        self.evidence_warning.setWordWrap(True)
        self.evidence_warning.setStyleSheet("color: #b35c00;")
        self.eval_samples.valueChanged.connect(self._update_warning)
        self.heldout.valueChanged.connect(self._update_warning)
        self.output = QLineEdit(str(output_folder / "direction.json"))
        self.output.setObjectName("directionOutput")
        self._auto_output = True
        self.output.textEdited.connect(self._output_edited)
        self.assessor.currentIndexChanged.connect(self._default_output)
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)

        self.estimate_box = self._build_estimate_box()

        self.start = QPushButton("Train")
        self.start.setObjectName("startTraining")
        self.start.setDefault(True)
        self.start.clicked.connect(self._start)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start)
        buttons.addWidget(close)

        form = QFormLayout()
        form.addRow("Method", self.method)
        form.addRow("Assessor", self.assessor)
        form.addRow(self.mode_label)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.pages)
        layout.addWidget(self.photos_box)
        bottom = QFormLayout()
        self.eval_samples_label = QLabel("Held-out samples (evidence)")
        bottom.addRow(self.eval_samples_label, self.eval_samples)
        bottom.addRow(self.evidence_warning)
        bottom.addRow("Output file", out_row)
        layout.addLayout(bottom)
        layout.addWidget(self.estimate_box)
        layout.addLayout(buttons)
        self.set_spaces(spaces)
        self._photos_changed()
        self._method_changed()
        self._watch_settings()

    # ----- time estimate ----------------------------------------------------------------------------------
    def _build_estimate_box(self) -> QGroupBox:
        box = QGroupBox("Time on this machine")
        self.estimate_button = QPushButton("Estimate")
        self.estimate_button.setObjectName("estimateTraining")
        self.estimate_button.setToolTip(
            "Run one warm-up step and one timed step of these settings here (nothing is trained or saved)"
        )
        self.estimate_button.clicked.connect(self._request_estimate)
        self.budget = QComboBox()
        self.budget.setObjectName("timeBudget")
        for seconds in BUDGETS_S:
            self.budget.addItem(format_duration(seconds), seconds)
        self.budget.currentIndexChanged.connect(self._show_suggestion)
        self.estimate_label = QLabel("Not measured yet: press Estimate before training.")
        self.estimate_label.setObjectName("trainingEstimate")
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.suggestion_label = QLabel("")
        self.suggestion_label.setObjectName("trainingSuggestion")
        self.suggestion_label.setWordWrap(True)
        self.use_suggested = QPushButton("Use suggested settings")
        self.use_suggested.setObjectName("useSuggested")
        self.use_suggested.setEnabled(False)
        self.use_suggested.clicked.connect(self._apply_suggestion)
        row = QHBoxLayout()
        row.addWidget(self.estimate_button)
        row.addWidget(QLabel("Budget"))
        row.addWidget(self.budget)
        row.addStretch(1)
        row.addWidget(self.use_suggested)
        column = QVBoxLayout(box)
        column.addLayout(row)
        column.addWidget(self.estimate_label)
        column.addWidget(self.suggestion_label)
        self.estimate: TrainEstimate | None = None
        self.suggestion: Suggestion | None = None
        self._estimated_for: TrainDirectionSettings | None = None  # the settings measured, or being measured
        self._measuring = False
        return box

    def _watch_settings(self) -> None:
        """Every control that changes what would be trained makes the estimate stale."""
        for spin in (self.steps, self.batch, self.samples, self.photo_size, self.heldout, self.eval_samples):
            spin.valueChanged.connect(self._settings_changed)
        for spin in (self.lr, self.alpha_max):
            spin.valueChanged.connect(self._settings_changed)
        for box in (self.method, self.assessor, self.g_space, self.h_space, self.split, self.classifier):
            box.currentIndexChanged.connect(self._settings_changed)
        self.use_selected.toggled.connect(self._settings_changed)
        self.output.textChanged.connect(self._settings_changed)  # a checkpoint beside it: fewer steps to run

    def _request_estimate(self) -> None:
        command = EstimateTraining(self.request().settings, on_photos=self.photo_mode)
        self.estimate, self.suggestion = None, None
        self._estimated_for, self._measuring = command.settings, True
        self.estimate_label.setText("Measuring a warm-up step on the engine…")
        self.suggestion_label.setText("")
        self.use_suggested.setEnabled(False)
        self.estimate_requested.emit(command)

    def estimate_progress(self, message: str) -> None:
        """The running estimate's progress (from the engine, via the feature)."""
        if self._measuring:
            self.estimate_label.setText(f"Measuring… {message}")

    def show_estimate(self, command: EstimateTraining, estimate: TrainEstimate) -> bool:
        """Show ``estimate`` if it measured the settings as they are now; False (ignored) when stale."""
        if command.settings != self._estimated_for or self._current_settings() != command.settings:
            return False
        self._measuring = False
        self.estimate = estimate
        self.estimate_label.setText(estimate.describe())
        self._show_suggestion()
        return True

    def estimate_failed(self, command: EstimateTraining, message: str) -> None:
        if command.settings == self._estimated_for and self._measuring:
            self._measuring = False
            self.estimate_label.setText(f"Could not estimate: {message}")

    def _show_suggestion(self, *_args: object) -> None:
        if self.estimate is None or self._estimated_for is None:
            return
        self.suggestion = suggest_settings(self._estimated_for, self.estimate, float(self.budget.currentData()))
        self.suggestion_label.setText(f"Budget {self.suggestion.describe()}")
        self.use_suggested.setEnabled(bool(self.suggestion.changes))

    def _apply_suggestion(self) -> None:
        suggestion = self.suggestion
        if suggestion is None:
            return
        self.steps.setValue(suggestion.settings.steps)
        self.batch.setValue(suggestion.settings.batch_size)
        self.samples.setValue(suggestion.settings.num_samples)
        self.estimate_label.setText(
            f"Suggested settings applied: predicted ≈ {format_duration(suggestion.predicted_s)} "
            "from the measurement (press Estimate to measure them)."
        )

    def _current_settings(self) -> TrainDirectionSettings | None:
        """What Train would run now (None for a conditional edit, which trains nothing)."""
        return None if self.method_key() == "conditional" else self.request().settings

    def _settings_changed(self, *_args: object) -> None:
        if self._estimated_for is None or self._current_settings() == self._estimated_for:
            return
        if self._measuring:
            self.estimate_stale.emit()
        self.estimate, self.suggestion, self._estimated_for, self._measuring = None, None, None, False
        self.use_suggested.setEnabled(False)
        self.suggestion_label.setText("")
        self.estimate_label.setText("Settings changed: press Estimate to measure them.")

    # ----- contents ---------------------------------------------------------------------------------------
    def set_spaces(self, spaces: list[str]) -> None:
        self.g_space.clear()
        self.h_space.clear()
        if self.photo_mode:
            self.g_space.addItem("edit (photo editor)", "edit")
            return
        self.g_space.addItem("default (z where it exists)", None)
        for space in spaces:
            self.g_space.addItem(space, space)
            self.h_space.addItem(space, space)
        index = self.h_space.findData("w")
        self.h_space.setCurrentIndex(max(index, 0))

    def set_directions(self, directions: list[dict[str, Any]]) -> None:
        self.base.clear()
        self.keep.clear()
        for info in directions:
            label = f"{info['name']} ({info['space']}, {info['method']})"
            self.base.addItem(label, info["id"])
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, info["id"])
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.keep.addItem(item)

    def set_keep(self, direction_ids: list[str]) -> None:
        for i in range(self.keep.count()):
            item = self.keep.item(i)
            wanted = item.data(Qt.ItemDataRole.UserRole) in direction_ids
            item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)

    def kept_ids(self) -> list[str]:
        items = (self.keep.item(i) for i in range(self.keep.count()))
        return [
            str(item.data(Qt.ItemDataRole.UserRole)) for item in items if item.checkState() == Qt.CheckState.Checked
        ]

    def show_cosines(self, info: dict[str, Any]) -> None:
        """The conditional result: cosine with each kept direction before and after the projection."""
        lines = [f"Saved {info['name']} → {info['path']}"]
        for name, c in (info.get("cosines") or {}).items():
            lines.append(f"cos with {name}: {c['before']:+.4f} before → {c['after']:+.6f} after")
        self.cosines.setText("\n".join(lines))

    def method_key(self) -> str:
        return str(self.method.currentData())

    def _method_changed(self) -> None:
        key = self.method_key()
        self.pages.setCurrentIndex([k for _, k in METHODS].index(key))
        self.start.setText({"conditional": "Make conditional"}.get(key, "Train"))
        self.photos_box.setVisible(self.photo_mode and key == "ganalyze")
        on_samples = not self.photo_mode and key != "conditional"
        self.eval_samples.setVisible(on_samples)
        self.eval_samples_label.setVisible(on_samples)
        self._update_warning()
        self.assessor.setEnabled(key != "conditional")
        self.start.setEnabled(not (self.photo_mode and key == "hyperplane"))
        self.estimate_box.setVisible(key != "conditional")
        self.estimate_button.setEnabled(self.start.isEnabled())
        self._default_output()

    def _default_output(self) -> None:
        """Name the file after the assessor and method until the user types a name of their own."""
        if not self._auto_output:
            return
        key = self.method_key()
        name = self.assessor.currentText() if key != "conditional" else "conditional"
        suffix = "" if key == "conditional" else f"-{key}"
        self.output.setText(str(self.output_folder / f"{name}{suffix}.json"))

    def _output_edited(self) -> None:
        self._auto_output = False

    def set_output(self, path: str | Path) -> None:
        self._auto_output = False
        self.output.setText(str(path))

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Direction file", self.output.text(), "Direction (*.json)")
        if path:
            self.set_output(path)

    def photos(self) -> list[str]:
        return self.selected_photos if self.use_selected.isChecked() else self.sample_photos

    def _photos_changed(self, *_args: object) -> None:
        """Held-out photos: at most all but one, a third by default (the CLI's default)."""
        count = len(set(self.photos()))
        self.heldout.setRange(0, max(count - 1, 0))
        self.heldout.setValue(max(1, count // 3) if count >= 2 else 0)
        self._update_warning()

    def heldout_count(self) -> int:
        """The evidence's n as it will be: held-out photos, or held-out samples of the generator."""
        return int(self.heldout.value() if self.photo_mode else self.eval_samples.value())

    def _update_warning(self) -> None:
        n = self.heldout_count()
        if self.method_key() == "conditional" or n >= MIN_CITABLE_SAMPLES:
            self.evidence_warning.setText("")
        elif self.photo_mode and n == 0:
            self.evidence_warning.setText("⚠ No photo held out: the evidence would be measured on the training photos.")
        else:
            what = "photos" if self.photo_mode else "samples"
            more = " (select more photos)" if self.photo_mode else ""
            self.evidence_warning.setText(
                f"⚠ n = {n} held-out {what}: fewer than {MIN_CITABLE_SAMPLES}, β and its CI will not be "
                f"citable{more}."
            )

    def request(self) -> TrainDirection:
        """The GANalyze / hyperplane settings as chosen, as the command the engine runs."""
        key = self.method_key()
        space_box = self.g_space if key == "ganalyze" else self.h_space
        settings = TrainDirectionSettings(
            method=key,
            assessor=self.assessor.currentText(),
            output=self.output.text(),
            space=space_box.currentData(),
            photos=tuple(self.photos()) if self.photo_mode else (),
            photo_size=int(self.photo_size.value()),
            heldout_photos=int(self.heldout.value()) if self.photo_mode else None,
            steps=int(self.steps.value()),
            batch_size=int(self.batch.value()),
            lr=float(self.lr.value()),
            alpha_max=float(self.alpha_max.value()) or None,
            num_samples=int(self.samples.value()),
            split=self.split.currentText(),
            classifier=self.classifier.currentText(),
            eval_samples=int(self.eval_samples.value()),
        )
        return TrainDirection(settings, on_photos=self.photo_mode)

    def _start(self) -> None:
        if self.method_key() == "conditional":
            base = self.base.currentData()
            keep = [k for k in self.kept_ids() if k != base]
            if base is None or not keep:
                self.cosines.setText("Choose a direction to edit with and at least one other to keep fixed.")
                return
            self.conditional_requested.emit(str(base), keep, self.output.text())
            return
        self.train_requested.emit(self.request())
        self.accept()


def _spin(low: int, high: int, value: int, name: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setObjectName(name)
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
