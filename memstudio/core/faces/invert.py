"""Projecting an aligned face into a generator's W or W+ space (paper 001 §2.5), as a cancellable job.

The procedure is the StyleGAN2-ADA projector's (Karras et al. 2020): start at the mean w (estimated from
10 000 mapped z), add Gaussian noise to w that ramps down to zero over the first 75 % of the steps, ramp the
learning rate up over 5 % and down (cosine) over the last 25 %, optimise the per-layer noise maps too, keep
them noise-like with the multi-scale autocorrelation regulariser, and renormalise them after every step.
Paper 001 uses W+ for real faces; ``w_first`` runs a W stage first and continues in W+ from its result.

Only the :class:`~memstudio.core.generators.base.Generator` API is used (``sample`` → z size, ``convert``
z → w, ``render`` differentiable in the latent), plus buffers named ``*noise_const`` if the generator has
them (NVIDIA's names). Noise maps are swapped into the generator only for the duration of one step, so the
studio can render other latents between steps; the optimised maps travel in ``latent.extras["noise"]`` and
:func:`render_latent` applies them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from memstudio.core.faces.perceptual import ReconstructionLoss, make_loss
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.imaging import pil_to_tensor
from memstudio.core.jobs import Job, Progress

NOISE_BUFFER_SUFFIX = "noise_const"


@dataclass(frozen=True)
class InversionSettings:
    """The projector's hyper-parameters (same names and defaults) plus memstudio's choices."""

    space: str = "w+"
    num_steps: int = 1000
    #: Fraction of the steps spent in W before continuing in W+ (only for ``space="w+"``; 0 = W+ throughout).
    w_first: float = 0.3
    w_avg_samples: int = 10000
    initial_learning_rate: float = 0.1
    initial_noise_factor: float = 0.05
    lr_rampdown_length: float = 0.25
    lr_rampup_length: float = 0.05
    noise_ramp_length: float = 0.75
    regularize_noise_weight: float = 1e5
    optimize_noise: bool = True
    #: Seeds the w noise, the initial noise maps and the w statistics: same seed, same inversion.
    seed: int = 303
    #: A preview image is attached to every N-th progress step (and the last).
    preview_every: int = 10

    def validate(self) -> None:
        if self.space not in ("w", "w+"):
            raise ValueError(f"inversion space must be 'w' or 'w+', not {self.space!r}")
        if self.num_steps < 1:
            raise ValueError(f"inversion needs at least 1 step, not {self.num_steps}")
        if not 0.0 <= self.w_first < 1.0:
            raise ValueError(f"w_first must be in [0, 1), not {self.w_first}")


@dataclass
class InversionState:
    """A live view of a running inversion, kept up to date every step.

    After a cancel (``job.close()``) it still holds the best latent seen so far (``best``), so the caller
    decides whether to keep a partial projection.
    """

    step: int = 0
    total_steps: int = 0
    loss: float = float("nan")
    best_loss: float = float("inf")
    best: Latent | None = None
    finished: bool = False
    cancelled: bool = False
    history: list[float] = field(default_factory=list)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1] (over the whole batch)."""
    mse = float((a.detach().float() - b.detach().float()).square().mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


def prepare_target(image: Image.Image | torch.Tensor, resolution: int) -> torch.Tensor:
    """``[1, 3, R, R]`` in [0, 1] at the generator's resolution (aligned faces already are)."""
    target = pil_to_tensor(image) if isinstance(image, Image.Image) else image.detach().float()
    if target.ndim == 3:
        target = target.unsqueeze(0)
    if target.ndim != 4 or target.shape[:2] != (1, 3):
        raise ValueError(f"inversion target must be one RGB image, got shape {tuple(target.shape)}")
    if target.shape[-2:] != (resolution, resolution):
        mode = "area" if target.shape[-1] > resolution else "bicubic"
        target = F.interpolate(target, size=(resolution, resolution), mode=mode).clamp(0, 1)
    return target


def noise_buffers(generator: Generator) -> dict[str, torch.Tensor]:
    """The generator's constant noise maps by buffer name (empty for generators without them)."""
    return {name: buf for name, buf in generator.named_buffers() if name.endswith(NOISE_BUFFER_SUFFIX)}


@contextlib.contextmanager
def noise_override(generator: Generator, noise: dict[str, torch.Tensor] | None) -> Iterator[None]:
    """Render with ``noise`` in place of the named noise buffers; the originals are back afterwards."""
    if not noise:
        yield
        return
    saved = []
    try:
        for name, value in noise.items():
            module_name, _, leaf = name.rpartition(".")
            module = generator.get_submodule(module_name)
            old = module._buffers[leaf]
            if old is None or tuple(old.shape) != tuple(value.shape):
                raise ValueError(f"noise map {name}: shape {tuple(value.shape)} does not fit this generator")
            saved.append((module, leaf, old))
            module._buffers[leaf] = value.to(old.device, old.dtype)
        yield
    finally:
        for module, leaf, old in reversed(saved):
            module._buffers[leaf] = old


def render_latent(generator: Generator, latent: Latent) -> torch.Tensor:
    """``generator.render(latent)`` with the latent's own noise maps when it carries them (inversions)."""
    noise = latent.extras.get("noise") if isinstance(latent.extras, dict) else None
    with noise_override(generator, noise if isinstance(noise, dict) else None):
        return generator.render(latent)


def w_statistics(
    generator: Generator, num_samples: int = 10000, seed: int = 123, class_index: int | None = None
) -> tuple[torch.Tensor, float]:
    """Mean w ``[1, w_dim]`` and the RMS distance of w from it, from ``num_samples`` mapped z (projector)."""
    probe = generator.sample(0, 1.0, class_index)
    z_probe = probe.extras.get("z") if isinstance(probe.extras, dict) else None
    if not isinstance(z_probe, torch.Tensor) or "w" not in generator.spaces:
        raise ValueError(f"{generator.name}: inversion needs a generator with z and w spaces")
    z_dim = z_probe.shape[-1]
    z_all = torch.from_numpy(np.random.RandomState(seed).randn(num_samples, z_dim).astype(np.float32))
    chunks = []
    with torch.no_grad():
        for z in z_all.split(2048):
            w = generator.convert(Latent("z", z, class_index=class_index), "w").values
            chunks.append(w.float().reshape(len(z), -1))
    w_samples = torch.cat(chunks)
    w_avg = w_samples.mean(dim=0, keepdim=True)
    w_std = float(((w_samples - w_avg).square().sum() / num_samples).sqrt())
    return w_avg, w_std


def noise_regularization(noises: list[torch.Tensor]) -> torch.Tensor:
    """Squared autocorrelation at one-pixel shifts, summed over a pyramid down to 8 px (projector's reg)."""
    reg = torch.zeros(())
    for v in noises:
        noise = v.reshape(1, 1, *v.shape[-2:])
        reg = reg.to(noise.device)
        while True:
            reg = reg + (noise * torch.roll(noise, shifts=1, dims=3)).mean() ** 2
            reg = reg + (noise * torch.roll(noise, shifts=1, dims=2)).mean() ** 2
            if noise.shape[2] <= 8:
                break
            noise = F.avg_pool2d(noise, kernel_size=2)
    return reg


def learning_rate(t: float, settings: InversionSettings) -> float:
    """Cosine ramp-down over the last ``lr_rampdown_length``, linear ramp-up over ``lr_rampup_length``."""
    ramp = min(1.0, (1.0 - t) / settings.lr_rampdown_length)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp = ramp * min(1.0, t / settings.lr_rampup_length)
    return settings.initial_learning_rate * ramp


def w_noise_scale(t: float, w_std: float, settings: InversionSettings, factor: float) -> float:
    """Std of the noise added to w: quadratic ramp to zero at ``noise_ramp_length``."""
    return w_std * factor * max(0.0, 1.0 - t / settings.noise_ramp_length) ** 2


def _latent_for(space: str, values: torch.Tensor, label: str, class_index: int | None) -> Latent:
    return Latent(space=space, values=values, label=label, class_index=class_index)


def invert(
    generator: Generator,
    target: Image.Image | torch.Tensor,
    settings: InversionSettings | None = None,
    loss: ReconstructionLoss | None = None,
    label: str = "",
    state: InversionState | None = None,
    class_index: int | None = None,
) -> Job[Latent]:
    """Project ``target`` (an aligned face) into ``settings.space``; yields Progress, returns the Latent.

    The result's ``extras`` hold ``noise`` (optimised noise maps by buffer name), ``loss`` (final
    reconstruction distance), ``psnr`` (dB against the target), ``steps`` and ``generator`` (name + SHA-256).
    Close the job to cancel; ``state.best`` then holds the best latent seen.
    """
    settings = settings or InversionSettings()
    settings.validate()
    state = state if state is not None else InversionState()
    device = next(generator.parameters()).device
    loss = loss if loss is not None else make_loss("pixel")
    loss = loss.to(device)
    target_t = prepare_target(target, generator.resolution).to(device)
    target_features = loss.target_features(target_t)
    rng = torch.Generator(device="cpu").manual_seed(settings.seed)

    w_avg, w_std = w_statistics(generator, settings.w_avg_samples, class_index=class_index)
    w_avg = w_avg.to(device)
    num_ws = generator.num_ws
    use_noise = settings.optimize_noise and getattr(generator, "noise_mode", "const") == "const"
    noise_names = list(noise_buffers(generator)) if use_noise else []
    noises = {
        name: torch.randn(buf.shape, generator=rng).to(device).requires_grad_(True)
        for name, buf in noise_buffers(generator).items()
        if name in noise_names
    }

    # Stages: (space, steps, w-noise factor). The W+ stage after W starts from a good point, so it explores
    # with a tenth of the w noise.
    if settings.space == "w+" and settings.w_first > 0:
        first = max(1, round(settings.num_steps * settings.w_first))
        stages = [
            ("w", first, settings.initial_noise_factor),
            ("w+", settings.num_steps - first, settings.initial_noise_factor * 0.1),
        ]
    else:
        stages = [(settings.space, settings.num_steps, settings.initial_noise_factor)]
    stages = [s for s in stages if s[1] > 0]

    state.total_steps = settings.num_steps
    w_opt = w_avg.clone()  # [1, w_dim]: the W stage's variable
    generator_info = generator.describe()
    done = 0
    finished = False
    try:
        for space, steps, factor in stages:
            if space == "w+":
                w_opt = (
                    (w_opt if w_opt.ndim == 3 else w_opt.unsqueeze(1).repeat(1, num_ws, 1)).detach().clone()
                )
            w_opt = w_opt.detach().clone().requires_grad_(True)
            params = [w_opt, *noises.values()]
            optimizer = torch.optim.Adam(params, betas=(0.9, 0.999), lr=settings.initial_learning_rate)
            for step in range(steps):
                t = step / steps
                lr = learning_rate(t, settings)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                sigma = w_noise_scale(t, w_std, settings, factor)
                w_noise = torch.randn(w_opt.shape, generator=rng).to(device) * sigma
                with noise_override(generator, noises):
                    images = generator.render(_latent_for(space, w_opt + w_noise, label, class_index))
                dist = loss.distance(images, target_features).sum()
                reg = (
                    noise_regularization(list(noises.values())) if noises else torch.zeros((), device=device)
                )
                total = dist + reg * settings.regularize_noise_weight
                dist_value = float(dist.detach())
                if dist_value < state.best_loss:
                    state.best_loss = dist_value
                    state.best = _result_latent(
                        space, w_opt, noises, label, class_index, generator_info, done, dist_value
                    )
                grads = torch.autograd.grad(total, params)
                for p, g in zip(params, grads, strict=True):
                    p.grad = g
                optimizer.step()
                with torch.no_grad():
                    for buf in noises.values():
                        buf -= buf.mean()
                        buf *= buf.square().mean().rsqrt()
                done += 1
                state.step, state.loss = done, dist_value
                state.history.append(dist_value)
                show = done % max(settings.preview_every, 1) == 0 or done == settings.num_steps
                yield Progress(
                    fraction=done / settings.num_steps,
                    message=f"{space} step {done}/{settings.num_steps}  {loss.name} {dist_value:.4f}",
                    preview=images.detach().clamp(0, 1) if show else None,
                )
        final_space = stages[-1][0]
        with torch.no_grad(), noise_override(generator, noises):
            final_images = generator.render(_latent_for(final_space, w_opt, label, class_index))
            final_loss = float(loss.distance(final_images, target_features).sum())
        result = _result_latent(
            final_space, w_opt, noises, label, class_index, generator_info, done, final_loss
        )
        result.extras["psnr"] = psnr(final_images, target_t)
        state.best, state.best_loss = result, min(state.best_loss, final_loss)
        finished = True
        return result
    finally:
        state.finished = finished
        state.cancelled = not finished


def _result_latent(
    space: str,
    w_opt: torch.Tensor,
    noises: dict[str, torch.Tensor],
    label: str,
    class_index: int | None,
    generator_info: dict[str, object],
    steps: int,
    loss_value: float,
) -> Latent:
    latent = _latent_for(space, w_opt.detach().clone(), label, class_index)
    return replace(
        latent,
        extras={
            "noise": {k: v.detach().clone() for k, v in noises.items()},
            "loss": loss_value,
            "steps": steps,
            "generator": {
                "name": generator_info.get("name"),
                "checkpoint_sha256": generator_info.get("checkpoint_sha256"),
            },
        },
    )
