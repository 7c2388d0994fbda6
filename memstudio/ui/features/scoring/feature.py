"""Score a folder (File menu and the Jobs dock's button): every image scored into a CSV on the engine thread.

The work is the core's :class:`~memstudio.core.session.scoring.ScoreFolder` job, what ``memstudio score`` runs
for each image; this room only asks for the folder and the CSV (the Jobs dock gives the job its card).
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QPushButton

from memstudio.ui.studio_context import StudioContext


class ScoringFeature(QObject):
    """The "Score a folder with ResMem…" entry; :meth:`score_folder` starts the job."""

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self._ids = itertools.count(1)
        action = QAction("Score a folder with ResMem…", studio)
        action.triggered.connect(self.choose_folder)
        separators = [a for a in studio.file_menu.actions() if a.isSeparator()]
        studio.file_menu.insertAction(separators[-1] if separators else None, action)  # above Quit
        button = QPushButton("Score a folder with ResMem…")
        button.setObjectName("scoreFolderButton")
        button.clicked.connect(self.choose_folder)
        studio.jobs.add_entry(button)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.studio, "Score every image in a folder with ResMem")
        if not folder:
            return
        target, _ = QFileDialog.getSaveFileName(
            self.studio, "Write scores to", str(Path(folder) / "memstudio-scores.csv"), "CSV (*.csv)"
        )
        if target:
            self.score_folder(Path(folder), Path(target))

    def score_folder(self, folder: Path, csv_path: Path, assessors: tuple[str, ...] = ("resmem",)) -> str:
        """Start the folder-scoring job; returns its id (the job card's)."""
        from memstudio.core.session.scoring import ScoreFolder

        job_id = f"score-{folder.name}-{next(self._ids)}"
        command = ScoreFolder(Path(folder), Path(csv_path), tuple(assessors))
        self.studio.engine.submit(command, job_id)
        return job_id


def install(studio: StudioContext) -> ScoringFeature:
    return ScoringFeature(studio)
