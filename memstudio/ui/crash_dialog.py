"""The last line of defence: an uncaught exception on the GUI thread is logged and shown, never silent.

PySide6 hands exceptions raised in slots and event handlers to ``sys.excepthook``; the default hook prints to
a terminal the user may not have. :func:`install_excepthook` logs them (with the traceback) and shows a
non-blocking dialog with the message, the details and a "Copy details" button for a bug report. Several
exceptions in a row (a failing paint event) add to the open dialog rather than stacking windows.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from memstudio.core.logs import log_path

log = logging.getLogger("memstudio.ui")


class CrashDialog(QDialog):
    """What went wrong, the traceback, and where the log is; "Copy details" puts it all on the clipboard."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle("memstudio: something went wrong")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit()
        self.details.setObjectName("crashDetails")
        self.details.setReadOnly(True)
        self.details.setMinimumSize(560, 220)
        self.where = QLabel(f"The log is {log_path()}.")
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy = QPushButton("Copy details")
        self.copy.setObjectName("copyDetails")
        self.copy.clicked.connect(self.copy_details)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.where)
        layout.addLayout(buttons)
        self.count = 0

    def add(self, summary: str, details: str) -> None:
        self.count += 1
        more = f" ({self.count} problems so far)" if self.count > 1 else ""
        self.summary.setText(
            f"{summary}{more}\nmemstudio keeps running, but what you just did may not have finished."
        )
        separator = "\n" + "-" * 60 + "\n" if self.details.toPlainText() else ""
        self.details.setPlainText(self.details.toPlainText() + separator + details)

    def copy_details(self) -> None:
        QApplication.clipboard().setText(f"{self.summary.text()}\n\n{self.details.toPlainText()}")


_open: list[CrashDialog] = []


def show_exception(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> CrashDialog | None:
    """Log an uncaught exception and show it (the excepthook's body); the dialog, or None without a GUI."""
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    log.critical("uncaught exception\n%s", details)
    if QApplication.instance() is None:
        sys.__excepthook__(exc_type, exc, tb)
        return None
    if not _open:
        dialog = CrashDialog(QApplication.activeWindow())
        dialog.destroyed.connect(lambda: _open.clear())
        _open.append(dialog)
        dialog.show()
    _open[0].add(f"{exc_type.__name__}: {exc}", details)
    return _open[0]


def install_excepthook() -> None:
    """Route uncaught exceptions (Ctrl+C still ends the program) to :func:`show_exception`."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        show_exception(exc_type, exc, tb)

    sys.excepthook = hook
