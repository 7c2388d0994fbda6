"""Atomic writes: every file memstudio writes appears whole or not at all, even if the process dies mid-write.

The one recipe, used by figures, sidecars, directions, latents, maps, the model store and experiment files:
write a temporary file in the target's own folder (so the rename stays on one file system), ``fsync`` it,
give it the permissions a plain ``open()`` would (``0o666 & ~umask``, not ``mkstemp``'s 0600), then
``os.replace`` it over the target and ``fsync`` the folder so the rename itself survives a power cut.
A kill at any point leaves the old file (or none) and at worst a hidden ``.NAME.*.tmp`` beside it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from memstudio.core.errors import MemstudioError


def _read_umask() -> int:
    # The only portable way to read the umask is to set it. Done once, at import (the figure, direction and
    # store modules import this one, so normally before any worker thread); the probe value is the common
    # 0o022, so a file another thread creates in that instant still gets ordinary permissions.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
_FILE_MODE = 0o666 & ~_UMASK
_DIR_MODE = 0o777 & ~_UMASK


class OverwriteInputError(MemstudioError):
    """A write would replace one of the files the same command reads."""


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on a folder; the data is synced
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a library to write to; it replaces ``path`` on success.

    For writers that want a file name (``safetensors.save_file``, ``savefig``, ``Image.save``). Any exception
    in the block removes the temporary file and leaves ``path`` as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


class AtomicFile:
    """A binary file that replaces ``path`` only on :meth:`commit`, for writers that stream (band by band).

    :meth:`discard` (or a crash) leaves ``path`` untouched.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        self.tmp = Path(name)
        self.file = os.fdopen(fd, "wb")

    def commit(self) -> Path:
        """Sync the data and move it over ``path``."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.chmod(self.tmp, _FILE_MODE)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        fsync_dir(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Drop what was written; ``path`` keeps its old content (or stays absent)."""
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


def write_with(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result over ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        write(tmp)
    return path


def save_image_atomic(image: Any, path: str | Path, **params: Any) -> Path:
    """Save a Pillow image atomically, in the format its suffix names (the temporary name has none)."""
    from PIL import Image

    path = Path(path)
    fmt = params.pop("format", None) or Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise MemstudioError(f"{path}: unknown image format {path.suffix or '(no suffix)'!r}; use .png or .jpg")
    return write_with(path, lambda tmp: image.save(tmp, format=fmt, **params))


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def _same_file(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def refuse_inputs(targets: Iterable[str | Path], inputs: Iterable[str | Path | None]) -> None:
    """Raise :class:`OverwriteInputError` if any of ``targets`` is (or links to) one of ``inputs``.

    Checked before anything is computed, so a command that would clobber its own input stops at once.
    """
    readable = [Path(p) for p in inputs if p is not None]
    for target in targets:
        target = Path(target)
        for source in readable:
            if _same_file(target, source):
                raise OverwriteInputError(
                    f"{target}: refusing to write over an input of this command ({source}); choose another output"
                )


@contextlib.contextmanager
def atomic_directory(path: str | Path, error: type[MemstudioError] = MemstudioError) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``path`` only if the block finishes without an exception.

    ``path`` must not exist or be an empty folder, so an earlier result is never overwritten (``error`` is
    raised otherwise).
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise error(f"{path}: already exists and is not an empty folder; choose a new output folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, _DIR_MODE)
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(path.parent)


_ASIDE = ".old."


def recover_directory(target: Path) -> None:
    """Finish or undo a :func:`replace_directory` that a crash interrupted.

    If the crash came after the old folder was renamed aside but before the new one took its place, the old
    one is put back; if it came after the swap, the leftover old copy is deleted.
    """
    for aside in sorted(target.parent.glob(f".{glob.escape(target.name)}{_ASIDE}*.tmp")):
        if not aside.is_dir():
            continue
        if target.exists():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(aside, target)


def aside_targets(folder: Path) -> list[Path]:
    """Targets in ``folder`` that have an interrupted :func:`replace_directory` to recover."""
    found = []
    for aside in folder.glob(f".*{_ASIDE}*.tmp"):
        name = aside.name[1 : aside.name.rindex(_ASIDE)]
        found.append(folder / name)
    return sorted(set(found))


def replace_directory(staging: Path, target: Path) -> None:
    """Move the finished folder ``staging`` to ``target``, replacing any old ``target`` crash-safely.

    The old folder is renamed aside first, then ``staging`` takes its name, then the old copy is deleted:
    a crash at any step leaves either the old or the new folder under ``target`` (plus a hidden leftover),
    never neither.
    """
    os.chmod(staging, _DIR_MODE)
    recover_directory(target)
    if not target.exists():
        os.replace(staging, target)
        fsync_dir(target.parent)
        return
    aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}{_ASIDE}", suffix=".tmp"))
    os.rmdir(aside)  # only its unique name is wanted; rename needs the destination free
    os.replace(target, aside)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(aside, target)
        raise
    fsync_dir(target.parent)
    shutil.rmtree(aside, ignore_errors=True)
