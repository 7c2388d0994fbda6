"""GANalyze (paper 000): learn a direction θ so that an assessor's score moves by exactly α.

Eq. 1–2: minimise E_{z,α}[(A(G(z + αθ)) − (A(G(z)) + α))²] over θ, with z from a standard normal truncated
to [−2, 2], α ~ U(−a, a) and Adam. The same loop serves every generator through :class:`LatentSource`:
θ lives in z or w of a GAN (or W+), or in the photo editor's "edit" space, where it is trained over a set
of photos (each batch is a subset of the photos, the zero edit being the "seed image").

The training is a job (:mod:`memstudio.core.jobs`): it yields progress with a preview strip, writes a
resumable checkpoint (θ, Adam state, step) every ``checkpoint_every`` steps and in ``finally`` (a cancel
closes the generator), and continues from that checkpoint when started again with the same path.

Each step's batch (z, class, α) is drawn from a generator seeded by (seed, step) alone, so a resumed run
needs no saved RNG state, and under torch.distributed every rank draws the same global batch and trains on
its own slice of it: rank r of W takes samples [r·b, (r+1)·b) of the ``batch_size`` = W·b, the slices are
disjoint, and their union is exactly the batch a one-process run draws. Each rank's loss is divided by the
global batch size and the gradients of θ are summed over the ranks (DistributedDataParallel's averaging), so
W processes compute the one-process step up to the order of the float32 sums (≈1e-7 relative per step).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from memstudio.core import distributed
from memstudio.core.assessors.base import Assessor
from memstudio.core.atomic import write_with
from memstudio.core.checkpoints import safe_torch_load
from memstudio.core.directions.base import Direction, DirectionError, renormalize
from memstudio.core.directions.sampling import LatentSource
from memstudio.core.errors import CheckpointError
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.jobs import Job, Progress

#: Paper 000's training range of α; an assessor whose scores cannot move that far gets a smaller one.
PAPER_ALPHA_MAX = 0.5
CHECKPOINT_VERSION = 2
THETA_INIT_STD = 1e-3


@dataclass
class GanalyzeSettings:
    """Training settings; stored in the direction file so a result can be reproduced.

    ``alpha_max`` None → :func:`default_alpha_max`. ``micro_batch`` splits each batch into chunks whose
    gradients are accumulated (same result, less memory; 1 is the unbatched baseline of the benchmark).
    ``edit_std`` jitters the photo editor's starting edits so θ is learnt around, not only at, the photo.
    ``batch_size`` is the global batch: under torch.distributed each of W processes trains on batch_size / W.
    """

    space: str | None = None
    steps: int = 1000
    batch_size: int = 8
    micro_batch: int | None = None
    lr: float = 0.05
    alpha_max: float | None = None
    alpha_k: float = 4.0
    spread_samples: int = 16
    z_bound: float | None = 2.0
    renormalize: bool = False
    class_conditional: bool = False
    classes: list[int] | None = None
    edit_std: float = 0.0
    seed: int = 0
    checkpoint_every: int = 50
    preview_every: int = 25


def default_alpha_max(
    source: LatentSource, assessor: Assessor, samples: int = 16, k: float = 4.0, seed: int = 0
) -> float:
    """a = min(0.5, k·std of the assessor's scores over ``samples`` starting points).

    Why: α is in score units, and θ can only be asked for changes the generator can deliver. The spread of
    scores over the samples the generator produces (for photo editing: over random edits of the photos, the
    change the editor can reach) measures that; ±k standard deviations spans most of the reachable range, so
    the targets stay achievable. The paper's 0.5 suits MemNet's spread and caps the range.
    """
    rng = torch.Generator().manual_seed(seed)
    if source.is_photo:
        spread_source = LatentSource(source.generator, source.space, edit_std=max(source.edit_std, 1.0))
    else:
        spread_source = source
    scores = []
    drawn = 0
    while drawn < samples:
        n = min(8, samples - drawn)
        renderer, latent = spread_source.draw(n, rng)
        with torch.no_grad():
            scores.append(assessor(renderer.render(latent)).float().cpu())
        drawn += n
    std = float(torch.cat(scores).std())
    if not std > 0:
        return PAPER_ALPHA_MAX
    return round(min(PAPER_ALPHA_MAX, k * std), 4)


def default_space(generator: Generator) -> str:
    """GANalyze edits z where a generator has it (the paper's choice), else its default space."""
    return "z" if "z" in generator.spaces else generator.default_space


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random stream of one training step, from (seed, step) only: resumable, and equal on every rank."""
    state = np.random.SeedSequence([seed % (1 << 63), step]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def train_ganalyze(
    generator: Generator,
    assessor: Assessor,
    settings: GanalyzeSettings | None = None,
    checkpoint: str | Path | None = None,
    name: str | None = None,
    ctx: distributed.DistContext | None = None,
) -> Job[Direction]:
    """The GANalyze training job; its result is the learnt :class:`Direction` (method ``"ganalyze"``).

    With a distributed ``ctx`` every rank runs this job on its slice of each batch; rank 0 alone writes the
    checkpoint, and every rank returns the same direction.
    """
    settings = settings or GanalyzeSettings()
    ctx = ctx or distributed.DistContext(device=torch.device("cpu"))
    if settings.batch_size % ctx.world_size:
        raise DirectionError(
            f"a global batch of {settings.batch_size} cannot be split evenly among {ctx.world_size} processes"
        )
    local = settings.batch_size // ctx.world_size
    mine = slice(ctx.rank * local, (ctx.rank + 1) * local)
    space = settings.space or default_space(generator)
    source = LatentSource(generator, space, settings.z_bound, settings.classes, settings.edit_std)
    if settings.class_conditional and not source.classes:
        raise DirectionError(
            f"generator {generator.name!r} is unconditional; a class-conditional θ needs classes"
        )
    device = source.device
    probe_renderer, probe = source.draw(1, torch.Generator().manual_seed(settings.seed + 2))
    latent_shape = tuple(probe.values.shape[1:])
    rows = generator.num_classes if settings.class_conditional else 1

    # Rank 0 reads the checkpoint and measures the score spread; every rank then starts from its values.
    state = distributed.run_on_main(
        lambda: _read_checkpoint(checkpoint, (rows, *latent_shape), _resume_key(settings)), ctx, "resuming"
    )
    if state is not None:
        alpha_max = float(state["alpha_max"])
    elif settings.alpha_max is not None:
        alpha_max = float(settings.alpha_max)
    else:
        alpha_max = distributed.run_on_main(
            lambda: default_alpha_max(
                source, assessor, settings.spread_samples, settings.alpha_k, settings.seed + 1
            ),
            ctx,
            "measuring the score spread",
        )

    # A tiny random start rather than zero: piecewise edits (the photo editor's tanh ranges) can have no
    # gradient at exactly zero, where θ = 0 would leave every training sample.
    init = THETA_INIT_STD * torch.randn(
        rows, *latent_shape, generator=torch.Generator().manual_seed(settings.seed + 3)
    )
    theta = torch.nn.Parameter(init.to(device))
    # SparseAdam is Adam that touches only the rows with a gradient: class rows absent from a batch must not
    # drift on their momentum. With one row it is plain Adam.
    optimizer = torch.optim.SparseAdam([theta], lr=settings.lr)
    step = 0
    losses: list[float] = []
    if state is not None:
        with torch.no_grad():
            theta.copy_(state["theta"].to(device))
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        losses = [float(x) for x in state["losses"]]

    preview_renderer, preview_latent = probe_renderer, probe
    alphas_preview = torch.linspace(-alpha_max, alpha_max, 5).tolist()

    def save() -> None:
        if checkpoint is not None and ctx.is_main:
            _write_checkpoint(checkpoint, theta, optimizer, step, alpha_max, losses, settings)

    try:
        while step < settings.steps:
            rng = step_generator(settings.seed, step)
            renderer, latent = source.draw(settings.batch_size, rng)
            alpha = ((torch.rand(settings.batch_size, generator=rng) * 2 - 1) * alpha_max).to(device)
            row = latent.class_index if settings.class_conditional else 0
            renderer = _slice_renderer(renderer, mine.start, mine.stop)
            latent = latent.with_values(latent.values[mine])
            loss = _accumulate_step(
                renderer, assessor, latent, theta, row, alpha[mine], settings, settings.batch_size
            )
            if ctx.is_distributed:
                # The global step: Σ over ranks of (their samples' loss / global batch) and its gradient.
                distributed.all_reduce_sum_(theta.grad, ctx)
                summed = torch.tensor([loss], dtype=torch.float64)
                loss = float(distributed.all_reduce_sum_(summed, ctx, "adding losses"))
            theta.grad = theta.grad.to_sparse(1)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            losses.append(loss)
            if settings.checkpoint_every and step % settings.checkpoint_every == 0:
                save()
            preview = None
            due = settings.preview_every and (step % settings.preview_every == 0 or step == settings.steps)
            if ctx.is_main and due:
                preview = _preview_strip(preview_renderer, preview_latent, theta, alphas_preview, settings)
            recent = sum(losses[-20:]) / len(losses[-20:])
            yield Progress(step / settings.steps, f"step {step}/{settings.steps} loss {recent:.5f}", preview)
    finally:
        save()

    stored = asdict(settings)
    stored.update(space=space, alpha_max=alpha_max)
    vectors = theta.detach().cpu()
    tail = losses[-50:]
    return Direction(
        name=name or f"{assessor.property or assessor.name}-ganalyze",
        property=assessor.property,
        space=space,
        vector=vectors.mean(0) if settings.class_conditional else vectors[0],
        method="ganalyze",
        class_vectors=vectors if settings.class_conditional else None,
        generator=generator.describe(),
        assessor=assessor.describe(),
        settings=stored,
        metrics={
            "steps": step,
            "final_loss": sum(tail) / max(len(tail), 1),
            "theta_norm": float(vectors.norm()),
        },
        alpha_range=(-alpha_max, alpha_max),
    )


def _accumulate_step(
    renderer: Generator,
    assessor: Assessor,
    latent: Latent,
    theta: torch.Tensor,
    row: int,
    alpha: torch.Tensor,
    settings: GanalyzeSettings,
    batch_total: int,
) -> float:
    """Eq. 1 on (this rank's part of) a batch of ``batch_total``, gradients accumulated over micro-batches.

    Returns this part's share of the batch MSE (its squared errors summed, divided by ``batch_total``).
    """
    n = latent.values.shape[0]
    chunk = settings.micro_batch or n
    total = 0.0
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        sub = latent.with_values(latent.values[start:stop])
        sub_renderer = _slice_renderer(renderer, start, stop)
        a = alpha[start:stop].view(-1, *([1] * (latent.values.ndim - 1)))
        with torch.no_grad():
            target = assessor(sub_renderer.render(sub)) + alpha[start:stop]
        edited = sub.values + a * theta[row]
        if settings.renormalize:
            edited = renormalize(edited, sub.values)
        score = assessor(sub_renderer.render(sub.with_values(edited)))
        loss = F.mse_loss(score, target, reduction="sum") / batch_total
        # Only θ's gradient: a user's assessor or generator with trainable weights costs no weight gradients.
        loss.backward(inputs=[theta])
        total += float(loss.detach())
    return total


def _slice_renderer(renderer: Generator, start: int, stop: int) -> Generator:
    """A photo editor renders one photo per edit vector, so a micro-batch needs the matching photos."""
    from memstudio.core.generators.photo import PhotoEditor

    if isinstance(renderer, PhotoEditor) and renderer.photos.shape[0] > 1:
        return PhotoEditor(renderer.photos[start:stop], label=renderer.label)
    return renderer


def _preview_strip(
    renderer: Generator, latent: Latent, theta: torch.Tensor, alphas: list[float], settings: GanalyzeSettings
) -> torch.Tensor:
    """One starting point at the preview α values, side by side: ``[1, 3, H, 5·W]`` (H at most 96)."""
    row = latent.class_index if settings.class_conditional else 0
    frames = []
    with torch.no_grad():
        for alpha in alphas:
            edited = latent.values + alpha * theta[row].detach()
            if settings.renormalize:
                edited = renormalize(edited, latent.values)
            image = renderer.render(latent.with_values(edited))[:1].float().cpu()
            if image.shape[-2] > 96:
                width = max(1, round(image.shape[-1] * 96 / image.shape[-2]))
                image = F.interpolate(
                    image, size=(96, width), mode="bilinear", antialias=True, align_corners=False
                )
            frames.append(image)
    return torch.cat(frames, dim=-1)


def _write_checkpoint(
    path: str | Path,
    theta: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    step: int,
    alpha_max: float,
    losses: list[float],
    settings: GanalyzeSettings,
) -> None:
    """Atomic write (temporary file + rename) so a crash mid-save never leaves a broken checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "version": CHECKPOINT_VERSION,
        "theta": theta.detach().cpu(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "alpha_max": alpha_max,
        "losses": torch.tensor(losses, dtype=torch.float64),
        "settings": _resume_key(settings),
    }
    write_with(path, lambda tmp: torch.save(payload, tmp))


def _resume_key(settings: GanalyzeSettings) -> str:
    """The settings a resumed run must share with the saved one (more steps or another cadence is fine).

    ``batch_size`` is the global batch, so a run resumes on any number of processes that divides it.
    """
    key = asdict(settings)
    for free in ("steps", "checkpoint_every", "preview_every", "micro_batch"):
        key.pop(free)
    return json.dumps(key, sort_keys=True)


def _read_checkpoint(path: str | Path | None, theta_shape: tuple[int, ...], key: str) -> dict | None:
    """The saved training state, or None when there is none yet; a mismatch is an error, not a restart."""
    if path is None or not Path(path).exists():
        return None
    try:
        state = safe_torch_load(path)  # weights only, and a zip bomb is refused before anything is inflated
    except CheckpointError as exc:
        raise CheckpointError(f"not a readable GANalyze checkpoint: {exc}") from exc
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: not a GANalyze checkpoint of version {CHECKPOINT_VERSION} (version 1 files, from before "
            "the per-step random streams, cannot be continued: delete it to start afresh)"
        )
    if tuple(state["theta"].shape) != theta_shape:
        raise CheckpointError(
            f"{path}: checkpoint θ has shape {tuple(state['theta'].shape)}, this training needs {theta_shape}"
        )
    if state.get("settings") != key:
        raise CheckpointError(
            f"{path}: this checkpoint was written with other training settings; "
            "use the same settings to resume, or delete it to start afresh"
        )
    return state
