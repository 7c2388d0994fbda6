"""Loading weights without running code, hashing them, and the per-user model cache.

Three rules: weights come from safetensors or ``torch.load(weights_only=True)`` (NVIDIA pickles go through
their own restricted unpickler); every loaded model knows the SHA-256 of its file so figures can cite it;
the cache lives under platformdirs so it survives upgrades and can be redirected in tests
(``MEMSTUDIO_CACHE_DIR``).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import zipfile
from pathlib import Path

import platformdirs
import torch

from memstudio.core.errors import CheckpointError

_HASH_CHUNK = 1 << 22
#: The members ``torch.save`` writes under its one top folder (storages are ``data/<key>``).
_TORCH_MEMBER = re.compile(
    r"[^/]+/(data\.pkl|version|byteorder|\.format_version|\.storage_alignment|\.data/version"
    r"|\.data/serialization_id|data/\d+)"
)


def cache_dir() -> Path:
    """Root of memstudio's per-user cache (converted weights, imported models)."""
    override = os.environ.get("MEMSTUDIO_CACHE_DIR")
    root = Path(override) if override else Path(platformdirs.user_cache_dir("memstudio", appauthor=False))
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    """Where ``memstudio import-model`` writes models in the project's own format."""
    path = cache_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, streamed so multi-GB checkpoints do not sit in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def safe_torch_load(path: str | Path) -> object:
    """``torch.load`` with ``weights_only=True`` and errors that name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"  # the test torch.load itself uses to pick its zip reader
    if is_zip:
        check_torch_archive(path, size)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused to load: the file contains Python objects other than tensors "
            f"(it could run code when opened); details: {exc}"
        ) from exc
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        io.UnsupportedOperation,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        MemoryError,
        RecursionError,
        UnicodeDecodeError,
    ) as exc:
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupted?): {exc}"
        ) from exc


def check_torch_archive(path: Path, size: int) -> None:
    """Refuse a zip-format ``.pt`` whose members are not torch's or would unpack to more than the file holds.

    ``torch.save`` stores every member uncompressed, so the members of a genuine file add up to less than
    its size on disk; torch allocates each storage before it inflates the member, so a 3 MB deflated member
    claiming gigabytes (a zip bomb) must be refused from the central directory, before anything is read.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (a damaged zip archive): {exc}") from None
    roots = {m.filename.split("/", 1)[0] for m in members}
    unknown = [m.filename for m in members if not _TORCH_MEMBER.fullmatch(m.filename)]
    if len(roots) != 1 or unknown:
        example = (unknown or sorted(roots))[0][:120]
        raise CheckpointError(f"{path}: refused to load: the archive holds members torch does not write ({example!r})")
    unpacked = sum(m.file_size for m in members)
    if unpacked > size:
        raise CheckpointError(
            f"{path}: refused to load: its members would unpack to {unpacked:,} bytes, more than the file's "
            f"{size:,} (torch stores them uncompressed; this looks like a zip bomb)"
        )
