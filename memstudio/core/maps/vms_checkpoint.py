"""VMS checkpoints: a folder with ``vms.safetensors`` (all tensors) and ``vms.json`` (everything else).

Tensors — both networks' weights and buffers and the optimizers' moment estimates — go to safetensors, so
opening a checkpoint never runs code. The JSON holds the config, the epoch reached, the loss history, the
optimizers' non-tensor state and the SHA-256 of the weights file. The JSON is written last and names the
weights' hash, so a crash between the two writes is detected instead of pairing new weights with old state.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from memstudio.core.atomic import write_text_atomic, write_with
from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import CheckpointError
from memstudio.core.jsonfile import read_json
from memstudio.core.maps.vms import UNet, VMSConfig, VMSConfigError, build_networks

FORMAT = "memstudio-vms"
VERSION = 1
WEIGHTS_NAME = "vms.safetensors"
META_NAME = "vms.json"
#: vms.json holds the config, the loss history and optimizer scalars: kilobytes for any real run.
MAX_META_BYTES = 64 << 20
#: Paper 003's widest layer has 1600 channels; a checkpoint config far beyond is not a VMS network.
MAX_CHANNELS = 2048
MAX_STAGES = 12
MAX_IMAGE_SIZE = 4096


def _flatten_optimizer(prefix: str, state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state → (tensors for safetensors, the JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, object]] = {}
    for index, entry in state_dict["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{index}.{name}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(index), {})[name] = value
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state_dict["param_groups"]
    ]
    return tensors, {"scalars": scalars, "param_groups": groups}


def _unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, object]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + ".state."):
            index, name = key[len(prefix) + 7 :].split(".", 1)
            state.setdefault(int(index), {})[name] = value
    for index, entry in meta["scalars"].items():
        state.setdefault(int(index), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    folder: str | Path,
    config: VMSConfig,
    generator: torch.nn.Module,
    discriminator: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    progress: dict[str, object],
) -> Path:
    """Write the training state to ``folder``; ``progress`` (epoch, history, …) is stored in the JSON."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        f"generator.{k}": v.detach().cpu().contiguous().clone() for k, v in generator.state_dict().items()
    }
    tensors.update(
        {
            f"discriminator.{k}": v.detach().cpu().contiguous().clone()
            for k, v in discriminator.state_dict().items()
        }
    )
    optim_meta = {}
    for name, opt in optimizers.items():
        t, m = _flatten_optimizer(f"optim_{name}", opt.state_dict())
        tensors.update(t)
        optim_meta[name] = m
    weights = folder / WEIGHTS_NAME
    write_with(weights, lambda p: save_file(tensors, str(p), metadata={"format": FORMAT}))
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": config.to_dict(),
        **progress,
        "optimizers": optim_meta,
        "weights": WEIGHTS_NAME,
        "weights_sha256": sha256_file(weights),
    }
    text = json.dumps(meta, indent=2)
    write_text_atomic(folder / META_NAME, text)
    return folder


def checkpoint_folder(path: str | Path) -> Path:
    """The checkpoint folder of ``path``: the folder itself, or the one holding the file named."""
    path = Path(path)
    return path.parent if path.name in (WEIGHTS_NAME, META_NAME) else path


def read_meta(path: str | Path) -> dict:
    """The checkpoint's JSON metadata (epoch, history, config), bounded in size and checked for its format."""
    meta_path = checkpoint_folder(path) / META_NAME
    try:
        meta = read_json(meta_path, MAX_META_BYTES, "checkpoint metadata", CheckpointError)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{meta_path.parent}: not a VMS checkpoint (expected {META_NAME} in it)") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path}: not a memstudio VMS checkpoint")
    return meta


def read_checkpoint(path: str | Path) -> tuple[VMSConfig, dict, dict[str, torch.Tensor]]:
    """(config, JSON metadata, tensors) of the checkpoint folder ``path`` (or a file inside it)."""
    folder = checkpoint_folder(path)
    meta_path, weights_path = folder / META_NAME, folder / WEIGHTS_NAME
    if not meta_path.is_file() or not weights_path.is_file():
        raise CheckpointError(
            f"{folder}: not a VMS checkpoint (expected {META_NAME} and {WEIGHTS_NAME} in it)"
        )
    meta = read_meta(folder)
    if not isinstance(meta.get("version", 0), int) or meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{meta_path}: made by a newer memstudio (format version {meta['version']})")
    if sha256_file(weights_path) != meta.get("weights_sha256"):
        raise CheckpointError(f"{weights_path}: does not match {META_NAME} (interrupted save or mixed files)")
    try:
        config = VMSConfig.from_dict(meta["config"])
    except (VMSConfigError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{meta_path}: bad config: {exc}") from exc
    _check_fits(config, meta_path, weights_path)
    try:
        tensors = load_file(weights_path)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights_path}: unreadable safetensors file ({exc})") from exc
    return config, meta, tensors


