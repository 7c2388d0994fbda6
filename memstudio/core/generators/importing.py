"""``memstudio import-model``: read a public checkpoint with the family's loader and keep it in the store.

Apart from :mod:`store` (which the loaders in :mod:`opening` use for stored models) and :mod:`opening`, so
neither of them imports the other back: the generators package stays free of import cycles.
"""

from __future__ import annotations

from pathlib import Path

from memstudio.core.checkpoints import sha256_file
from memstudio.core.generators.opening import identify_checkpoint, load_checkpoint
from memstudio.core.generators.store import ModelStoreError, StoredModel, default_name, save_model, validate_name


def import_model(path: str | Path, name: str | None = None, replace: bool = False) -> StoredModel:
    """Read a public checkpoint (NVIDIA .pkl, rosinality .pt, BigGAN folder) and store it under ``name``.

    Re-importing the same file under the same name refreshes it; a different file needs ``replace``.
    """
    source = identify_checkpoint(Path(path))
    if source.kind == "stored":
        raise ModelStoreError(f"{path}: is already a stored memstudio model")
    name = validate_name(name) if name is not None else validate_name(default_name(source.path))
    generator = load_checkpoint(source, device="cpu")
    # Loaders hash the file they read; hashing here only covers a loader that does not.
    digest = generator.checkpoint_hash or sha256_file(source.weights_file)
    return save_model(generator, name, source.weights_file.resolve(), digest, replace=replace)
