"""File ▸ Open generator…: pick an imported model by name, a checkpoint file, or a BigGAN folder.

One dialog for the three sources because a native file dialog picks either files or folders, never both;
the stored-model list arrives from the engine thread (reading the model store imports torch).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

CHECKPOINT_FILTER = "Generator checkpoints (*.pkl *.pt *.pth *.bin *.safetensors);;All files (*)"
NAME_ROLE = Qt.ItemDataRole.UserRole


class GeneratorChooser(QDialog):
    """Emits ``chosen(path_or_name)`` once and closes."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("generatorChooser")
        self.setWindowTitle("Open generator")
        self.resize(460, 360)
        self.models = QListWidget()
        self.models.setObjectName("storedModels")
        self.models.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.models.currentItemChanged.connect(
            lambda item, _old: self.open_button.setEnabled(item is not None)
        )
        file_button = QPushButton("Checkpoint file…")
        file_button.setToolTip("An NVIDIA network pickle (.pkl) or a rosinality checkpoint (.pt)")
        file_button.clicked.connect(self.choose_file)
        folder_button = QPushButton("Model folder…")
        folder_button.setToolTip("A pytorch-pretrained-biggan folder (config.json + pytorch_model.bin)")
        folder_button.clicked.connect(self.choose_folder)
        self.open_button = QPushButton("Open")
        self.open_button.setDefault(True)
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_selected)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(file_button)
        buttons.addWidget(folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(cancel)
        self.note = QLabel("Reading the imported models…")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Imported models (memstudio import-model):"))
        layout.addWidget(self.models, 1)
        layout.addWidget(self.note)
        layout.addLayout(buttons)

    def set_models(self, models: list[dict[str, Any]]) -> None:
        """Fill the list with ``{name, family, resolution, source_file}`` records."""
        self.models.clear()
        for model in models:
            item = QListWidgetItem(f"{model['name']}  —  {model['family']}, {model['resolution']} px")
            item.setData(NAME_ROLE, model["name"])
            item.setToolTip(f"imported from {model['source_file']}")
            self.models.addItem(item)
        self.note.setText(
            ""
            if models
            else "No imported models yet: open a checkpoint, or import one with "
            "`memstudio import-model PATH` for faster, safer opening."
        )
        if models:
            self.models.setCurrentRow(0)

    def set_problem(self, message: str) -> None:
        self.note.setText(message)

    def open_selected(self) -> None:
        item = self.models.currentItem()
        if item is not None:
            self._choose(str(item.data(NAME_ROLE)))

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a generator checkpoint", "", CHECKPOINT_FILTER)
        if path:
            self._choose(path)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a model folder (BigGAN or imported model)")
        if folder:
            self._choose(folder)

    def _choose(self, source: str) -> None:
        self.chosen.emit(source)
        self.accept()
