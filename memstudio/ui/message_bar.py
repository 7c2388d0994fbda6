"""A dismissible bar above the canvas that says what went wrong, with the traceback one click away.

Modal dialogs would pile up during a slider drag; a bar shows the latest problem and never blocks.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget


class MessageBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setStyleSheet("#messageBar { background: #fde7e7; border-bottom: 1px solid #e0a0a0; }")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: #7a1010;")
        self._details = ""
        details = QPushButton("Details…")
        details.clicked.connect(self._show_details)
        close = QPushButton("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(details)
        layout.addWidget(close)
        self.hide()

    def show_problem(self, message: str, details: str = "") -> None:
        self.label.setText(message)
        self._details = details
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def _show_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "What went wrong", self.label.text(), parent=self)
        box.setDetailedText(self._details or "no further details")
        box.open()
