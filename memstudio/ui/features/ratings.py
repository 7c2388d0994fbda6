"""Tools ▸ Train assessor from ratings…: the core's ``assessor train`` job, run by the engine with progress.

The dialog asks for the ratings CSV, a name and what the ratings measure; the name is checked at once (on the
GUI thread: a few file-system look-ups) so a taken name is refused before minutes of feature extraction. The
job shows in the Jobs dock with progress and Cancel; cancelling leaves the model store as it was.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog

from memstudio.core.errors import MemstudioError


class RatingsFeature(QObject):
    """Submits assessor-training jobs; ``submitted`` lists their ids (tests wait on the engine's signal)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self._ids = itertools.count(1)
        self.submitted: list[str] = []
        action = QAction("Train &assessor from ratings…", window)
        action.setObjectName("trainAssessorAction")
        action.triggered.connect(self.show_dialog)
        window.tools_menu.addAction(action)
        self.action = action

    def show_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Ratings CSV (path, rating[, group])", "", "CSV (*.csv);;All files (*)"
        )
        if not path:
            return
        name, ok = QInputDialog.getText(self.window, "Train assessor", "Name of the new assessor:")
        if not ok or not name.strip():
            return
        prop, ok = QInputDialog.getText(
            self.window, "Train assessor", "What do the ratings measure (e.g. aesthetics)?", text="rating"
        )
        if ok:
            self.train(Path(path), name.strip(), prop.strip() or "rating")

    def train(self, csv_path: Path, name: str, property_name: str = "rating") -> str | None:
        """Start training ``name`` from ``csv_path``; its job id, or None when the name is refused (shown)."""
        from memstudio.core.assessors.registry import check_trained_name
        from memstudio.core.session.ratings import TrainAssessor

        try:
            check_trained_name(name)
        except MemstudioError as exc:
            self.window.messages.show_problem(str(exc))
            return None
        job_id = f"train-assessor-{name}-{next(self._ids)}"
        command = TrainAssessor(Path(csv_path), name, property_name)
        self.window.jobs.add_job(job_id, command.title)
        self.window.engine.submit(command, job_id)
        self.submitted.append(job_id)
        return job_id


def install(window: Any) -> RatingsFeature:
    return RatingsFeature(window)
