"""The seed browser: the photos (and, with a generator, the seeds and inverted faces) the user can put on the
canvas. Photo entries carry their path; latent entries (an inversion, named after its photo) carry the key of
a latent the pipeline holds, and activate through ``latent_chosen`` instead of ``photo_chosen``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from memstudio.core.imaging import IMAGE_SUFFIXES
from memstudio.engine.thumbnails import Thumbnailer

THUMB = 112
PATH_ROLE = Qt.ItemDataRole.UserRole
#: Set on latent entries: the ``pipeline.latents`` key they show.
LATENT_ROLE = Qt.ItemDataRole.UserRole + 1


class SeedBrowser(QWidget):
    """Lists photos as thumbnails (made off the GUI thread); clicking one makes it the current image."""

    photo_chosen = Signal(str)
    latent_chosen = Signal(str)
    problem = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("seedBrowser")
        self.setMinimumWidth(THUMB + 56)  # one column of thumbnails: a small screen keeps room for the canvas
        self.list = QListWidget()
        self.list.setObjectName("seedList")
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setGridSize(QSize(THUMB + 16, THUMB + 34))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        open_folder = QPushButton("Open folder…")
        open_folder.clicked.connect(self.choose_folder)
        add = QPushButton("Add photos…")
        add.clicked.connect(self.choose_files)
        buttons = QHBoxLayout()
        buttons.addWidget(open_folder)
        buttons.addWidget(add)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.list)
        self.thumbnailer = Thumbnailer(THUMB, self)
        self.thumbnailer.ready.connect(self._thumbnail_ready)
        self.thumbnailer.failed.connect(self._thumbnail_failed)
        self._items: dict[str, QListWidgetItem] = {}
        self._latent_items: dict[str, QListWidgetItem] = {}

    def add_paths(self, paths: list[Path]) -> list[str]:
        """Add image files (folders expand); returns the paths newly added, in order."""
        added = []
        for path in paths:
            if path.is_dir():
                added += self.add_paths(
                    sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
                )
                continue
            key = str(path)
            if key in self._items:
                continue
            item = QListWidgetItem(path.name)
            item.setData(PATH_ROLE, key)
            item.setToolTip(key)
            item.setSizeHint(QSize(THUMB + 12, THUMB + 30))
            self.list.addItem(item)
            self._items[key] = item
            self.thumbnailer.request(key)
            added.append(key)
        return added

    def add_latent(self, key: str, label: str, thumbnail: np.ndarray | None = None) -> QListWidgetItem:
        """Add (or refresh) an entry for ``pipeline.latents[key]``; ``thumbnail`` is ``[H, W, 3]`` uint8.

        The thumbnail comes from whoever made the latent (the engine thread): nothing is decoded here.
        """
        item = self._latent_items.get(key)
        if item is not None:
            item.setHidden(False)
        else:
            item = QListWidgetItem(label)
            item.setData(LATENT_ROLE, key)
            item.setSizeHint(QSize(THUMB + 12, THUMB + 30))
            self.list.addItem(item)
            self._latent_items[key] = item
        item.setText(label)
        item.setToolTip(f"{label} (latent {key})")
        if thumbnail is not None:
            pixels = np.ascontiguousarray(thumbnail[..., :3], dtype=np.uint8)
            height, width = pixels.shape[:2]
            image = QImage(pixels.data, width, height, width * 3, QImage.Format.Format_RGB888).copy()
            item.setIcon(QIcon(QPixmap.fromImage(image)))
        return item

    def latent_keys(self) -> list[str]:
        """The latent entries listed (those of the current generator; the others are hidden)."""
        return [key for key, item in self._latent_items.items() if not item.isHidden()]

    def show_latents(self, keys: list[str]) -> None:
        """List only the latent entries ``keys`` (a generator's): the others stay, hidden, for when their
        generator is opened again."""
        wanted = set(keys)
        for key, item in self._latent_items.items():
            item.setHidden(key not in wanted)

    def select_latent(self, key: str) -> None:
        item = self._latent_items.get(key)
        if item is not None:
            self.list.setCurrentItem(item)

    def paths(self) -> list[str]:
        """Photo paths in list order (latent entries are not files and are left out)."""
        items = (self.list.item(i) for i in range(self.list.count()))
        return [item.data(PATH_ROLE) for item in items if item.data(PATH_ROLE) is not None]

    def selected_paths(self) -> list[str]:
        items = self.list.selectedItems()
        return [item.data(PATH_ROLE) for item in items if item.data(PATH_ROLE) is not None]

    def select(self, path: str | None) -> None:
        """Select the photo ``path``; None (or a path not listed) selects nothing, so no entry claims to be on
        the canvas when it is not."""
        item = self._items.get(path) if path is not None else None
        if item is not None:
            self.list.setCurrentItem(item)
        else:
            self.list.setCurrentItem(None)
            self.list.clearSelection()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos")
        if folder:
            added = self.add_paths([Path(folder)])
            if added:
                self.photo_chosen.emit(added[0])

    def choose_files(self) -> None:
        pattern = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        files, _ = QFileDialog.getOpenFileNames(self, "Add photos", "", f"Images ({pattern});;All files (*)")
        if files:
            added = self.add_paths([Path(f) for f in files])
            if added:
                self.photo_chosen.emit(added[0])

    def shutdown(self) -> None:
        self.thumbnailer.wait()

    def _activated(self, item: QListWidgetItem) -> None:
        key = item.data(LATENT_ROLE)
        if key is not None:
            self.latent_chosen.emit(key)
        else:
            self.photo_chosen.emit(item.data(PATH_ROLE))

    def _thumbnail_ready(self, path: str, payload: object) -> None:
        item = self._items.get(path)
        if item is None:
            return
        width, height, data = payload
        image = QImage(data, width, height, width * 3, QImage.Format.Format_RGB888).copy()
        item.setIcon(QIcon(QPixmap.fromImage(image)))

    def _thumbnail_failed(self, path: str, message: str) -> None:
        item = self._items.get(path)
        if item is not None:
            item.setToolTip(message)
            item.setForeground(Qt.GlobalColor.red)
            item.setText(f"⚠ {Path(path).name}")
        self.problem.emit(message)
