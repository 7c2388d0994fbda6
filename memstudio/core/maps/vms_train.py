"""Adversarial training of the VMS predictor (paper 003 §3.3), as a resumable job.

Per batch, with L_f = G(image) the predicted ("fake") map and L_r the real one:

    L_D = ½ · (MSE(D(L_f, image), 0) + MSE(D(L_r, image), 1))        (discriminator step, L_f detached)
    L_G = MSE(D(L_f, image), 1) + λ · L1(L_f, L_r)                    (generator step)

and after each epoch the validation L1 — the paper's yardstick, independent of the discriminator. A
checkpoint is written after every epoch and again when the job is closed (cancelled) mid-epoch; resuming
restarts at the first unfinished epoch. Shuffles and flips come from a generator seeded per epoch, so a run
resumed from epoch k continues exactly as the uninterrupted run would have.

Under torch.distributed (``ctx``) ``batch_size`` is the global batch: every rank draws the same order and
flips, takes its contiguous part of each batch, weighs its losses by its share of the batch, and the
gradients are summed over the ranks before each optimizer step, so W processes take the one-process step
(up to the order of float sums). Batch norm then needs the statistics of the whole batch: on GPUs it becomes
SyncBatchNorm; on the CPU (gloo has no SyncBatchNorm) distributed training needs ``norm`` instance or none.
Rank 0 reads and writes the checkpoint and computes the validation L1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from memstudio.core import distributed
from memstudio.core.errors import CheckpointError, MemstudioError
from memstudio.core.jobs import Job, Progress
from memstudio.core.maps.vms import Discriminator, UNet, VMSConfig, build_networks, build_optimizer
from memstudio.core.maps.vms_checkpoint import META_NAME, read_checkpoint, restore, save_checkpoint
from memstudio.core.maps.vms_data import PairSet, load_dataset


@dataclass(frozen=True)
class TrainResult:
    """Where the model is and how it did: ``history`` has one entry per finished epoch."""

    checkpoint: Path
    epoch: int
    history: tuple[dict[str, float], ...]
    baseline_val_l1: float


def validation_l1(generator: UNet, data: PairSet, batch_size: int, device: torch.device) -> float:
    """Mean absolute error per map pixel over the set (maps in [0, 1]), in eval mode."""
    was_training = generator.training
    generator.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            images, maps = data.batch(torch.arange(start, min(start + batch_size, len(data))))
            pred = generator(images.to(device))
            total += float((pred - maps.to(device)).abs().sum())
            count += maps.numel()
    generator.train(was_training)
    return total / count


def mean_map_l1(train: PairSet, val: PairSet) -> float:
    """L1 on ``val`` of always predicting the training set's mean map: what learning must beat."""
    mean = train.maps.float().mean(dim=0, keepdim=True)
    return float((val.maps.float() - mean).abs().mean())


def _step(
    generator: UNet,
    discriminator: Discriminator,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    images: torch.Tensor,
    real: torch.Tensor,
    lambda_l1: float,
    share: float = 1.0,
    ctx: distributed.DistContext | None = None,
) -> tuple[float, float]:
    """One D step and one G step; ``share`` = this rank's part of the global batch (1 in one process)."""
    ctx = ctx or distributed.DistContext()
    empty = images.shape[0] == 0  # a short last batch can leave a rank nothing; it still joins the sums
    fake = generator(images) if not empty else None
    opt_d.zero_grad(set_to_none=True)
    loss_d = torch.zeros(())
    if not empty:
        d_fake = discriminator(fake.detach(), images)
        d_real = discriminator(real, images)
        loss_d = share * 0.5 * (
            F.mse_loss(d_fake, torch.zeros_like(d_fake)) + F.mse_loss(d_real, torch.ones_like(d_real))
        )
        loss_d.backward()
    distributed.all_reduce_gradients_(list(discriminator.parameters()), ctx)
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    loss_g = torch.zeros(())
    if not empty:
        d_fake = discriminator(fake, images)
        loss_g = share * (F.mse_loss(d_fake, torch.ones_like(d_fake)) + lambda_l1 * F.l1_loss(fake, real))
        loss_g.backward()
    distributed.all_reduce_gradients_(list(generator.parameters()), ctx)
    opt_g.step()
    losses = torch.tensor([float(loss_g.detach()), float(loss_d.detach())], dtype=torch.float64)
    distributed.all_reduce_sum_(losses, ctx, "adding losses")
    return float(losses[0]), float(losses[1])


def _refuse_existing(output: Path) -> None:
    if (output / META_NAME).exists():
        raise CheckpointError(f"{output}: already holds a VMS checkpoint; resume it or choose another folder")


