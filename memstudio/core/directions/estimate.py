"""How long a direction training will take here, measured before the user commits, and settings that fit.

A ResMem GANalyze step on a 2-core CPU can take tens of seconds, so the default 300 steps may run for hours;
the user should learn that before pressing Train, not from the progress bar. :func:`estimate_training` runs
the real thing for a moment: the same settings (built by :mod:`memstudio.core.directions.train`'s helpers),
the same photo editor or generator and the same assessor on the same device, for two GANalyze steps (the
first pays the one-off costs: the score spread that sets α, first-call allocations) or two hyperplane sampling
batches, and the first batch of the evidence; then it throws all of it away. It writes nothing, touches no
checkpoint, and runs each of its steps inside :func:`torch.random.fork_rng`, so the global random state the
training will see is unchanged (every training step draws from its own seeded stream anyway), and the trained
file stays byte-identical to one trained without an estimate.

:func:`suggest_settings` is plain arithmetic on that measurement (no torch): the largest training no bigger
than the one asked for that fits a time budget, fewer steps first, then a smaller batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from memstudio.core.directions.train import (
    TrainDirectionSettings,
    checkpoint_step,
    ganalyze_settings,
    hyperplane_settings,
    photo_editors,
    require_trainable,
    split_photos,
)
from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import Job, Progress, each_step, training_mode

if TYPE_CHECKING:
    import torch

    from memstudio.core.assessors.base import Assessor
    from memstudio.core.generators.base import Generator

#: GANalyze needs this many steps for θ to settle (the loss flattens after ~100 at lr 0.05): fewer are not
#: suggested; the batch shrinks instead.
MIN_GANALYZE_STEPS = 100
#: Smallest GANalyze batch suggested: one sample per step leaves Adam a single, noisy α per update.
MIN_BATCH = 2
#: Smallest hyperplane sample suggested: below it the high/low split has too few latents per side.
MIN_HYPERPLANE_SAMPLES = 200
#: Budgets offered by the dialog and the CLI's default, in seconds.
BUDGETS_S = (600.0, 1800.0, 3600.0, 4 * 3600.0)


@dataclass(frozen=True)
class TrainEstimate:
    """A measured training cost: seconds per step on ``device`` and the time the whole job will take.

    ``step_s`` is the second measured step (after the warm-up). ``setup_s`` is paid once: loading the photos
    and what the first step cost beyond the second (the score spread that sets α, first-call overheads).
    ``evidence_s`` is the measured first evidence batch × the number of evidence batches. ``steps`` are the
    steps still to run (a checkpoint's done steps are not counted again). For a hyperplane a step is one
    sampling batch of ``batch_size`` latents.
    """

    method: str
    device: str
    batch_size: int
    steps: int
    step_s: float
    setup_s: float
    evidence_s: float
    evidence_batches: int
    resumed: int = 0

    @property
    def train_s(self) -> float:
        return self.setup_s + self.steps * self.step_s

    @property
    def total_s(self) -> float:
        """The ETA of the whole job: setup + steps × seconds per step + the evidence."""
        return self.train_s + self.evidence_s

    def describe(self) -> str:
        """One line for the dialog and the CLI, e.g. "≈ 2.1 s/step · 300 steps ≈ 11 min on CPU"."""
        unit, units = ("step", "steps") if self.method == "ganalyze" else ("batch", "batches")
        line = f"≈ {format_seconds_short(self.step_s)}/{unit} · {self.steps} {units}"
        line += f" ≈ {format_duration(self.total_s)} on {self.device}"
        extras = []
        if self.evidence_s > 0:
            extras.append(f"evidence {format_duration(self.evidence_s)}")
        if self.setup_s >= 1.0:
            extras.append(f"set-up {format_duration(self.setup_s)}")
        if self.resumed:
            extras.append(f"resuming after step {self.resumed}")
        return f"{line} ({', '.join(extras)})" if extras else line


@dataclass(frozen=True)
class Suggestion:
    """Settings that fit ``budget_s`` by the measured cost, their predicted time, and what was changed."""

    settings: TrainDirectionSettings
    budget_s: float
    predicted_s: float
    fits: bool
    changes: tuple[str, ...]

    def describe(self) -> str:
        budget = format_duration(self.budget_s)
        if not self.changes:
            return f"fits {budget} as it is (≈ {format_duration(self.predicted_s)})"
        verdict = "fits" if self.fits else "still over"
        return f"{verdict} {budget}: {', '.join(self.changes)} (≈ {format_duration(self.predicted_s)})"


def format_seconds_short(seconds: float) -> str:
    """A step time: "0.031 s", "2.1 s", "45 s"."""
    if seconds < 0.1:
        return f"{seconds:.3f} s"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def format_duration(seconds: float) -> str:
    """A job's length as a person says it: "40 s", "11 min", "2 h 05 min"."""
    if seconds < 60:
        return f"{max(seconds, 0.0):.0f} s" if seconds >= 1 else "< 1 s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, rest = divmod(int(round(minutes)), 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def parse_duration(text: str) -> float:
    """``"10m"``, ``"1h"``, ``"90s"`` or plain seconds ``"600"`` → seconds (a budget)."""
    units = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
    cleaned = text.strip().lower()
    for suffix in sorted(units, key=len, reverse=True):
        if cleaned.endswith(suffix):
            number, scale = cleaned[: -len(suffix)], units[suffix]
            break
    else:
        number, scale = cleaned, 1.0
    try:
        seconds = float(number) * scale
    except ValueError as exc:
        raise MemstudioError(f"cannot read {text!r} as a time budget: use e.g. 10m, 1h or 600 (seconds)") from exc
    if not seconds > 0:
        raise MemstudioError(f"a time budget must be positive, not {text!r}")
    return seconds


def estimate_training(
    settings: TrainDirectionSettings,
    assessor: Assessor,
    generator: Generator | None = None,
    device: torch.device | str | None = None,
) -> Job[TrainEstimate]:
    """Measure what ``train_direction(settings, assessor, generator, device)`` will cost, as a job.

    Photo mode when ``generator`` is None (the same split and editors the training builds). Nothing is
    written and the global random state is left as it was.
    """
    import torch

    from memstudio.core.directions.sampling import module_device

    where = module_device(assessor) if device is None else torch.device(device)
    cuda = [where.index if where.index is not None else 0] if where.type == "cuda" else []
    return (yield from each_step(_estimate(settings, assessor, generator, device), lambda: _forked_training(cuda)))


@contextmanager
def _forked_training(cuda: list[int]) -> Iterator[None]:
    """A training step whose randomness is forked and given back: the estimate leaves the global state alone.

    Per step rather than around the whole job: the engine renders between steps, and their randomness is
    theirs to keep.
    """
    import torch

    with torch.random.fork_rng(devices=cuda), training_mode():
        yield


def _estimate(
    settings: TrainDirectionSettings,
    assessor: Assessor,
    generator: Generator | None,
    device: torch.device | str | None,
) -> Job[TrainEstimate]:
    from memstudio.core.directions.sampling import module_device

    require_trainable(assessor, f"assessor {settings.assessor!r}")
    heldout, loading_s = None, 0.0
    if generator is None:
        if settings.method != "ganalyze":
            raise MemstudioError("a hyperplane needs a GAN's latent space: open or give a generator")
        split = split_photos(settings.photos, settings.heldout_photos, settings.seed)
        yield Progress(0.0, f"loading {len(split.train) + len(split.heldout)} photos")
        start = time.perf_counter()
        generator, heldout = photo_editors(split, settings.photo_size, device, assessor)
        loading_s = time.perf_counter() - start
    else:
        require_trainable(generator, f"generator {generator.name!r}")
    where = _device_name(module_device(assessor))

    if settings.method == "ganalyze":
        resumed = min(checkpoint_step(settings.checkpoint_path), settings.steps)
        steps = settings.steps - resumed
        job, batch, unit = _ganalyze_probe(settings, assessor, generator), settings.batch_size, "step"
    else:
        resumed, batch, unit = 0, settings.eval_batch, "batch"
        steps = math.ceil(settings.num_samples / batch)
        job = _hyperplane_probe(settings, assessor, generator)
    _warm_process()
    try:
        yield Progress(0.05, f"warm-up {unit} (batch {batch}) on {where}")
        first = _timed(job)
        yield Progress(0.4, f"timing one {unit} (batch {batch}) on {where}")
        second = _timed(job)
    finally:
        job.close()
    direction = _probe_direction(settings, assessor, generator, second.value)

    evidence_s, batches = 0.0, 0
    if settings.evaluate:
        yield Progress(0.7, "timing one evidence batch")
        evidence_s, batches = _evidence_cost(settings, assessor, heldout or generator, direction)
    return TrainEstimate(
        method=settings.method,
        device=where,
        batch_size=batch,
        steps=steps,
        step_s=second.seconds,
        setup_s=loading_s + max(first.seconds - second.seconds, 0.0),
        evidence_s=evidence_s,
        evidence_batches=batches,
        resumed=resumed,
    )


def _warm_process() -> None:
    """Pay the process's one-off costs outside the timed steps: the first optimizer imports torch._dynamo
    (≈ 10 s on a slow CPU), which a training after this estimate will not pay again."""
    import torch

    torch.optim.SparseAdam([torch.nn.Parameter(torch.zeros(1))])


@dataclass(frozen=True)
class _Timing:
    seconds: float
    value: object = None  # the job's result, when this step ended it


def _timed(job: Iterator[Progress]) -> _Timing:
    start = time.perf_counter()
    try:
        next(job)
    except StopIteration as stop:
        return _Timing(time.perf_counter() - start, stop.value)
    return _Timing(time.perf_counter() - start)


def _ganalyze_probe(settings: TrainDirectionSettings, assessor: Assessor, generator: Generator) -> Iterator[Progress]:
    """The training's own GANalyze job for two steps: same batches (steps 0 and 1), no checkpoint, no preview.

    The preview (five single-image renders every 25 steps) is left out of the measured step; its share of a
    step is well under a percent.
    """
    from memstudio.core.directions.ganalyze import train_ganalyze

    probe = replace(ganalyze_settings(settings), steps=2, preview_every=0, checkpoint_every=0)
    return train_ganalyze(generator, assessor, probe, checkpoint=None, name=settings.name)


def _hyperplane_probe(settings: TrainDirectionSettings, assessor: Assessor, generator: Generator) -> Iterator[Progress]:
    """The hyperplane's sampling for two of its batches (the fit that follows is a small convex problem)."""
    from memstudio.core.directions.hyperplane import fit_hyperplane

    probe = replace(hyperplane_settings(settings), num_samples=2 * settings.eval_batch)
    return fit_hyperplane(generator, assessor, probe, name=settings.name)


def _probe_direction(
    settings: TrainDirectionSettings, assessor: Assessor, generator: Generator, trained: object
) -> object:
    """A direction shaped like the real one, to time the evidence with: GANalyze's two-step θ, or for a
    hyperplane a zero vector in its space (the evidence's cost does not depend on the vector)."""
    import torch

    from memstudio.core.directions.base import Direction
    from memstudio.core.directions.hyperplane import default_space
    from memstudio.core.directions.sampling import LatentSource

    if isinstance(trained, Direction):
        return trained
    space = settings.space or default_space(generator)
    _, latent = LatentSource(generator, space).draw(1, torch.Generator().manual_seed(0))
    return Direction(
        name="estimate",
        property=assessor.property,
        space=space,
        vector=torch.zeros(latent.values.shape[1:]),
        method=settings.method,
    )


def _evidence_cost(
    settings: TrainDirectionSettings, assessor: Assessor, target: Generator, direction: object
) -> tuple[float, int]:
    """(seconds, batches) of the evidence: its first batch timed (test α × render and score), × batches."""
    from memstudio.core.directions.evidence import evaluate_direction
    from memstudio.core.directions.sampling import HELDOUT_SEED, LatentSource

    alphas = None if settings.alphas is None else list(settings.alphas)
    job = evaluate_direction(
        target, assessor, direction, alphas, settings.eval_samples, settings.eval_batch, HELDOUT_SEED
    )
    try:
        first = _timed(job)
    finally:
        job.close()
    count = LatentSource(target, direction.space).count(settings.eval_samples)
    batches = math.ceil(count / settings.eval_batch)
    return first.seconds * batches, batches


def _device_name(device: torch.device) -> str:
    import torch

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({device})"
    return device.type.upper() if device.type in ("cpu", "mps") else str(device)


def suggest_settings(settings: TrainDirectionSettings, estimate: TrainEstimate, budget_s: float) -> Suggestion:
    """The largest training no bigger than ``settings`` that fits ``budget_s`` by ``estimate``'s cost.

    GANalyze: fewer steps first (down to :data:`MIN_GANALYZE_STEPS`), then a smaller batch, taking a step's
    time as proportional to its batch (the measured step, scaled; a step's fixed costs make smaller batches
    a little slower than that, so estimate again after applying it). A hyperplane: fewer samples (down to
    :data:`MIN_HYPERPLANE_SAMPLES`). Set-up and evidence are paid whatever is chosen; when they alone exceed
    the budget, or the smallest training still does, the suggestion says it does not fit.
    """
    if not budget_s > 0:
        raise MemstudioError(f"a time budget must be positive, not {budget_s}")
    fixed = estimate.setup_s + estimate.evidence_s
    available = budget_s - fixed
    if estimate.method == "ganalyze":
        return _suggest_ganalyze(settings, estimate, budget_s, available)
    return _suggest_hyperplane(settings, estimate, budget_s, available)


def _suggest_ganalyze(
    settings: TrainDirectionSettings, estimate: TrainEstimate, budget_s: float, available: float
) -> Suggestion:
    fixed = budget_s - available
    done, remaining, batch = estimate.resumed, estimate.steps, estimate.batch_size
    # A resumed training must keep its batch (the checkpoint refuses other settings): only steps can go.
    if remaining * estimate.step_s <= available:
        return Suggestion(settings, budget_s, fixed + remaining * estimate.step_s, True, ())
    floor_steps = max(min(MIN_GANALYZE_STEPS, settings.steps) - done, 0)
    steps = min(max(int(available // estimate.step_s), floor_steps), remaining)
    changes = []
    if steps * estimate.step_s <= available:
        step_s = estimate.step_s
    else:
        # Even the fewest steps are too slow at this batch: shrink it, time per step ∝ batch.
        steps = floor_steps
        per_sample = estimate.step_s / batch
        fitting = int(available // (max(steps, 1) * per_sample)) if available > 0 else 0
        new_batch = max(min(fitting, batch), MIN_BATCH) if batch > MIN_BATCH and not done else batch
        if new_batch != batch:
            changes.append(f"batch {batch} → {new_batch}")
        batch, step_s = new_batch, per_sample * new_batch
    if steps != remaining:
        changes.insert(0, f"steps {settings.steps} → {done + steps}")
    predicted = fixed + steps * step_s
    suggested = replace(settings, steps=done + steps, batch_size=batch)
    return Suggestion(suggested, budget_s, predicted, predicted <= budget_s, tuple(changes))


def _suggest_hyperplane(
    settings: TrainDirectionSettings, estimate: TrainEstimate, budget_s: float, available: float
) -> Suggestion:
    fixed = budget_s - available
    batch = estimate.batch_size
    if estimate.steps * estimate.step_s <= available:
        return Suggestion(settings, budget_s, fixed + estimate.steps * estimate.step_s, True, ())
    fitting = int(available // estimate.step_s) * batch if available > 0 else 0
    samples = min(max(fitting, MIN_HYPERPLANE_SAMPLES), settings.num_samples)
    predicted = fixed + math.ceil(samples / batch) * estimate.step_s
    changes = (f"samples {settings.num_samples} → {samples}",) if samples != settings.num_samples else ()
    return Suggestion(replace(settings, num_samples=samples), budget_s, predicted, predicted <= budget_s, changes)
