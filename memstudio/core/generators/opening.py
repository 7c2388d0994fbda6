"""Open any generator a user points at: a stored model name or folder, an NVIDIA pickle, a rosinality
checkpoint, or a pytorch-pretrained-biggan folder.

The kind is decided from the content (pickle / zip / legacy ``torch.save`` magic bytes, the files in a
folder), not from the suffix, because checkpoints travel under arbitrary names (``network-snapshot.pkl``,
``550000.pt``, ``model.bin``). Every loader reads weights without running code.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import CheckpointError, ModelUnavailableError
from memstudio.core.generators import store
from memstudio.core.generators.base import Generator
from memstudio.core.heap import long_lived

_ZIP_MAGIC = b"PK\x03\x04"
# The first pickle of a legacy (pre-1.6, non-zip) torch.save: protocol 2, then its magic number
# 119547037146038801333356 as a long.
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_BIGGAN_CONFIG = "config.json"
_BIGGAN_WEIGHTS = "pytorch_model.bin"

#: kind → (module, loader function name); imported lazily so one missing family breaks only itself.
_LOADERS: dict[str, tuple[str, str]] = {
    "nvidia-pickle": ("memstudio.core.generators.nvidia_pickle", "load_nvidia_pickle"),
    "rosinality": ("memstudio.core.generators.rosinality", "load_rosinality"),
    "biggan-folder": ("memstudio.core.generators.biggan", "load_biggan_folder"),
}


@dataclass(frozen=True)
class CheckpointSource:
    """What a path holds: ``kind`` (stored / nvidia-pickle / rosinality / biggan-folder), the path to hand to
    the loader, and the file whose SHA-256 identifies the weights."""

    kind: str
    path: Path
    weights_file: Path


def _head(path: Path, size: int = 16) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read: {exc}") from exc


def _is_biggan_folder(folder: Path) -> bool:
    config = folder / _BIGGAN_CONFIG
    if not (config.is_file() and (folder / _BIGGAN_WEIGHTS).is_file()):
        return False
    try:
        raw = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        # Still the package's layout; the loader reports the broken config precisely.
        return True
    return isinstance(raw, dict) and "format_version" not in raw


def _identify_folder(folder: Path) -> CheckpointSource:
    if store.is_stored_model_folder(folder):
        return CheckpointSource("stored", folder, folder / store.WEIGHTS_FILE)
    if _is_biggan_folder(folder):
        return CheckpointSource("biggan-folder", folder, folder / _BIGGAN_WEIGHTS)
    listing = sorted(p.name for p in folder.iterdir())[:8]
    raise CheckpointError(
        f"not a generator checkpoint: {folder}: a folder must be a stored memstudio model "
        f"(config.json + weights.safetensors) or a BigGAN folder (config.json + pytorch_model.bin); "
        f"it holds {listing or 'nothing'}"
    )


def identify_checkpoint(path: Path) -> CheckpointSource:
    """Decide what ``path`` holds from its content; :class:`CheckpointError` for anything else."""
    path = Path(path)
    if path.is_dir():
        return _identify_folder(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file or folder")
    if path.stat().st_size == 0:
        raise CheckpointError(f"not a generator checkpoint: {path}: the file is empty")
    head = _head(path)
    if path.name in (store.WEIGHTS_FILE, store.CONFIG_FILE) and store.is_stored_model_folder(path.parent):
        return CheckpointSource("stored", path.parent, path.parent / store.WEIGHTS_FILE)
    is_torch_file = head.startswith(_ZIP_MAGIC) or head.startswith(_LEGACY_TORCH_MAGIC)
    if is_torch_file:
        if path.name == _BIGGAN_WEIGHTS and _is_biggan_folder(path.parent):
            return CheckpointSource("biggan-folder", path.parent, path)
        return CheckpointSource("rosinality", path, path)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return CheckpointSource("nvidia-pickle", path, path)
    if head.startswith(_HDF5_MAGIC):
        raise CheckpointError(
            f"not a generator checkpoint: {path}: a Keras HDF5 file holds an assessor's weights (such as idealo's "
            f"NIMA), not a generator; import it with `memstudio import-model {path} --name NAME` and score with "
            "`-a NAME`"
        )
    raise CheckpointError(
        f"not a generator checkpoint: {path}: neither a pickle, a PyTorch file nor a model folder "
        f"(starts with {head[:8]!r})"
    )


def _loader(kind: str) -> Callable[[Path, torch.device | str], Generator]:
    module_name, function = _LOADERS[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelUnavailableError(
            f"{kind} checkpoints cannot be opened in this installation: {exc}"
        ) from exc
    return getattr(module, function)


def load_checkpoint(source: CheckpointSource, device: torch.device | str = "cpu") -> Generator:
    """Run the loader for ``source.kind`` (stored models go through :func:`store.load_model`)."""
    if source.kind == "stored":
        return store.load_model(source.path, device=device)
    try:
        return _loader(source.kind)(source.path, device)
    except CheckpointError as exc:
        from memstudio.core.assessors.imported import identify_assessor_file

        family = identify_assessor_file(source.path) if source.kind in ("rosinality", "nvidia-pickle") else None
        if family is None:
            raise
        raise CheckpointError(
            f"not a generator checkpoint: {source.path}: a {family} assessor state dict; import it with "
            f"`memstudio import-model {source.path} --name NAME` and score with `-a NAME`"
        ) from exc


def open_generator(path_or_name: str | Path, device: torch.device | str = "cpu") -> Generator:
    """A generator ready to render: from a stored-model name, a stored folder, or a public checkpoint.

    A checkpoint opened directly (not imported) still knows the SHA-256 of its file, so what it renders
    can be cited exactly like an imported model.
    """
    with long_lived():  # see memstudio.core.heap: loading must not set off full collections
        return _open(path_or_name, device)


def _open(path_or_name: str | Path, device: torch.device | str) -> Generator:
    path = Path(path_or_name)
    if not path.exists():
        text = str(path_or_name)
        if "/" in text or "\\" in text:
            raise CheckpointError(f"{path}: no such file or folder")
        return store.load_model(text, device=device)
    source = identify_checkpoint(path)
    generator = load_checkpoint(source, device=device)
    if source.kind != "stored":
        if not generator.checkpoint_hash:
            generator.checkpoint_hash = sha256_file(source.weights_file)
        if not generator.name or generator.name == getattr(generator, "family", None):
            # A bare family name says less than the file a user chose ("stylegan2-ffhq-1024x1024").
            generator.name = store.default_name(path)
    return generator