def _check_fits(config: VMSConfig, meta_path: Path, weights_path: Path) -> None:
    """Refuse a config beyond any VMS network or unlike its weights, before a real network is built.

    The networks are built on PyTorch's ``meta`` device (shapes only) and their state-dict shapes compared
    with the safetensors header: a vms.json claiming 4096 channels beside small weights fails in
    milliseconds instead of building gigabytes of layers.
    """
    channels = (*config.encoder_channels, *config.decoder_channels, *config.discriminator_channels)
    stages = max(len(config.encoder_channels), len(config.discriminator_channels))
    if max(channels) > MAX_CHANNELS or stages > MAX_STAGES or not 1 <= config.image_size <= MAX_IMAGE_SIZE:
        raise CheckpointError(
            f"{meta_path}: config beyond any VMS network (at most {MAX_CHANNELS} channels, {MAX_STAGES} stages, "
            f"{MAX_IMAGE_SIZE} px; found {max(channels)} channels, {stages} stages, {config.image_size} px)"
        )
    with torch.device("meta"):
        generator, discriminator = build_networks(config)
    expected = {f"generator.{k}": tuple(v.shape) for k, v in generator.state_dict().items()}
    expected.update({f"discriminator.{k}": tuple(v.shape) for k, v in discriminator.state_dict().items()})
    try:
        with safe_open(str(weights_path), framework="pt", device="cpu") as handle:
            stored = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights_path}: unreadable safetensors file ({exc})") from exc
    wrong = sorted(k for k in expected if stored.get(k) != expected[k])
    if wrong:
        raise CheckpointError(
            f"{weights_path}: does not fit the config in {META_NAME}: {len(wrong)} tensors missing or of "
            f"another shape (e.g. {wrong[0]}: config {expected[wrong[0]]}, file {stored.get(wrong[0])})"
        )


def restore(
    path: str | Path,
    generator: torch.nn.Module,
    discriminator: torch.nn.Module | None = None,
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    tensors: dict[str, torch.Tensor] | None = None,
    meta: dict | None = None,
) -> None:
    """Load a checkpoint's state into networks (and optimizers) built from its config."""
    if tensors is None or meta is None:
        _, meta, tensors = read_checkpoint(path)
    parts = [("generator", generator)] + ([("discriminator", discriminator)] if discriminator else [])
    for prefix, module in parts:
        sub = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        try:
            module.load_state_dict(sub, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{checkpoint_folder(path)}: {prefix} weights do not fit its config ({exc})") from exc
    for name, opt in (optimizers or {}).items():
        try:
            opt.load_state_dict(_unflatten_optimizer(f"optim_{name}", tensors, meta["optimizers"][name]))
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{checkpoint_folder(path)}: optimizer state {name!r} unusable ({exc})") from exc


_cache: dict[tuple[str, float, str], tuple[UNet, VMSConfig]] = {}
_cache_lock = threading.Lock()


def load_generator(path: str | Path, device: torch.device | str = "cpu") -> tuple[UNet, VMSConfig]:
    """The trained U-Net of a checkpoint, in eval mode on ``device``; cached until the file changes."""
    folder = checkpoint_folder(path)
    stamp = (folder / WEIGHTS_NAME).stat().st_mtime if (folder / WEIGHTS_NAME).is_file() else 0.0
    key = (str(folder.resolve()), stamp, str(torch.device(device)))
    with _cache_lock:
        if key not in _cache:
            config, meta, tensors = read_checkpoint(folder)
            generator, _ = build_networks(config)
            restore(folder, generator, tensors=tensors, meta=meta)
            _cache.clear()  # one checkpoint in use at a time; do not hoard old models
            _cache[key] = (generator.to(device).eval(), config)
        return _cache[key]


def predict_vms(
    image: torch.Tensor, checkpoint: str | Path, device: torch.device | str | None = None
) -> np.ndarray:
    """The VMS map the checkpoint predicts for ``image`` ``[1, 3, H, W]``: ``[H, W]`` float32 in [0, 1]
    (unnormalised; channels averaged for RGB maps). The image is resized to the training size and the map
    back, because the network learnt at that scale."""
    device = torch.device(device) if device is not None else image.device
    generator, config = load_generator(checkpoint, device)
    height, width = int(image.shape[2]), int(image.shape[3])
    size = config.image_size
    with torch.inference_mode():
        x = image.detach().float().to(device)
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
        pred = generator(x).mean(dim=1, keepdim=True)
        pred = torch.nn.functional.interpolate(
            pred, size=(height, width), mode="bilinear", align_corners=False
        )
    return pred[0, 0].clamp(0, 1).float().cpu().numpy()
