"""The Jobs panel: one card per long job with progress, ETA, message, a preview and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from memstudio.engine import JobDone, JobUpdate
from memstudio.ui.qimage import to_qimage


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA —"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"ETA {seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"ETA {seconds // 60} min {seconds % 60:02d} s"
    return f"ETA {seconds} s"


class JobRow(QFrame):
    """One job's card; its Cancel button is wired to the job's handle by the Jobs room."""

    def __init__(self, job_id: str, title: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.setObjectName(f"job_{job_id}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.job_title = title
        self.title = QLabel(f"<b>{title}</b>")
        self.title.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.eta = QLabel(format_eta(None))
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings = QLabel("")
        self.warnings.setObjectName("jobWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #b35c00;")
        self.warnings.hide()
        self.preview = QLabel()
        self.preview.setFixedHeight(0)
        self.cancel = QPushButton("Cancel")
        grid = QGridLayout(self)
        grid.addWidget(self.title, 0, 0, 1, 2)
        grid.addWidget(self.bar, 1, 0)
        grid.addWidget(self.cancel, 1, 1)
        grid.addWidget(self.eta, 2, 0)
        grid.addWidget(self.message, 3, 0, 1, 2)
        grid.addWidget(self.warnings, 4, 0, 1, 2)
        grid.addWidget(self.preview, 5, 0, 1, 2)

    def set_busy(self) -> None:
        """One long call with no steps to count (opening a generator): a busy bar until the job ends."""
        self.bar.setRange(0, 0)

    def update_progress(self, update: JobUpdate) -> None:
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(round(update.fraction * 1000)))
        self.eta.setText(f"{update.fraction * 100:.0f} %  ·  {format_eta(update.eta_s)}")
        self.message.setText(update.message)
        if update.preview is not None:
            pixmap = QPixmap.fromImage(to_qimage(update.preview)).scaledToHeight(
                96, Qt.TransformationMode.SmoothTransformation
            )
            self.preview.setFixedHeight(96)
            self.preview.setPixmap(pixmap)

    def finish(self, done: JobDone, summary: str, warnings: tuple[str, ...] = ()) -> None:
        """The outcome, where the eye is: a failure in the title line and the message, warnings below."""
        self.bar.setRange(0, 1000)
        self.cancel.setEnabled(False)
        self.warnings.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warnings.setVisible(bool(warnings))
        if done.error and not done.cancelled:
            self.title.setText(f"<b>{self.job_title}</b> — <span style='color:#d33'>failed</span>")
            self.eta.setText("failed")
            self.bar.setFormat("failed")  # not a bare "0 %" that reads as "still waiting"
            self.message.setText(done.error)
        elif done.cancelled:
            self.eta.setText("cancelled")
            self.bar.setFormat("cancelled at %p %")
            self.message.setText(summary or "cancelled; partial results kept where the job says so")
            if done.error:  # cancelled, but its clean-up failed
                self.message.setText(done.error)
        else:
            self.bar.setValue(1000)
            self.eta.setText("done")
            self.message.setText(summary)
        self.message.setStyleSheet("color: #d33;" if done.error else "")

    def say(self, text: str) -> None:
        """The job's own account of what it did, in place of the generic summary (an inversion's latent)."""
        self.message.setText(text)

    def add_action(self, button: QPushButton) -> None:
        """A follow-up the job offers (Resume), beside its status."""
        self.layout().addWidget(button, 2, 1)


class JobsPanel(QWidget):
    """Holds the job cards, newest first; ``card_finished(JobDone)`` once a card shows how its job ended."""

    card_finished = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobsPanel")
        self.rows: dict[str, JobRow] = {}
        self._entries = QVBoxLayout()
        self._column = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(self._entries)
        layout.addLayout(self._column)
        layout.addStretch(1)

    def add_entry(self, button: QPushButton) -> None:
        """A way to start a job from the dock (Score a folder), above the cards."""
        self._entries.addWidget(button)

    def add_job(self, job_id: str, title: str) -> JobRow:
        old = self.rows.pop(job_id, None)
        if old is not None:
            old.deleteLater()
        row = JobRow(job_id, title)
        self._column.insertWidget(0, row)
        self.rows[job_id] = row
        return row

    def card(self, job_id: str) -> JobRow | None:
        """The card of ``job_id`` (a feature adds its Resume button or its own account there)."""
        return self.rows.get(job_id)
