"""Tools ▸ Train assessor from ratings…: the core's ``assessor train`` job, run by the engine with progress.

The dialog asks for the ratings CSV, a name, what the ratings measure and the trunk (ResMem's, or the MobileNet
of an imported NIMA); the name is checked at once (on the GUI thread: a few file-system look-ups) so a taken
name is refused before minutes of feature extraction. The job shows in the Jobs dock with progress and Cancel;
cancelling leaves the model store as it was. When it is done the studio lists its assessors again, so the new
one scores live at once.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog

from memstudio.core.errors import MemstudioError
from memstudio.ui.studio_context import StudioContext


class RatingsFeature(QObject):
    """Submits assessor-training jobs; ``submitted`` lists their ids (their cards are in the Jobs dock)."""

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self._ids = itertools.count(1)
        self.submitted: list[str] = []
        action = QAction("Train &assessor from ratings…", studio)
        action.setObjectName("trainAssessorAction")
        action.triggered.connect(self.show_dialog)
        studio.tools_menu.addAction(action)
        self.action = action

    def show_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.studio, "Ratings CSV (path, rating[, group])", "", "CSV (*.csv);;All files (*)"
        )
        if not path:
            return
        name, ok = QInputDialog.getText(self.studio, "Train assessor", "Name of the new assessor:")
        if not ok or not name.strip():
            return
        prop, ok = QInputDialog.getText(
            self.studio, "Train assessor", "What do the ratings measure (e.g. aesthetics)?", text="rating"
        )
        if not ok:
            return
        from memstudio.core.assessors.trunk import trunk_choices

        trunks = trunk_choices()
        trunk = trunks[0]
        if len(trunks) > 1:
            trunk, ok = QInputDialog.getItem(
                self.studio,
                "Train assessor",
                "Features from (nima:NAME: the MobileNet of an imported NIMA, made for aesthetics and faster):",
                trunks,
                0,
                False,
            )
            if not ok:
                return
        self.train(Path(path), name.strip(), prop.strip() or "rating", trunk)

    def train(self, csv_path: Path, name: str, property_name: str = "rating", trunk: str = "resmem") -> str | None:
        """Start training ``name`` from ``csv_path`` on ``trunk``; its job id, or None when refused (shown)."""
        from memstudio.core.assessors.registry import check_trained_name
        from memstudio.core.assessors.trunk import parse_trunk
        from memstudio.core.session.ratings import TrainAssessor

        try:
            check_trained_name(name)
            parse_trunk(trunk)
        except MemstudioError as exc:
            self.studio.messages.show_problem(str(exc))
            return None
        job_id = f"train-assessor-{name}-{next(self._ids)}"
        command = TrainAssessor(Path(csv_path), name, property_name, trunk)
        handle = self.studio.engine.submit(command, job_id)
        handle.done.connect(self._trained)
        self.submitted.append(job_id)
        return job_id

    def _trained(self, _result: object) -> None:
        self.studio.refresh_assessors()  # the new assessor scores live from the next frame on


def install(studio: StudioContext) -> RatingsFeature:
    return RatingsFeature(studio)
