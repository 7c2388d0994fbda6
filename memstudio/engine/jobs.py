"""Factories for the engine's stepped jobs (each returns ``factory(pipeline) -> iterator of Progress``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from memstudio.core.jobs import Progress


def list_assessors(pipeline: object) -> list:
    """The assessors the studio scores live (an engine task: the registry imports torch, which the window
    must not wait for); see :func:`memstudio.core.assessors.registry.available_assessors`."""
    from memstudio.core.heap import long_lived

    with long_lived():  # the first call imports the registry and the store readers (SciPy for trained ones)
        from memstudio.core.assessors.registry import available_assessors

        return available_assessors()


def score_folder_factory(
    folder: Path, csv_path: Path, assessor_names: tuple[str, ...]
) -> Callable[[object], Iterator[Progress]]:
    """Score every image in ``folder`` into ``csv_path`` with the engine's resident assessors."""

    def factory(pipeline) -> Iterator[Progress]:
        from memstudio.core.imaging import list_images
        from memstudio.core.scoring import score_to_csv_job

        assessors = {name: pipeline.assessor(name) for name in assessor_names}
        return score_to_csv_job(list_images(folder), assessors, csv_path, device=pipeline.device)

    return factory


def train_assessor_factory(
    csv_path: Path, name: str, property_name: str, trunk: str = "resmem"
) -> Callable[[object], Iterator[Progress]]:
    """Train and store an assessor from a ratings CSV (the core's job); its result carries a summary line."""

    def factory(pipeline) -> Iterator[Progress]:
        return _train_assessor(csv_path, name, property_name, trunk, pipeline.device)

    return factory


def _train_assessor(csv_path: Path, name: str, property_name: str, trunk: str, device) -> Iterator[Progress]:
    from memstudio.core.assessors.from_ratings import train_job

    result = yield from train_job(csv_path, name, property_name=property_name, device=device, trunk=trunk)
    return {"summary": f"{name}: {result.record.summary()}", "name": name, "path": str(result.record.path)}
