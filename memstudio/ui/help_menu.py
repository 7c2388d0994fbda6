"""Help menu: About (version), the model licences (the rows of ``memstudio models``), the keyboard shortcuts
of every menu, and the folder of the rotating log that a bug report needs."""

from __future__ import annotations

import platform

import shiboken6
from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from memstudio import __version__
from memstudio.core.logs import log_dir, log_path


class HelpMenu:
    """Builds the Help menu of ``window``; each entry is also a method the tests (and a user) can call."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.menu: QMenu = window.menuBar().addMenu("&Help")
        self.dialogs: list[QDialog] = []
        for text, slot in (
            ("&About memstudio", self.about),
            ("Model &licences", self.model_licences),
            ("&Keyboard shortcuts", self.shortcuts),
            ("Open the &log folder", self.open_log_folder),
        ):
            action = QAction(text, window)
            action.triggered.connect(slot)
            self.menu.addAction(action)

    def about_text(self) -> str:
        return (
            f"<h3>memstudio {__version__}</h3>"
            "<p>Score and edit image memorability, aesthetics and valence (ResMem, GANalyze-style directions, "
            "StyleGAN/BigGAN generators and a photo editor).</p>"
            f"<p>Python {platform.python_version()} · PySide6 {pyside_version}</p>"
            f"<p>Log: {log_path()}</p>"
            "<p>memstudio is MIT licensed; the models keep their own licences (Help ▸ Model licences).</p>"
        )

    def about(self) -> QDialog:
        return self._show("About memstudio", _label(self.about_text()))

    def model_licences(self) -> QDialog:
        """The ``memstudio models`` table: what can run here, and under which licence."""
        from memstudio.core.model_list import model_rows

        columns = ("kind", "name", "status", "licence", "location")
        rows = model_rows()
        table = QTableWidget(len(rows), len(columns))
        table.setObjectName("modelLicences")
        table.setHorizontalHeaderLabels([c.capitalize() for c in columns])
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, row in enumerate(rows):
            for j, column in enumerate(columns):
                item = QTableWidgetItem(row[column])
                item.setToolTip(row["detail"])
                table.setItem(i, j, item)
        table.resizeColumnsToContents()
        dialog = self._show("Model licences", table)
        dialog.resize(900, 420)
        return dialog

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(menu ▸ entry, key sequence) for every menu entry that has a shortcut, in menu order."""
        out = []
        for top in self.window.menuBar().actions():
            menu = top.menu()
            if menu is None:
                continue
            out += _shortcuts(menu, top.text().replace("&", ""))
        return out

    def shortcuts(self) -> QDialog:
        rows = self.shortcut_rows()
        table = QTableWidget(len(rows), 2)
        table.setObjectName("keyboardShortcuts")
        table.setHorizontalHeaderLabels(["Command", "Shortcut"])
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, (name, keys) in enumerate(rows):
            table.setItem(i, 0, QTableWidgetItem(name))
            table.setItem(i, 1, QTableWidgetItem(keys))
        table.resizeColumnsToContents()
        return self._show("Keyboard shortcuts", table)

    def open_log_folder(self) -> str:
        """Open the log folder in the file manager (created if nothing was logged yet); returns its path."""
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.window.statusBar().showMessage(f"could not open a file manager; the log folder is {folder}", 10_000)
        return str(folder)

    def close_all(self) -> None:
        """Close the dialogs still open (the window is closing: they would outlive it on screen)."""
        for dialog in self.dialogs:
            if shiboken6.isValid(dialog):
                dialog.close()
        self.dialogs = []

    def _show(self, title: str, content: QWidget) -> QDialog:
        dialog = QDialog(self.window)
        dialog.setWindowTitle(title)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        layout.addWidget(content)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.close)
        layout.addWidget(buttons)
        self.dialogs = [d for d in self.dialogs if shiboken6.isValid(d)] + [dialog]
        dialog.show()
        return dialog


def _label(html: str) -> QLabel:
    label = QLabel(html)
    label.setObjectName("aboutText")
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def _shortcuts(menu: QMenu, path: str) -> list[tuple[str, str]]:
    out = []
    for action in menu.actions():
        if action.menu() is not None:
            out += _shortcuts(action.menu(), f"{path} ▸ {action.text().replace('&', '')}")
        elif not action.shortcut().isEmpty():
            out.append((f"{path} ▸ {action.text().replace('&', '')}", action.shortcut().toString()))
    return out
