"""One-shot commands: work that is one call, run by the engine like a job so every command has a handle.

A one-shot command is a frozen value with a ``title`` and ``run(pipeline)``; :class:`OneShot` gives it the
job protocol's ``steps(pipeline)``, which yields nothing and returns ``run``'s result, so ``Engine.submit``
reports it on a per-call handle (done / failed / cancelled) and the CLI calls ``run`` directly. The engine
runs job steps with autograd on (inversion and training need it); a one-shot runs under ``torch.no_grad``,
as the studio's tasks always did, so nothing it keeps carries a graph.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from memstudio.core.jobs import Progress

if TYPE_CHECKING:
    from memstudio.core.pipeline import Pipeline


class OneShot(ABC):
    """Base of frozen dataclasses with ``title`` and ``run(pipeline)``: the job protocol over one call."""

    @abstractmethod
    def run(self, pipeline: Pipeline) -> Any:
        """Do the work on the engine thread (or in the CLI) and return the result for the handle's ``done``."""

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        import torch

        yield from ()  # no progress to report: the engine's first step runs the call and ends the job
        with torch.no_grad():
            return self.run(pipeline)
