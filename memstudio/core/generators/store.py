"""The project's own model format: imported generators kept in the model cache, loaded by name.

An imported model is a folder ``models_dir()/NAME/`` holding ``weights.safetensors`` (the generator's
state dict, readable without running code) and ``config.json``: the family, the constructor config, and the
SHA-256 of the file it came from, so figures made with it cite the public checkpoint, not the copy.
Importing once makes every later open fast and safe; the original pickle never has to be read again.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from memstudio.core.atomic import (
    aside_targets,
    recover_directory,
    replace_directory,
    write_text_atomic,
    write_with,
)
from memstudio.core.checkpoints import models_dir
from memstudio.core.errors import CheckpointError, MemstudioError, ModelUnavailableError
from memstudio.core.generators.base import Generator
from memstudio.core.jsonfile import read_json
from memstudio.core.model_names import _NAME_RE, ModelStoreError, validate_name

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"

#: family → module that defines it. Imported only when a model of that family is loaded, so a missing
#: module affects only its own family.
FAMILIES: dict[str, str] = {
    "biggan": "memstudio.core.generators.biggan",
    "stylegan2": "memstudio.core.generators.stylegan2",
    "stylegan3": "memstudio.core.generators.stylegan3",
}

#: A stored config.json is a few KB; anything far larger is not one, and is not read into memory.
MAX_CONFIG_BYTES = 1 << 20
#: Bounds on a stored config before anything is built: no public generator comes near them, and a
#: hand-edited config.json past them would allocate gigabytes at build or render time.
MAX_RESOLUTION = 4096
MAX_CONFIG_INT = 1 << 17
MAX_CONFIG_DEPTH = 8


@dataclass(frozen=True)
class StoredModel:
    """One imported model as its ``config.json`` describes it (no weights loaded)."""

    name: str
    path: Path
    family: str
    config: dict[str, Any]
    source_file: str
    source_sha256: str
    imported_at: str
    memstudio_version: str
    summary: dict[str, Any]

    @property
    def resolution(self) -> int | None:
        return self.summary.get("resolution")

    @property
    def num_ws(self) -> int | None:
        return self.summary.get("num_ws")


def default_name(source: Path) -> str:
    """A valid name derived from the source file or folder (``stylegan2-ffhq-1024x1024.pkl`` → its stem)."""
    stem = source.name if source.is_dir() else source.stem
    cleaned = re.sub(r"[^A-Za-z0-9._+-]+", "-", stem).strip("-._+")[:100]
    return cleaned or "model"


def family_class(family: str) -> type[Generator]:
    """The generator class of ``family``, imported on first use."""
    module_name = FAMILIES.get(family)
    if module_name is None:
        raise ModelUnavailableError(f"unknown generator family {family!r}; known: {sorted(FAMILIES)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelUnavailableError(
            f"{family} generators are not available in this installation ({module_name}: {exc})"
        ) from exc
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Generator)
            and getattr(value, "family", None) == family
        ):
            return value
    raise ModelUnavailableError(f"{module_name} defines no generator of family {family!r}")


def _read_record(folder: Path) -> StoredModel:
    config_path = folder / CONFIG_FILE
    try:
        raw = read_json(config_path, MAX_CONFIG_BYTES, "stored-model config", CheckpointError)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{folder}: not a stored model ({CONFIG_FILE} is missing)") from exc
    if not isinstance(raw, dict) or "format_version" not in raw or "family" not in raw:
        raise CheckpointError(f"{config_path}: not a memstudio stored-model config")
    version = raw["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{config_path}: stored-model format {version!r} is newer than this memstudio reads "
            f"({FORMAT_VERSION}); upgrade memstudio or re-import the model"
        )
    try:
        return StoredModel(
            name=str(raw["name"]),
            path=folder,
            family=str(raw["family"]),
            config=dict(raw["config"]),
            source_file=str(raw.get("source_file", "")),
            source_sha256=str(raw["source_sha256"]),
            imported_at=str(raw.get("imported_at", "")),
            memstudio_version=str(raw.get("memstudio_version", "")),
            summary=dict(raw.get("summary", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{config_path}: incomplete stored-model config ({exc})") from exc


def is_stored_model_folder(path: Path) -> bool:
    """Whether ``path`` looks like a folder this module wrote (cheap; does not validate)."""
    config_path = path / CONFIG_FILE
    if not (path.is_dir() and config_path.is_file() and (path / WEIGHTS_FILE).is_file()):
        return False
    try:
        raw = read_json(config_path, MAX_CONFIG_BYTES, "stored-model config", CheckpointError)
    except (OSError, CheckpointError):
        return False
    return isinstance(raw, dict) and "format_version" in raw


def list_models() -> list[StoredModel]:
    """Imported models, by name; folders that are not readable stored models are left out."""
    for target in aside_targets(models_dir()):
        recover_directory(target)
    found = []
    for folder in sorted(models_dir().iterdir()):
        if folder.name.startswith(".") or not is_stored_model_folder(folder):
            continue
        try:
            found.append(_read_record(folder))
        except CheckpointError:
            continue
    return found


def model_path(name: str) -> Path:
    """Folder of the stored model ``name`` (which need not exist yet)."""
    return models_dir() / validate_name(name)


def save_model(
    generator: Generator, name: str, source_file: Path, source_sha256: str, replace: bool = False
) -> StoredModel:
    """Write ``generator`` under ``name``, via a temporary folder so a crash leaves no half model."""
    from safetensors.torch import save_file

    from memstudio import __version__

    family = getattr(generator, "family", None)
    if family not in FAMILIES:
        raise ModelStoreError(
            f"{type(generator).__name__} cannot be stored (family {family!r} is not storable)"
        )
    target = model_path(name)
    recover_directory(target)
    if target.exists():
        existing = _read_record(target) if is_stored_model_folder(target) else None
        if not replace and (existing is None or existing.source_sha256 != source_sha256):
            raise ModelStoreError(
                f"a model named {name!r} already exists in {target.parent} "
                f"(from {existing.source_file if existing else 'an unknown file'}); "
                "choose another --name or remove it first"
            )
    record = {
        "format_version": FORMAT_VERSION,
        "family": family,
        "name": name,
        "config": generator.config(),
        "source_file": str(source_file),
        "source_sha256": source_sha256,
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "memstudio_version": __version__,
        "summary": {
            "resolution": int(generator.resolution),
            "num_ws": int(generator.num_ws),
            "num_classes": int(generator.num_classes),
            "spaces": list(generator.spaces),
            "default_space": generator.default_space,
        },
    }
    # safetensors refuses tensors that share storage; private contiguous CPU copies never do.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in generator.state_dict().items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        write_with(
            staging / WEIGHTS_FILE,
            lambda tmp: save_file(tensors, str(tmp), metadata={"family": family, "name": name}),
        )
        write_text_atomic(staging / CONFIG_FILE, json.dumps(record, indent=2) + "\n")
        # The old model is renamed aside before the new one takes its name, so a crash never leaves neither.
        replace_directory(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _read_record(target)


def _resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.is_dir():
        return candidate
    text = str(name_or_path)
    if _NAME_RE.fullmatch(text):
        recover_directory(models_dir() / text)
    if _NAME_RE.fullmatch(text) and (models_dir() / text).is_dir():
        return models_dir() / text
    known = [m.name for m in list_models()]
    from memstudio.core.assessors.imported import find_imported

    if _NAME_RE.match(text) and find_imported(text) is not None:
        raise ModelUnavailableError(
            f"{text!r} is an imported assessor, not a generator: score with it (-a {text}) and pick a generator "
            f"from {known or 'the imported ones (none yet)'}"
        )
    raise ModelUnavailableError(
        f"no file or folder {text!r} and no stored model of that name in {models_dir()} "
        f"(stored: {known or 'none'}); "
        "import one with: memstudio import-model PATH"
    )


def _check_config_limits(value: Any, config_path: Path, where: str = "config", depth: int = 0) -> None:
    if depth > MAX_CONFIG_DEPTH:
        raise CheckpointError(f"{config_path}: {where} is nested deeper than any generator config")
    if isinstance(value, bool) or value is None or isinstance(value, (float, str)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_CONFIG_INT:
            raise CheckpointError(
                f"{config_path}: {where} = {value} is beyond any real generator (limit {MAX_CONFIG_INT})"
            )
        return
    if isinstance(value, list):
        if len(value) > 256:
            raise CheckpointError(f"{config_path}: {where} has {len(value)} entries; a generator config has few")
        for i, item in enumerate(value):
            _check_config_limits(item, config_path, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_config_limits(item, config_path, f"{where}.{key}", depth + 1)
        return
    raise CheckpointError(f"{config_path}: {where} has an unexpected {type(value).__name__}")


def _check_config_fits_weights(cls: type[Generator], record: StoredModel, config_path: Path, weights: Path) -> None:
    """Refuse a config that would allocate more than its weights hold, before anything real is built.

    The network is first built on PyTorch's ``meta`` device (shapes only, no memory), and every parameter
    and buffer shape is compared with the safetensors header; a hand-edited config.json (say a
    ``channel_width`` of 6000 beside 4-wide weights) fails here in milliseconds instead of allocating
    gigabytes in the constructor or at render time.
    """
    from safetensors import SafetensorError, safe_open

    _check_config_limits(record.config, config_path)
    try:
        with torch.device("meta"):
            skeleton = cls.from_config(record.config)
    except (TypeError, ValueError, KeyError, ZeroDivisionError, OverflowError, MemstudioError) as exc:
        raise CheckpointError(f"{config_path}: config does not build a {record.family} generator: {exc}") from exc
    if not 1 <= int(skeleton.resolution) <= MAX_RESOLUTION:
        raise CheckpointError(
            f"{config_path}: resolution {skeleton.resolution} is outside 1..{MAX_RESOLUTION}"
        )
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    try:
        with safe_open(str(weights), framework="pt", device="cpu") as handle:
            stored = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights}: unreadable weights (truncated or corrupted?): {exc}") from exc
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    wrong = sorted(k for k in set(expected) & set(stored) if expected[k] != stored[k])
    if missing or unexpected or wrong:
        detail = (
            f"{len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]}), "
            f"{len(wrong)} of another shape"
            + (f" (e.g. {wrong[0]}: config {expected[wrong[0]]}, file {stored[wrong[0]]})" if wrong else "")
        )
        raise CheckpointError(f"{weights}: does not match the stored {record.family} config: {detail}")


def load_model(name_or_path: str | Path, device: torch.device | str = "cpu") -> Generator:
    """Open a stored model by name (or its folder) in eval mode on ``device``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = _resolve(name_or_path)
    record = _read_record(folder)
    cls = family_class(record.family)
    weights = folder / WEIGHTS_FILE
    _check_config_fits_weights(cls, record, folder / CONFIG_FILE, weights)
    try:
        generator = cls.from_config(record.config)
    except (TypeError, ValueError, KeyError, MemstudioError) as exc:
        raise CheckpointError(
            f"{folder / CONFIG_FILE}: config does not build a {record.family} generator: {exc}"
        ) from exc
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights}: unreadable weights (truncated or corrupted?): {exc}") from exc
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{weights}: does not match the stored {record.family} config: {exc}") from exc
    generator = generator.eval().requires_grad_(False).to(device)
    generator.name = record.name
    generator.checkpoint_hash = record.source_sha256
    return generator


def remove_model(name: str) -> None:
    """Delete the stored model ``name`` (only folders this module wrote)."""
    folder = model_path(name)
    if not is_stored_model_folder(folder):
        raise ModelStoreError(f"no stored model named {name!r} in {folder.parent}")
    shutil.rmtree(folder)
