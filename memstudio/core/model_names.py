"""Names of stored models and imported assessors: one folder name each, never a path.

Kept out of the generator store so that the assessor importer can check a name without importing it
(the store itself looks up imported assessors): the model packages stay free of import cycles.
"""

from __future__ import annotations

import re

from memstudio.core.errors import MemstudioError

# Matched with ``fullmatch``: a ``$`` anchor would also accept a trailing newline ('nl\n').
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


class ModelStoreError(MemstudioError):
    """A stored-model operation cannot be done as asked (bad name, name taken, no such model)."""


def validate_name(name: str) -> str:
    """A model name is one folder name: letters, digits, ``._+-``; never a path."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or name in {".", ".."}:
        raise ModelStoreError(
            f"invalid model name {name!r}: use 1-100 letters, digits, '.', '_', '+' or '-', "
            "starting with a letter or digit (no path separators)"
        )
    return name
