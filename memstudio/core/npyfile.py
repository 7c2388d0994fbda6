"""Reading .npy / .npz files from elsewhere without trusting their headers.

``np.load`` allocates whatever an array header claims (a 200-byte .npy can ask for 80 GB) and decompresses
every member of an .npz it is asked for. Here a header's shape × itemsize is checked against the bytes the
file (or the zip member's recorded ``file_size``) actually holds and against a caller's limit *before*
anything is allocated; only the members a caller knows are read; object arrays never load.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from memstudio.core.errors import MemstudioError

#: Plain arrays only: booleans, integers, floats, complex numbers and fixed-width strings.
_PLAIN_KINDS = "biufcUS"


def read_npy(
    fp: BinaryIO, available: int, source: str, max_bytes: int, error: type[MemstudioError] = MemstudioError
) -> np.ndarray:
    """One array from ``fp`` (positioned at a .npy magic), holding at most ``available`` bytes in all."""
    start = fp.tell()
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise error(f"{source}: not a readable .npy array ({exc})") from exc
    if dtype.kind not in _PLAIN_KINDS or dtype.hasobject or dtype.fields is not None:
        raise error(f"{source}: holds {dtype} values; only plain numeric or string arrays are read")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    held = available - (fp.tell() - start)
    if nbytes > max_bytes:
        raise error(
            f"{source}: its header claims {nbytes} bytes (shape {shape}), over the {max_bytes}-byte limit"
        )
    if nbytes > held:
        raise error(f"{source}: its header claims {nbytes} bytes (shape {shape}) but the file holds {held}")
    if nbytes == 0:
        if count:
            raise error(f"{source}: {count} values of a zero-width type {dtype}")
        return np.empty(shape, dtype=dtype)
    data = fp.read(nbytes)
    if len(data) != nbytes:
        raise error(f"{source}: truncated ({len(data)} of {nbytes} bytes)")
    flat = np.frombuffer(data, dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def load_npy(path: str | Path, max_bytes: int, error: type[MemstudioError] = MemstudioError) -> np.ndarray:
    """The array in the .npy file ``path``, its size checked against the file before it is read."""
    path = Path(path)
    try:
        with open(path, "rb") as fp:
            return read_npy(fp, path.stat().st_size, str(path), max_bytes, error)
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc})") from exc


def load_npz(
    path: str | Path,
    wanted: Callable[[str], bool],
    max_member_bytes: int,
    max_total_bytes: int,
    error: type[MemstudioError] = MemstudioError,
) -> dict[str, np.ndarray]:
    """The arrays of the .npz ``path`` whose names ``wanted`` accepts; any other member is never opened.

    Each member's recorded uncompressed size is checked before it is decompressed, and Python's zip reader
    stops at that size, so a small archive cannot inflate into gigabytes.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                if info.is_dir() or not wanted(name) or name in arrays:
                    continue
                source = f"{path} (member {name!r})"
                if info.file_size > max_member_bytes:
                    raise error(
                        f"{source}: {info.file_size} bytes uncompressed, over the {max_member_bytes}-byte limit"
                    )
                total += info.file_size
                if total > max_total_bytes:
                    raise error(f"{path}: its arrays exceed {max_total_bytes} bytes in all")
                with archive.open(info) as member:
                    arrays[name] = read_npy(member, info.file_size, source, max_member_bytes, error)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError) as exc:
        raise error(f"{path}: not a readable .npz archive ({exc})") from exc
    return arrays
