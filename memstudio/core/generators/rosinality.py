"""rosinality ``stylegan2-pytorch`` checkpoints (``.pt`` with a ``g_ema`` state dict) as StyleGAN2 generators.

rosinality's ``Generator`` computes the same network as NVIDIA's StyleGAN2 (config F, 'skip' architecture,
no conv clamping) under other names and layouts:

- ``style.{i+1}`` = ``mapping.fc{i}``; ``input.input[0]`` = ``b4.const``; ``conv1`` / ``to_rgb1`` = block b4;
- ``convs.{2k}`` / ``convs.{2k+1}`` / ``to_rgbs.{k}`` = conv0 / conv1 / torgb of block ``b{2^(k+3)}``;
- ``noises.noise_i`` = the const noise of the i-th conv layer;
- conv weights carry a leading batch axis ``[1, out, in, k, k]``, noise strengths are ``[1]``, ToRGB biases
  ``[1, 3, 1, 1]``, blur kernels are stored times up².

Equalised-lr gains are applied at run time in both, so values copy unchanged. The file does not store
``w_avg`` unless it came from rosinality's ``convert_weight.py`` (``latent_avg``); otherwise it is estimated
from :data:`W_AVG_SAMPLES` seeded z, as rosinality's ``generate.py`` does with ``mean_latent``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memstudio.core.checkpoints import safe_torch_load, sha256_file
from memstudio.core.errors import CheckpointError
from memstudio.core.generators.nvidia_pickle import load_state_strict
from memstudio.core.generators.sg_ops import setup_filter
from memstudio.core.generators.stylegan2 import StyleGAN2Generator

#: z samples averaged for ``w_avg`` when the checkpoint has no ``latent_avg`` (rosinality's default).
W_AVG_SAMPLES = 4096
#: Learning-rate multiplier of rosinality's mapping layers (``lr_mlp``); not stored in the file.
LR_MLP = 0.01


def _block_names(log_size: int) -> list[tuple[int, int]]:
    """(resolution, k) of the blocks above 4×4: convs.{2k}, convs.{2k+1}, to_rgbs.{k}."""
    return [(2 ** (k + 3), k) for k in range(log_size - 2)]


def _channel_config(channels: dict[int, int], source: str | Path) -> tuple[int, int]:
    """NVIDIA's (channel_base, channel_max) that reproduce rosinality's per-resolution channel counts."""
    channel_max = max(channels.values())
    below = [res for res in sorted(channels) if channels[res] < channel_max]
    channel_base = channels[below[0]] * below[0] if below else channel_max * max(channels)
    if any(min(channel_base // res, channel_max) != ch for res, ch in channels.items()):
        raise CheckpointError(f"{source}: channel counts {channels} do not follow StyleGAN2's channel rule")
    return channel_base, channel_max


def rosinality_to_nvidia(
    ros: dict[str, torch.Tensor], source: str | Path = "<state dict>"
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """rosinality ``g_ema`` → (StyleGAN2Generator config, state dict under NVIDIA's names).

    Every rosinality tensor must be used exactly once; leftovers or gaps raise :class:`CheckpointError`.
    """
    used: set[str] = set()

    def take(key: str) -> torch.Tensor:
        if key not in ros:
            raise CheckpointError(f"{source}: not a rosinality StyleGAN2 generator: missing tensor {key}")
        used.add(key)
        return ros[key].detach().to(torch.float32)

    n_mlp = len([k for k in ros if re.fullmatch(r"style\.\d+\.weight", k)])
    log_size = len([k for k in ros if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", k)]) + 2
    if n_mlp == 0 or "input.input" not in ros:
        raise CheckpointError(
            f"{source}: not a rosinality StyleGAN2 generator (no style.* / input.input tensors)"
        )
    w_dim = int(take("style.1.weight").shape[1])
    channels = {4: int(take("input.input").shape[1])}
    channels.update(
        {res: int(take(f"convs.{2 * k}.conv.weight").shape[1]) for res, k in _block_names(log_size)}
    )
    channel_base, channel_max = _channel_config(channels, source)
    cfg = {
        "z_dim": w_dim,
        "c_dim": 0,
        "w_dim": w_dim,
        "img_resolution": 2**log_size,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": n_mlp, "lr_multiplier": LR_MLP},
        "synthesis_kwargs": {
            "channel_base": channel_base,
            "channel_max": channel_max,
            "num_fp16_res": 0,
            "conv_clamp": None,
        },
    }

    nv: dict[str, torch.Tensor] = {}
    for i in range(n_mlp):
        nv[f"mapping.fc{i}.weight"] = take(f"style.{i + 1}.weight")
        nv[f"mapping.fc{i}.bias"] = take(f"style.{i + 1}.bias")

    def styled(nv_prefix: str, ros_prefix: str, noise_index: int) -> None:
        nv[f"{nv_prefix}.weight"] = take(f"{ros_prefix}.conv.weight")[0]
        nv[f"{nv_prefix}.affine.weight"] = take(f"{ros_prefix}.conv.modulation.weight")
        nv[f"{nv_prefix}.affine.bias"] = take(f"{ros_prefix}.conv.modulation.bias")
        nv[f"{nv_prefix}.noise_strength"] = take(f"{ros_prefix}.noise.weight").reshape([])
        nv[f"{nv_prefix}.bias"] = take(f"{ros_prefix}.activate.bias")
        nv[f"{nv_prefix}.noise_const"] = take(f"noises.noise_{noise_index}")[0, 0]
        blur = f"{ros_prefix}.conv.blur.kernel"
        nv[f"{nv_prefix}.resample_filter"] = (
            _normalised(take(blur)) if blur in ros else setup_filter([1, 3, 3, 1])
        )

    def torgb(nv_prefix: str, ros_prefix: str) -> None:
        nv[f"{nv_prefix}.weight"] = take(f"{ros_prefix}.conv.weight")[0]
        nv[f"{nv_prefix}.affine.weight"] = take(f"{ros_prefix}.conv.modulation.weight")
        nv[f"{nv_prefix}.affine.bias"] = take(f"{ros_prefix}.conv.modulation.bias")
        nv[f"{nv_prefix}.bias"] = take(f"{ros_prefix}.bias").reshape(-1)

    nv["synthesis.b4.const"] = take("input.input")[0]
    nv["synthesis.b4.resample_filter"] = setup_filter([1, 3, 3, 1])
    styled("synthesis.b4.conv1", "conv1", 0)
    torgb("synthesis.b4.torgb", "to_rgb1")
    for res, k in _block_names(log_size):
        up_kernel = f"to_rgbs.{k}.upsample.kernel"
        nv[f"synthesis.b{res}.resample_filter"] = (
            _normalised(take(up_kernel)) if up_kernel in ros else setup_filter([1, 3, 3, 1])
        )
        styled(f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1)
        styled(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2)
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")

    leftover = sorted(set(ros) - used)
    if leftover:
        raise CheckpointError(
            f"{source}: unexpected tensors for a rosinality StyleGAN2 generator: {leftover[:5]}"
        )
    return cfg, nv


def _normalised(kernel: torch.Tensor) -> torch.Tensor:
    # rosinality stores its blur kernels multiplied by up²; NVIDIA stores them normalised to sum 1.
    return kernel / kernel.sum()


def nvidia_to_rosinality(generator: StyleGAN2Generator) -> dict[str, torch.Tensor]:
    """Our StyleGAN2 generator → a rosinality ``g_ema`` state dict (skip architecture, unconditional)."""
    if generator.c_dim != 0 or generator.synthesis.b4.architecture != "skip":
        raise ValueError("rosinality's generator is unconditional with the 'skip' architecture")
    nv = generator.state_dict()
    ros: dict[str, torch.Tensor] = {}
    for i in range(generator.mapping.num_layers):
        ros[f"style.{i + 1}.weight"] = nv[f"mapping.fc{i}.weight"]
        ros[f"style.{i + 1}.bias"] = nv[f"mapping.fc{i}.bias"]

    def styled(nv_prefix: str, ros_prefix: str, noise_index: int, up: bool) -> None:
        ros[f"{ros_prefix}.conv.weight"] = nv[f"{nv_prefix}.weight"].unsqueeze(0)
        ros[f"{ros_prefix}.conv.modulation.weight"] = nv[f"{nv_prefix}.affine.weight"]
        ros[f"{ros_prefix}.conv.modulation.bias"] = nv[f"{nv_prefix}.affine.bias"]
        if up:
            ros[f"{ros_prefix}.conv.blur.kernel"] = nv[f"{nv_prefix}.resample_filter"] * 4
        ros[f"{ros_prefix}.noise.weight"] = nv[f"{nv_prefix}.noise_strength"].reshape(1)
        ros[f"{ros_prefix}.activate.bias"] = nv[f"{nv_prefix}.bias"]
        ros[f"noises.noise_{noise_index}"] = nv[f"{nv_prefix}.noise_const"][None, None]

    def torgb(nv_prefix: str, ros_prefix: str) -> None:
        ros[f"{ros_prefix}.conv.weight"] = nv[f"{nv_prefix}.weight"].unsqueeze(0)
        ros[f"{ros_prefix}.conv.modulation.weight"] = nv[f"{nv_prefix}.affine.weight"]
        ros[f"{ros_prefix}.conv.modulation.bias"] = nv[f"{nv_prefix}.affine.bias"]
        ros[f"{ros_prefix}.bias"] = nv[f"{nv_prefix}.bias"].reshape(1, -1, 1, 1)

    ros["input.input"] = nv["synthesis.b4.const"].unsqueeze(0)
    styled("synthesis.b4.conv1", "conv1", 0, up=False)
    torgb("synthesis.b4.torgb", "to_rgb1")
    for res, k in _block_names(int(np.log2(generator.resolution))):
        styled(f"synthesis.b{res}.conv0", f"convs.{2 * k}", 2 * k + 1, up=True)
        styled(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}", 2 * k + 2, up=False)
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
        ros[f"to_rgbs.{k}.upsample.kernel"] = nv[f"synthesis.b{res}.resample_filter"] * 4
    return {k: v.detach().clone() for k, v in ros.items()}


def estimate_w_avg(generator: StyleGAN2Generator, samples: int = W_AVG_SAMPLES) -> torch.Tensor:
    """Mean of ``mapping(z)`` over ``samples`` seeded z (seed 0), reproducible across runs."""
    z = torch.from_numpy(np.random.RandomState(0).randn(samples, generator.z_dim))
    with torch.no_grad():
        return generator.mapping(z.to(generator.device), None)[:, 0].mean(dim=0)


def load_rosinality(path: str | Path, device: str | torch.device = "cpu") -> StyleGAN2Generator:
    """A rosinality ``.pt`` checkpoint (its ``g_ema``, read with ``weights_only=True``) as a generator."""
    path = Path(path)
    # rosinality's train.py also pickles its argparse.Namespace; allowing that plain class runs no code.
    with torch.serialization.safe_globals([argparse.Namespace]):
        ckpt = safe_torch_load(path)
    if isinstance(ckpt, dict) and "g_ema" in ckpt:
        ros, latent_avg = ckpt["g_ema"], ckpt.get("latent_avg")
    elif isinstance(ckpt, dict) and "style.1.weight" in ckpt:
        ros, latent_avg = ckpt, None
    else:
        keys = sorted(map(str, ckpt))[:6] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: not a rosinality StyleGAN2 checkpoint (no g_ema; found {keys})")
    if not isinstance(ros, dict) or not all(isinstance(v, torch.Tensor) for v in ros.values()):
        raise CheckpointError(f"{path}: g_ema is not a state dict of tensors")
    cfg, state = rosinality_to_nvidia(ros, path)
    generator = StyleGAN2Generator.from_config(cfg)
    state["mapping.w_avg"] = torch.zeros(cfg["w_dim"])
    load_state_strict(generator, state, path)
    generator.eval().requires_grad_(False)
    if latent_avg is not None:
        latent_avg = torch.as_tensor(latent_avg, dtype=torch.float32).reshape(-1)
        if latent_avg.numel() != cfg["w_dim"]:
            raise CheckpointError(
                f"{path}: latent_avg has {latent_avg.numel()} entries, w has {cfg['w_dim']}"
            )
        generator.mapping.w_avg.copy_(latent_avg)
    else:
        generator.mapping.w_avg.copy_(estimate_w_avg(generator))
    generator.checkpoint_hash = sha256_file(path)
    return generator.to(device)
