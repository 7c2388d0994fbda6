"""Long work as generators of steps, so one code path serves the engine, the CLI and the tests.

A job is any iterator of :class:`Progress`. The engine advances it one step at a time and answers pending
renders in between (the studio stays live); cancelling closes the generator, so a job's ``finally`` can save
a resumable checkpoint. The CLI drives the same iterator under tqdm. A job's result is the generator's
return value.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tqdm import tqdm

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One step of a job: how far it is, what it is doing, and optionally an image to preview."""

    fraction: float
    message: str = ""
    preview: torch.Tensor | None = None  # [N, 3, H, W] in [0, 1]


Job = Generator[Progress, None, T]


def scaled(job: Iterator[Progress], low: float, high: float) -> Job[Any]:
    """Run a sub-job inside the share [low, high] of this one's bar; closing this closes ``job`` (so its
    ``finally`` saves its checkpoint)."""
    try:
        while True:
            try:
                step = next(job)
            except StopIteration as stop:
                return stop.value
            yield Progress(low + (high - low) * step.fraction, step.message, step.preview)
    finally:
        close = getattr(job, "close", None)
        if close is not None:
            close()


def each_step(job: Job[T], context: Callable[[], AbstractContextManager[Any]]) -> Job[T]:
    """Run every step of ``job``, and its closing, inside a fresh ``context()``, with the caller's state back
    in between.

    A ``with`` around the whole generator would stay entered while the job is paused (the engine renders
    between steps) and would not come back when the caller changed that state meanwhile.
    """
    try:
        while True:
            with context():
                try:
                    step = next(job)
                except StopIteration as stop:
                    return stop.value
            yield step
    finally:
        with context():
            job.close()


@contextmanager
def training_mode() -> Iterator[None]:
    """Inference mode off and gradients on: what a training step needs, whatever the engine thread set."""
    import torch

    with torch.inference_mode(False), torch.enable_grad():
        yield


def run_to_end(job: Iterator[Progress]) -> Any:
    """Drive a job without showing progress; returns its result."""
    while True:
        try:
            next(job)
        except StopIteration as stop:
            return stop.value


def run_with_tqdm(job: Iterator[Progress], description: str, disable: bool = False) -> Any:
    """Drive a job under a tqdm bar (the CLI's progress); returns its result."""
    with tqdm(total=1000, desc=description, unit="‰", disable=disable, leave=False) as bar:
        while True:
            try:
                step = next(job)
            except StopIteration as stop:
                bar.update(1000 - bar.n)
                return stop.value
            done = int(round(min(max(step.fraction, 0.0), 1.0) * 1000))
            if done > bar.n:
                bar.update(done - bar.n)
            if step.message:
                bar.set_postfix_str(step.message, refresh=False)
