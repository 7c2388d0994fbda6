"""Score a folder of images into a CSV with the engine's resident assessors (the Jobs dock's Score folder)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.jobs import Progress

if TYPE_CHECKING:
    from memstudio.core.pipeline import Pipeline


@dataclass(frozen=True)
class ScoreFolder:
    """Every image in ``folder`` scored by ``assessors`` into ``csv_path`` (written atomically at the end; a
    cancel leaves no half file); result: ``{"csv", "scored", "failed"}``."""

    folder: Path
    csv_path: Path
    assessors: tuple[str, ...] = ("resmem",)

    @property
    def title(self) -> str:
        return f"Scoring {self.folder.name} → {self.csv_path.name}"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        from memstudio.core.imaging import list_images
        from memstudio.core.scoring import score_to_csv_job

        assessors = {name: pipeline.assessor(name) for name in self.assessors}
        return score_to_csv_job(list_images(self.folder), assessors, self.csv_path, device=pipeline.device)
