"""Test harness commands: run a test's own function on the engine thread, to set up or inspect the pipeline
(or to misbehave on purpose). The studio never does this: its commands live in memstudio.core.session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, eq=False)
class OnEngine:
    """A one-shot request: ``fn(pipeline)``."""

    fn: Callable[[Any], Any]

    def run(self, pipeline: Any) -> Any:
        return self.fn(pipeline)


@dataclass(frozen=True, eq=False)
class StepsOf:
    """A job: the steps of the generator function ``fn(pipeline)``."""

    title: str
    fn: Callable[[Any], Iterator[Any]]

    def steps(self, pipeline: Any) -> Iterator[Any]:
        return self.fn(pipeline)


def every_job(engine: Any, signal: str = "ended") -> list[Any]:
    """What ``signal`` of every job submitted from now on carries (``ended``: a JobDone each, ``progress``: the
    JobUpdates), in arrival order: the engine announces each job on ``job_submitted``, inside ``submit``."""
    seen: list[Any] = []
    engine.job_submitted.connect(lambda handle: getattr(handle, signal).connect(seen.append))
    return seen
