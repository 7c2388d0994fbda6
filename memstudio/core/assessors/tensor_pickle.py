"""Plain pickles of tensor dicts — how GANalyze published MemNet (``memnet_state_dict.p``) — read without code.

``pickle.dump(state_dict, f)`` (not ``torch.save``) stores each tensor as a call of
``torch._utils._rebuild_tensor_v2`` on a storage that ``torch.storage._load_from_bytes`` rebuilds from a
``torch.save`` blob; Python 2 pickles carry that blob as a latin-1 ``str``, protocol-2 pickles of Python 3 as
``_codecs.encode(text, "latin1")``. This unpickler allows those four callables and ``OrderedDict`` only, and
rebuilds the storages with ``torch.load(weights_only=True)``; any other global is refused before it runs.
"""

from __future__ import annotations

import codecs
import io
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from memstudio.core.errors import CheckpointError


def _encode(text: Any, encoding: str = "utf-8") -> bytes:
    if not isinstance(text, str) or codecs.lookup(encoding).name not in ("latin-1", "iso8859-1", "utf-8"):
        raise pickle.UnpicklingError("an unexpected _codecs.encode call")
    return codecs.encode(text, encoding)


def _load_storage(blob: Any) -> Any:
    if isinstance(blob, str):  # a Python 2 pickle read with encoding="latin1"
        blob = blob.encode("latin1")
    if not isinstance(blob, (bytes, bytearray)):
        raise pickle.UnpicklingError("a tensor storage that is not a bytes blob")
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("_codecs", "encode"): _encode,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refused global {module}.{name} (not part of a tensor dict)")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids do not occur in plain tensor pickles")


#: torch.save's formats: a zip archive, or (before PyTorch 1.6) pickles that begin with this magic number.
_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def _head(path: Path, size: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def is_torch_file(path: Path) -> bool:
    """Whether ``path`` was written by ``torch.save`` (zip or legacy format)."""
    head = _head(path, len(_LEGACY_TORCH_MAGIC))
    return head.startswith(_ZIP_MAGIC) or head.startswith(_LEGACY_TORCH_MAGIC)


def is_plain_pickle(path: Path) -> bool:
    """Whether ``path`` starts like a pickle of protocol 2–5 (NVIDIA network pickles and legacy torch.save
    files do too)."""
    head = _head(path, 2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def read_tensor_pickle(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensor dict in a plain pickle; :class:`CheckpointError` for anything else or a damaged file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _Unpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"{path}: not a readable pickle of tensors (truncated, corrupted or another kind): {exc}"
        ) from exc
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read: {exc}") from exc
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: a pickle, but not a dict of tensors")
    return {str(k): v for k, v in obj.items()}
