"""Train an assessor from a ratings CSV: the core's ``assessor train`` job as a command with a Jobs-dock title."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstudio.core.jobs import Progress

if TYPE_CHECKING:
    from memstudio.core.pipeline import Pipeline


@dataclass(frozen=True)
class TrainAssessor:
    """Train and store the assessor ``name`` from ``csv_path`` on the engine's device (what ``memstudio
    assessor train`` runs); result: a dict with a ``summary`` line, the ``name`` and the stored ``path``."""

    csv_path: Path
    name: str
    property_name: str = "rating"
    #: ``resmem`` or ``nima:NAME`` (an imported NIMA's MobileNet), as ``assessor train --trunk`` takes it.
    trunk: str = "resmem"

    @property
    def title(self) -> str:
        return f"Training assessor {self.name} from {self.csv_path.name}"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        return self._train(pipeline.device)

    def _train(self, device: Any) -> Iterator[Progress]:
        from memstudio.core.assessors.from_ratings import train_job

        result = yield from train_job(
            self.csv_path, self.name, property_name=self.property_name, device=device, trunk=self.trunk
        )
        record = result.record
        return {"summary": f"{self.name}: {record.summary()}", "name": self.name, "path": str(record.path)}
