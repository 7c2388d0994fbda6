"""Direction training as one job that the CLI and the studio both run: settings in, a direction file out.

``memstudio direction train`` and the studio's Train dialog used to build their settings and held-out splits
each their own way, and the two had drifted apart (different splits, different checkpoint cadence). Now both
fill a :class:`TrainDirectionSettings` and drive :func:`train_direction`: split the photos (by photo, never
by crop), train GANalyze (resumable) or fit a hyperplane, measure the evidence on the held-out samples, record
the split and seeds in it, and save. The same settings on the same machine give the same file, byte for byte.

The job runs with inference mode off and gradients on whatever the caller's thread had set: the studio's
engine thread renders under ``torch.inference_mode`` and keeps gradients off between jobs. The settings are
torch-free (torch is imported inside the job), so the studio's dialog can build them before torch has loaded.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import Job, Progress, each_step, scaled, training_mode

if TYPE_CHECKING:
    import torch

    from memstudio.core.assessors.base import Assessor
    from memstudio.core.directions.base import Direction
    from memstudio.core.directions.ganalyze import GanalyzeSettings
    from memstudio.core.directions.hyperplane import HyperplaneSettings
    from memstudio.core.directions.samples import Samples
    from memstudio.core.distributed import DistContext
    from memstudio.core.generators.base import Generator

METHODS = ("ganalyze", "hyperplane")
#: Share of the job's progress given to training; the evidence fills the rest.
TRAIN_SHARE = 0.85
#: Below this many held-out samples a β and its CI are too noisy to cite; the CLI and the studio say so.
MIN_CITABLE_SAMPLES = 20


@dataclass(frozen=True)
class TrainDirectionSettings:
    """Everything one training needs, as plain values (built on the GUI thread, used on the engine's).

    Photo mode (no generator given to :func:`train_direction`) trains over ``photos``: ``heldout_photos`` of
    them (None: a third, at least one) are kept out for the evidence, chosen with ``seed``. GAN mode draws
    ``eval_samples`` fresh latents from :data:`HELDOUT_SEED`. ``eval_batch`` is the batch of sampling and
    evaluation (the hyperplane's samples, the evidence); ``batch_size`` is GANalyze's training batch.
    """

    method: str = "ganalyze"
    assessor: str = "resmem"
    output: str = "direction.json"
    name: str | None = None
    space: str | None = None
    seed: int = 0
    photos: tuple[str, ...] = ()
    photo_size: int = 256
    heldout_photos: int | None = None
    # GANalyze (paper 000)
    steps: int = 300
    batch_size: int = 8
    micro_batch: int | None = None
    lr: float = 0.05
    alpha_max: float | None = None
    renormalize: bool = False
    class_conditional: bool = False
    edit_std: float = 0.0
    checkpoint: str | None = None
    checkpoint_every: int = 50
    keep_checkpoint: bool = False
    # hyperplane (paper 001 §2.4)
    num_samples: int = 2000
    split: str = "mean"
    fraction: float = 0.02
    classifier: str = "logistic"
    l2: float = 1e-3
    # evidence
    evaluate: bool = True
    eval_samples: int = 64
    eval_batch: int = 8
    alphas: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise MemstudioError(f"unknown training method {self.method!r}; choose {' or '.join(METHODS)}")

    @property
    def output_path(self) -> Path:
        return Path(self.output).with_suffix(".json")

    @property
    def checkpoint_path(self) -> Path | None:
        """GANalyze's resumable state: given, or beside the output (so the CLI and the studio resume each other)."""
        if self.method != "ganalyze":
            return None
        return Path(self.checkpoint) if self.checkpoint else self.output_path.with_suffix(".ckpt.pt")


@dataclass(frozen=True)
class PhotoSplit:
    """Which photos trained and which were held out (by photo: no photo is in both)."""

    train: tuple[str, ...]
    heldout: tuple[str, ...]
    seed: int

    def describe(self) -> dict[str, object]:
        return {
            "by": "photo",
            "seed": self.seed,
            "train": [Path(p).name for p in self.train],
            "heldout": [Path(p).name for p in self.heldout],
        }


@dataclass(frozen=True)
class TrainResult:
    """What a finished training produced: the saved file, the direction, a one-line summary and warnings."""

    path: Path
    direction: Direction
    summary: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def steps(self) -> int | None:
        steps = self.direction.metrics.get("steps")
        return None if steps is None else int(steps)


def split_photos(paths: Sequence[str | Path], heldout: int | None, seed: int) -> PhotoSplit:
    """The one train / held-out split of photos: sorted, de-duplicated, shuffled with ``seed``.

    ``heldout`` None holds out a third (at least one) when there are two photos or more, none for one photo.
    Asking for more than leaves one photo to train on is an error rather than a silently smaller split.
    """
    unique = sorted({str(p) for p in paths})
    if not unique:
        raise MemstudioError("no photos to train on: give photos or folders of images")
    if heldout is None:
        heldout = max(1, len(unique) // 3) if len(unique) >= 2 else 0
    if heldout < 0:
        raise MemstudioError(f"held-out photos must be 0 or more, not {heldout}")
    if heldout >= len(unique):
        raise MemstudioError(
            f"{heldout} held-out photos leave no photo to train on (of {len(unique)}); "
            f"hold out at most {len(unique) - 1} or give more photos"
        )
    order = list(unique)
    random.Random(seed).shuffle(order)
    return PhotoSplit(tuple(sorted(order[heldout:])), tuple(sorted(order[:heldout])), seed)


def evidence_warnings(evidence: dict[str, object]) -> list[str]:
    """Why a direction's evidence should not be cited as it stands (empty when it can be)."""
    warnings = []
    n = int(evidence.get("num_samples", 0) or 0)
    if n < MIN_CITABLE_SAMPLES:
        warnings.append(
            f"only n = {n} held-out samples (fewer than {MIN_CITABLE_SAMPLES}): β and its CI are not citable"
        )
    low, high = (evidence.get("ci95") or (math.nan, math.nan))[:2]
    if not (math.isfinite(float(low)) and math.isfinite(float(high))):
        warnings.append("the 95% CI could not be computed (too few samples)")
    elif float(low) <= 0.0 <= float(high):
        warnings.append(f"the 95% CI [{float(low):.3f}, {float(high):.3f}] includes 0: no reliable effect")
    split = evidence.get("split")
    if isinstance(split, dict) and split.get("by") == "photo" and not split.get("heldout"):
        warnings.append("no photo was held out: the evidence is measured on the training photos")
    return warnings


def train_direction(
    settings: TrainDirectionSettings,
    assessor: Assessor,
    generator: Generator | None = None,
    device: torch.device | str | None = None,
    ctx: DistContext | None = None,
    samples: Samples | None = None,
) -> Job[TrainResult]:
    """Train, measure the evidence and save, as a job; photo mode when ``generator`` is None.

    The caller supplies the assessor and the generator already on their device (the CLI loads them, the
    studio's engine holds them resident); photos are loaded onto ``device`` (default: the assessor's).
    Under torchrun (``ctx``) every rank trains GANalyze on its slice of each global batch of
    ``batch_size`` × ranks; rank 0 alone measures the evidence and saves. A hyperplane can be fitted from
    ``samples`` drawn beforehand (``memstudio direction sample``, sharded over ranks).
    """
    return (yield from each_step(_train(settings, assessor, generator, device, ctx, samples), training_mode))


def _train(
    settings: TrainDirectionSettings,
    assessor: Assessor,
    generator: Generator | None,
    device: torch.device | str | None,
    ctx: DistContext | None,
    samples: Samples | None,
) -> Job[TrainResult]:
    from memstudio.core.directions.evidence import attach_evidence, evaluate_direction
    from memstudio.core.directions.sampling import HELDOUT_SEED

    require_trainable(assessor, f"assessor {settings.assessor!r}")
    checkpoint = settings.checkpoint_path
    resumed = checkpoint_step(checkpoint)
    if resumed:
        yield Progress(resumed / max(settings.steps, 1) * TRAIN_SHARE, f"resuming from step {resumed}")
    split: PhotoSplit | None = None
    heldout_generator = None
    if generator is None:
        if settings.method != "ganalyze":
            raise MemstudioError("a hyperplane needs a GAN's latent space: open or give a generator")
        split = split_photos(settings.photos, settings.heldout_photos, settings.seed)
        yield Progress(0.0, f"loading {len(split.train) + len(split.heldout)} photos")
        generator, heldout_generator = photo_editors(split, settings.photo_size, device, assessor)
    else:
        require_trainable(generator, f"generator {generator.name!r}")

    share = TRAIN_SHARE if settings.evaluate else 1.0
    job = _training_job(settings, assessor, generator, checkpoint, ctx, samples)
    direction = yield from scaled(job, 0.0, share)
    if ctx is not None and not ctx.is_main:
        return TrainResult(settings.output_path, direction, "", ())  # rank 0 measures and writes

    warnings: list[str] = []
    if settings.evaluate:
        target = heldout_generator or generator
        job = evaluate_direction(
            target,
            assessor,
            direction,
            None if settings.alphas is None else list(settings.alphas),
            settings.eval_samples,
            settings.eval_batch,
            HELDOUT_SEED,
        )
        evidence = yield from scaled(job, share, 1.0)
        evidence["split"] = split.describe() if split is not None else {"by": "seed", "seed": HELDOUT_SEED}
        evidence["seeds"] = {"training": settings.seed, "heldout": None if split is not None else HELDOUT_SEED}
        if split is not None:
            evidence["seeds"]["split"] = split.seed
        warnings = evidence_warnings(evidence)
        evidence["warnings"] = warnings
        if direction.space == "edit":
            from memstudio.core.directions.shipped import edit_loadings

            # The confound next to β: which edit parameters carry the direction (θ per parameter, normalised).
            evidence["edit_parameters"] = edit_loadings(direction.vector)
        direction = attach_evidence(direction, evidence)
    path = settings.output_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path = direction.save(path)
    if checkpoint is not None and checkpoint.exists() and not settings.keep_checkpoint:
        checkpoint.unlink()  # the direction is saved; a later training must start afresh
    return TrainResult(path, direction, summarize(direction, path), tuple(warnings))


def _training_job(
    settings: TrainDirectionSettings,
    assessor: Assessor,
    generator: Generator,
    checkpoint: Path | None,
    ctx: DistContext | None = None,
    samples: Samples | None = None,
) -> Iterator[Progress]:
    from memstudio.core.directions.ganalyze import train_ganalyze
    from memstudio.core.directions.hyperplane import fit_hyperplane

    if settings.method == "ganalyze":
        ganalyze = ganalyze_settings(settings, ctx.world_size if ctx is not None else 1)
        return train_ganalyze(generator, assessor, ganalyze, checkpoint=checkpoint, name=settings.name, ctx=ctx)
    pair = (samples.latents, samples.scores) if samples is not None else None
    return fit_hyperplane(generator, assessor, hyperplane_settings(settings, samples), name=settings.name, samples=pair)


def ganalyze_settings(settings: TrainDirectionSettings, world_size: int = 1) -> GanalyzeSettings:
    """GANalyze's own settings for a training (the global batch is ``batch_size`` × processes).

    The training and its time estimate both build them here, so the estimate measures the step that runs.
    """
    from memstudio.core.directions.ganalyze import GanalyzeSettings

    return GanalyzeSettings(
        space=settings.space,
        steps=settings.steps,
        batch_size=settings.batch_size * world_size,
        micro_batch=settings.micro_batch,
        lr=settings.lr,
        alpha_max=settings.alpha_max,
        renormalize=settings.renormalize,
        class_conditional=settings.class_conditional,
        edit_std=settings.edit_std,
        seed=settings.seed,
        checkpoint_every=settings.checkpoint_every,
    )


def hyperplane_settings(settings: TrainDirectionSettings, samples: Samples | None = None) -> HyperplaneSettings:
    """The hyperplane's own settings (space and seed from ``samples`` when it is fitted from a file)."""
    from memstudio.core.directions.hyperplane import HyperplaneSettings

    return HyperplaneSettings(
        space=samples.space if samples is not None else settings.space,
        num_samples=settings.num_samples,
        split=settings.split,
        fraction=settings.fraction,
        classifier=settings.classifier,
        l2=settings.l2,
        batch_size=settings.eval_batch,
        seed=samples.seed if samples is not None else settings.seed,
    )


def summarize(direction: Direction, path: Path) -> str:
    """One line for the job card and the CLI: what was saved and its evidence."""
    evidence = direction.evidence
    if "beta" in evidence:
        low, high = evidence["ci95"]
        told = (
            f"β = {float(evidence['beta']):.3f} (95% CI [{float(low):.3f}, {float(high):.3f}]), "
            f"R² = {float(evidence['r2']):.3f}, n = {evidence['num_samples']} held-out samples"
        )
    else:
        told = "no evidence measured"
    summary = f"{direction.name} → {path.name}: {told}"
    if "test_accuracy" in direction.metrics:
        summary += f", held-out accuracy {float(direction.metrics['test_accuracy']):.3f}"
    return summary


def checkpoint_step(path: Path | None) -> int:
    """The step a GANalyze checkpoint stopped at (0 when there is none or it cannot be read)."""
    if path is None or not path.exists():
        return 0
    from memstudio.core.checkpoints import safe_torch_load

    try:
        return int(safe_torch_load(path)["step"])
    except Exception:  # noqa: BLE001 - the training itself reports a broken checkpoint with its reason
        return 0


def require_trainable(module: torch.nn.Module, what: str) -> None:
    """A model built under ``torch.inference_mode`` cannot carry gradients; say so instead of autograd's riddle."""
    for tensor in [*module.parameters(), *module.buffers()]:
        if tensor.is_inference():
            raise MemstudioError(
                f"{what} was loaded under torch.inference_mode and cannot be trained through; "
                "load models with inference mode off"
            )


def _device_of(module: torch.nn.Module) -> torch.device:
    from memstudio.core.directions.sampling import module_device

    return module_device(module)


def photo_editors(
    split: PhotoSplit, size: int, device: torch.device | str | None, assessor: Assessor
) -> tuple[Generator, Generator | None]:
    """The photo editors over the training photos and over the held-out ones (None when none is held out),
    on ``device`` (default: the assessor's)."""
    import torch

    where = torch.device(device) if device is not None else _device_of(assessor)
    heldout = _photo_editor(split.heldout, size, where) if split.heldout else None
    return _photo_editor(split.train, size, where), heldout


def _photo_editor(paths: Sequence[str], size: int, device: torch.device) -> Generator:
    from memstudio.core.directions.sampling import load_photo_batch
    from memstudio.core.generators.photo import PhotoEditor

    return PhotoEditor(load_photo_batch(list(paths), size).to(device), label=f"{len(paths)} photos")
