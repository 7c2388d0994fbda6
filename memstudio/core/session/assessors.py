"""The assessors the studio scores live, listed on the engine thread (the registry imports torch, which the
window must not wait for); see :func:`memstudio.core.assessors.registry.available_assessors`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memstudio.core.assessors.registry import LiveAssessor
    from memstudio.core.pipeline import Pipeline


@dataclass(frozen=True)
class ListAssessors:
    """Every available assessor (built in, imported, trained), in the order the property strip shows them."""

    def run(self, pipeline: Pipeline) -> list[LiveAssessor]:
        from memstudio.core.heap import long_lived

        with long_lived():  # the first call imports the registry and the store readers (SciPy for trained ones)
            from memstudio.core.assessors.registry import available_assessors

            return available_assessors()