def train_job(
    data: str | Path,
    output: str | Path,
    config: VMSConfig | None = None,
    epochs: int = 100,
    resume: bool = False,
    device: torch.device | str | None = None,
    ctx: distributed.DistContext | None = None,
) -> Job[TrainResult]:
    """Train on the pairs in ``data`` (layout in :mod:`~memstudio.core.maps.vms_data`) into the checkpoint
    folder ``output``, up to ``epochs`` epochs in total. With ``resume`` the config comes from the checkpoint.

    Yields a Progress per batch; after each epoch its ``preview`` is the predicted map of the first validation
    image (``[1, 1, S, S]``). Closing the generator saves a valid checkpoint of the epochs finished so far.
    """
    output = Path(output)
    device = torch.device(device or "cpu")
    ctx = ctx or distributed.DistContext(device=device)
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    history: list[dict[str, float]] = []
    start_epoch = 0
    if resume:
        config, meta, tensors = distributed.run_on_main(lambda: read_checkpoint(output), ctx, "resuming")
        start_epoch, history = int(meta["epoch"]), list(meta["history"])
    config = config or VMSConfig()
    batch_norm = "batch" in (config.norm, config.discriminator_norm)
    if ctx.is_distributed and batch_norm and device.type != "cuda":
        raise MemstudioError(
            "batch norm over several CPU processes would see only each process's part of the batch "
            "(SyncBatchNorm needs GPUs): train with --norm instance or --norm none, or on GPUs"
        )
    if not resume:
        distributed.run_on_main(lambda: _refuse_existing(output), ctx, "checking the output")
    train, val = load_dataset(data, config.image_size, config.map_channels, config.val_fraction, config.seed)
    baseline = mean_map_l1(train, val)
    generator, discriminator = build_networks(config)
    generator, discriminator = generator.to(device), discriminator.to(device)
    if ctx.is_distributed and batch_norm:
        # Statistics of the whole global batch, as one process computes them (same state_dict keys).
        generator = torch.nn.SyncBatchNorm.convert_sync_batchnorm(generator)
        discriminator = torch.nn.SyncBatchNorm.convert_sync_batchnorm(discriminator)
    opt_g = build_optimizer(
        config.optimizer_g, generator.parameters(), config.lr_g, config.betas_g, config.momentum
    )
    opt_d = build_optimizer(
        config.optimizer_d, discriminator.parameters(), config.lr_d, config.betas_d, config.momentum
    )
    optimizers = {"g": opt_g, "d": opt_d}
    if resume:
        restore(output, generator, discriminator, optimizers, tensors=tensors, meta=meta)
    data_info = {"root": str(Path(data)), "train": len(train), "val": len(val)}

    def save(epoch: int, interrupted: bool) -> None:
        if not ctx.is_main:
            return
        best = min((h["val_l1"] for h in history), default=None)
        progress = {
            "epoch": epoch,
            "history": history,
            "interrupted": interrupted,
            "baseline_val_l1": baseline,
            "best_val_l1": best,
            "data": data_info,
        }
        save_checkpoint(output, config, generator, discriminator, optimizers, progress)

    n = len(train)
    bs = min(config.batch_size, n)
    steps = math.ceil(n / bs)
    if n % bs == 1 and steps > 1:
        steps -= 1  # a lone last sample would make batch norm's batch statistics undefined
    total = max(1, (epochs - start_epoch) * steps)
    finished = start_epoch
    dirty = False  # weights changed since the last save
    try:
        for epoch in range(start_epoch, epochs):
            rng = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
            order = torch.randperm(n, generator=rng)
            flips = torch.rand(n, generator=rng) < 0.5
            generator.train()
            discriminator.train()
            sums = [0.0, 0.0]
            for b in range(steps):
                batch = order[b * bs : (b + 1) * bs]
                part = distributed.shard_range(len(batch), ctx)
                index = batch[part.start : part.stop]
                images, real = train.batch(index)
                if config.flip:
                    flip = flips[index].view(-1, 1, 1, 1)
                    images = torch.where(flip, images.flip(-1), images)
                    real = torch.where(flip, real.flip(-1), real)
                loss_g, loss_d = _step(
                    generator,
                    discriminator,
                    opt_g,
                    opt_d,
                    images.to(device),
                    real.to(device),
                    config.lambda_l1,
                    share=len(index) / len(batch),
                    ctx=ctx,
                )
                dirty = True
                sums[0] += loss_g
                sums[1] += loss_d
                done = (epoch - start_epoch) * steps + b + 1
                yield Progress(
                    done / total,
                    f"epoch {epoch + 1}/{epochs} batch {b + 1}/{steps} L_G {loss_g:.4f} L_D {loss_d:.4f}",
                )
            val_l1 = distributed.run_on_main(
                lambda: validation_l1(generator, val, bs, device), ctx, "sharing the validation L1"
            )
            history.append(
                {"epoch": epoch + 1, "loss_g": sums[0] / steps, "loss_d": sums[1] / steps, "val_l1": val_l1}
            )
            finished = epoch + 1
            save(finished, interrupted=False)
            dirty = False
            with torch.no_grad():
                generator.eval()
                preview = generator(val.batch(torch.arange(1))[0].to(device)).mean(dim=1, keepdim=True).cpu()
            yield Progress(
                (epoch + 1 - start_epoch) * steps / total,
                f"epoch {epoch + 1}/{epochs}: val L1 {val_l1:.4f} (mean-map baseline {baseline:.4f})",
                preview,
            )
    finally:
        if dirty:
            # Cancelled mid-epoch: keep what was learnt; resuming redoes the unfinished epoch.
            save(finished, interrupted=True)
    return TrainResult(output, finished, tuple(history), baseline)
