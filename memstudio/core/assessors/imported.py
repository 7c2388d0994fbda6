"""Assessors whose weights the user imports (NIMA, MemNet, EmoNet): recognised, converted, stored, loaded by name.

``memstudio import-model FILE --name NAME`` reads a published file once — idealo's Keras HDF5 for NIMA, a
PyTorch state dict for MemNet or EmoNet — checks every layer and shape, and writes ``assessors_dir()/NAME/``
with ``weights.safetensors`` (tensors only, no code) and ``config.json`` (family, config, the source file and
its SHA-256, so scores cite the public file). The folder appears whole or not at all. These folders live beside
the generator store (``models/``), not in it, so generator lists never show an assessor.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.assessors.tensor_pickle import is_plain_pickle, is_torch_file, read_tensor_pickle
from memstudio.core.checkpoints import cache_dir, check_torch_archive, safe_torch_load, sha256_file
from memstudio.core.errors import CheckpointError, MemstudioError, ModelUnavailableError

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
KIND = "assessor"

#: family → module with FAMILY, LICENCE, SOURCE_URL, read_source(path, **options) and build(state, config, hash).
FAMILIES: dict[str, str] = {
    "nima": "memstudio.core.assessors.nima",
    "memnet": "memstudio.core.assessors.memnet",
    "emonet": "memstudio.core.assessors.emonet",
}


@dataclass(frozen=True)
class ImportedAssessor:
    """One stored assessor as its ``config.json`` describes it."""

    name: str
    family: str
    path: Path
    config: dict[str, Any]
    source_file: str
    source_sha256: str
    imported_at: str


def assessors_dir() -> Path:
    """Where imported assessors are kept (under memstudio's cache, next to ``models/``)."""
    path = cache_dir() / "assessors"
    path.mkdir(parents=True, exist_ok=True)
    return path


def family_module(family: str) -> ModuleType:
    if family not in FAMILIES:
        raise ModelUnavailableError(f"unknown assessor family {family!r}; known: {sorted(FAMILIES)}")
    return importlib.import_module(FAMILIES[family])


def _peek_torch(path: Path) -> Any:
    """The object in a PyTorch file, or None when it is no plain tensor file (generators go their own way).

    Zip checkpoints are memory-mapped, so peeking at a large generator file costs almost nothing.
    """
    try:
        if zipfile.is_zipfile(path):
            check_torch_archive(path, path.stat().st_size)  # a zip bomb is refused before torch maps it
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return safe_torch_load(path)
    except (CheckpointError, pickle.UnpicklingError, RuntimeError, OSError, ValueError, EOFError):
        return None  # e.g. a rosinality checkpoint, which also pickles its argparse options


def identify_assessor_file(path: str | Path) -> str | None:
    """The assessor family a file holds (``nima`` for any Keras HDF5; MemNet / EmoNet state dicts, saved with
    torch.save or as a plain tensor pickle, by their layers), or None when it is not an assessor file (then it
    may be a generator)."""
    from memstudio.core.assessors import emonet, memnet, nima
    from memstudio.core.assessors.keras_hdf5 import is_hdf5

    path = Path(path)
    if not path.is_file():
        return None
    if is_hdf5(path):
        return nima.FAMILY
    if is_torch_file(path):
        obj = _peek_torch(path)
    elif is_plain_pickle(path):
        # GANalyze's memnet_state_dict.p; an NVIDIA network pickle is refused at its first class, cheaply.
        try:
            obj = read_tensor_pickle(path)
        except CheckpointError:
            return None
    else:
        return None
    if obj is None:
        return None
    for module in (memnet, emonet):
        if module.matches(obj):
            return module.FAMILY
    return None


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def import_assessor(
    path: str | Path, name: str | None = None, replace: bool = False, **options: Any
) -> ImportedAssessor:
    """Convert a published assessor file and store it as ``name`` (default: the family name).

    Options go to the family's reader (MemNet's ``mean``: its mean-image file). Re-importing the same file
    under the same name refreshes it; another file under a taken name needs ``replace``.
    """
    from safetensors.torch import save_file

    from memstudio import __version__
    from memstudio.core.model_names import validate_name

    source = Path(path)
    family = identify_assessor_file(source)
    if family is None:
        raise CheckpointError(f"{source}: not an assessor file (NIMA Keras HDF5, MemNet or EmoNet state dict)")
    module = family_module(family)
    name = validate_name(name or family)
    digest = sha256_file(source)
    state, config = module.read_source(source, **options)
    module.build(state, config, digest)  # proves the stored tensors make the network before anything is written
    root = assessors_dir()
    target = root / name
    if target.exists():
        existing = _read(target) if (target / CONFIG_FILE).is_file() else None
        if not replace and (existing is None or existing.source_sha256 != digest):
            raise MemstudioError(
                f"an assessor named {name!r} already exists in {root} "
                f"(from {existing.source_file if existing else 'an unknown file'}); "
                "choose another --name or pass --replace"
            )
    record = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "family": family,
        "name": name,
        "config": config,
        "source_file": str(source.resolve()),
        "source_sha256": digest,
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "memstudio_version": __version__,
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"family": family, "name": name})
        (staging / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        for file in (WEIGHTS_FILE, CONFIG_FILE):
            _fsync_file(staging / file)
        retired = None
        if target.exists():
            # Moved aside rather than deleted first, so a crash here leaves the old assessor recoverable.
            retired = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=root))
            os.replace(target, retired / name)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    return _read(target)


def _read(folder: Path) -> ImportedAssessor:
    config_path = folder / CONFIG_FILE
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
        if raw.get("kind") != KIND or int(raw["format_version"]) > FORMAT_VERSION:
            raise CheckpointError(f"{config_path}: not a stored assessor this memstudio reads")
        return ImportedAssessor(
            name=str(raw["name"]),
            family=str(raw["family"]),
            path=folder,
            config=dict(raw["config"]),
            source_file=str(raw.get("source_file", "")),
            source_sha256=str(raw["source_sha256"]),
            imported_at=str(raw.get("imported_at", "")),
        )
    except CheckpointError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{config_path}: unreadable stored-assessor config: {exc}") from exc


def list_imported() -> list[ImportedAssessor]:
    """Imported assessors by name; folders that are not readable stored assessors are left out."""
    found = []
    for folder in sorted(assessors_dir().iterdir()):
        if folder.name.startswith(".") or not (folder / CONFIG_FILE).is_file():
            continue
        try:
            found.append(_read(folder))
        except CheckpointError:
            continue
    return found


def find_imported(name: str, family: str | None = None) -> ImportedAssessor | None:
    """The stored assessor called ``name`` (of ``family`` if given); for a family name without such a folder,
    the latest import of that family."""
    stored = [r for r in list_imported() if family is None or r.family == family]
    for record in stored:
        if record.name == name:
            return record
    of_family = [r for r in stored if r.family == name]
    return max(of_family, key=lambda r: r.imported_at) if of_family else None


def load_imported(record: ImportedAssessor, device: torch.device | str = "cpu") -> Assessor:
    """Build a stored assessor on ``device`` (weights read as safetensors: no code runs)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights = record.path / WEIGHTS_FILE
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights}: unreadable weights (truncated or corrupted?): {exc}") from exc
    try:
        assessor = family_module(record.family).build(state, record.config, record.source_sha256)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"{weights}: does not make a {record.family} assessor: {exc}") from exc
    assessor.name = record.name
    return assessor.to(device).eval()
