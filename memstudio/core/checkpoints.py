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
import zipfile
from pathlib import Path

import platformdirs
import torch

from memstudio.core.errors import CheckpointError

_HASH_CHUNK = 1 << 22


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
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused to load: the file contains Python objects other than tensors "
            f"(it could run code when opened); details: {exc}"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, io.UnsupportedOperation) as exc:
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupted?): {exc}"
        ) from exc
