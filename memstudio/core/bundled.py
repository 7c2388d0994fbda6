"""Files shipped inside a frozen (PyInstaller) studio, so the bundle runs without the pip packages' data.

A pip install finds ResMem's weights in the ``resmem`` package; the bundle carries them instead as the
safetensors copy memstudio already makes (the 528 MB pickle is not bundled twice), beside a record of the
original file's SHA-256 so every score and figure names the same checkpoint hash as a pip install does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from memstudio.core.errors import ModelUnavailableError

RESMEM_WEIGHTS = "weights/resmem.safetensors"
RESMEM_RECORD = "weights/resmem.json"


def frozen_root() -> Path | None:
    """The bundle's data folder when running frozen, else None (a pip install or a checkout)."""
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        return Path(sys._MEIPASS)
    return None


def bundled_resmem() -> tuple[Path, str] | None:
    """``(safetensors path, sha256 of the original model.pt)`` inside a bundle, else None."""
    root = frozen_root()
    if root is None or not (root / RESMEM_WEIGHTS).is_file():
        return None
    record = root / RESMEM_RECORD
    try:
        digest = json.loads(record.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(f"{record}: the bundle's ResMem record is unreadable ({exc})") from exc
    if not (isinstance(digest, str) and len(digest) == 64):
        raise ModelUnavailableError(f"{record}: the bundle's ResMem record has no SHA-256")
    return root / RESMEM_WEIGHTS, digest
