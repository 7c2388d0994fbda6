"""Read files out of a Qt binary resource bundle (``.rcc``), the form GCompris ships its activities' photos in.

GCompris (Debian's gcompris-qt-data) packs each activity's pictures and their per-folder ``README`` licence lists
into one ``rcc --binary`` file; reading it needs no Qt, only the documented layout: a ``qres`` header, a tree of
fixed-size entries, a names table (UTF-16) and a data table whose entries are raw or zlib-compressed
(``qCompress``: a 4-byte big-endian length, then a zlib stream).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from memstudio.core.errors import MemstudioError

_DIRECTORY = 0x02
_COMPRESSED = 0x01
_COMPRESSED_ZSTD = 0x04


class ResourceBundle:
    """The files of one ``.rcc`` bundle by resource path (``/gcompris/src/...``), read on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._data = self.path.read_bytes()
        except OSError as exc:
            raise MemstudioError(f"{self.path}: cannot read the Qt resource bundle ({exc.strerror})") from exc
        if self._data[:4] != b"qres" or len(self._data) < 20:
            raise MemstudioError(f"{self.path}: not a Qt binary resource bundle (no 'qres' header)")
        version, self._tree, self._payload, self._names = struct.unpack(">4I", self._data[4:20])
        if version not in (1, 2, 3):
            raise MemstudioError(f"{self.path}: Qt resource format version {version} is not supported (1 to 3)")
        self._entry_size = 14 if version == 1 else 22  # version 2 added an 8-byte modification time
        self._files: dict[str, tuple[int, int]] = {}
        try:
            self._walk(0, "", depth=0)
        except (struct.error, UnicodeDecodeError) as exc:
            raise MemstudioError(f"{self.path}: the Qt resource bundle is truncated or corrupt ({exc})") from exc

    def _unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        end = offset + struct.calcsize(fmt)
        if end > len(self._data):
            raise struct.error(f"offset {offset} is past the end of the file")
        return struct.unpack(fmt, self._data[offset:end])

    def _name(self, offset: int) -> str:
        (length,) = self._unpack(">H", self._names + offset)
        start = self._names + offset + 6  # after the length and the name's 4-byte hash
        if start + 2 * length > len(self._data):
            raise struct.error(f"name at {offset} is past the end of the file")
        return self._data[start : start + 2 * length].decode("utf-16-be")

    def _walk(self, index: int, prefix: str, depth: int) -> None:
        if depth > 64:
            raise struct.error("the directory tree is deeper than 64 levels (a loop?)")
        entry = self._tree + index * self._entry_size
        name_offset, flags = self._unpack(">IH", entry)
        name = self._name(name_offset) if index else ""
        if flags & _DIRECTORY:
            count, first = self._unpack(">II", entry + 6)
            for child in range(first, first + count):
                self._walk(child, f"{prefix}{name}/" if index else "/", depth + 1)
        else:
            (data_offset,) = self._unpack(">I", entry + 10)
            self._files[prefix + name] = (flags, self._payload + data_offset)

    def names(self) -> list[str]:
        """Every file's resource path, sorted."""
        return sorted(self._files)

    def read(self, name: str) -> bytes:
        """The file's bytes, decompressed; a missing name or an unsupported compression is an error."""
        if name not in self._files:
            raise MemstudioError(f"{self.path}: no resource {name!r} in the bundle")
        flags, offset = self._files[name]
        try:
            (size,) = self._unpack(">I", offset)
        except struct.error as exc:
            raise MemstudioError(f"{self.path}: resource {name!r} is truncated ({exc})") from exc
        raw = self._data[offset + 4 : offset + 4 + size]
        if len(raw) != size:
            raise MemstudioError(f"{self.path}: resource {name!r} is truncated ({len(raw)} of {size} bytes)")
        if flags & _COMPRESSED_ZSTD:
            raise MemstudioError(f"{self.path}: resource {name!r} is zstd-compressed, which is not supported")
        if flags & _COMPRESSED:
            try:
                return zlib.decompress(raw[4:])
            except zlib.error as exc:
                raise MemstudioError(f"{self.path}: resource {name!r} does not decompress ({exc})") from exc
        return raw
