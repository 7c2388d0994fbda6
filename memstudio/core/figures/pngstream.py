"""A PNG written band by band, so a figure taller than memory allows never exists as one image.

Pillow can only save an image it holds whole; a 100-seed grid at 256 px is ~25 000 × 1 300 pixels. This
writer emits the PNG chunks itself (PNG spec §11: IHDR, pHYs, zTXt, IDAT…, IEND) and deflates scanlines as
each band arrives. Decoded pixels equal those of the same scene saved by Pillow.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from memstudio.core.atomic import AtomicFile

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IDAT_BYTES = 1 << 18  # flush compressed data in 256 KiB chunks


class PngStreamWriter:
    """Write an 8-bit RGB PNG of known size from successive row bands (``[h, width, 3]`` uint8)."""

    def __init__(
        self, path: str | Path, width: int, height: int, dpi: float, text: dict[str, str] | None = None
    ) -> None:
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.rows_written = 0
        # Written beside the target and renamed over it when complete: a cancel or a crash keeps an old figure.
        self._atomic = AtomicFile(self.path)
        self._file: BinaryIO = self._atomic.file
        self._deflate = zlib.compressobj(6)
        self._pending = bytearray()
        self._file.write(_SIGNATURE)
        self._chunk(b"IHDR", struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0))
        per_metre = int(round(dpi / 0.0254))
        self._chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))
        for key, value in (text or {}).items():
            body = key.encode("latin-1") + b"\x00\x00" + zlib.compress(value.encode("latin-1"))
            self._chunk(b"zTXt", body)

    def write_rows(self, rows: np.ndarray) -> None:
        """Append scanlines; each gets filter type 0 (None), which keeps the writer simple and exact."""
        if rows.ndim != 3 or rows.shape[1] != self.width or rows.shape[2] != 3 or rows.dtype != np.uint8:
            raise ValueError(f"expected rows [h, {self.width}, 3] uint8, got {rows.shape} {rows.dtype}")
        if self.rows_written + rows.shape[0] > self.height:
            raise ValueError(f"{self.path}: more rows than the {self.height} declared in the header")
        framed = np.zeros((rows.shape[0], 1 + 3 * self.width), dtype=np.uint8)
        framed[:, 1:] = rows.reshape(rows.shape[0], -1)
        self._pending += self._deflate.compress(framed.tobytes())
        self.rows_written += rows.shape[0]
        while len(self._pending) >= _IDAT_BYTES:
            self._chunk(b"IDAT", bytes(self._pending[:_IDAT_BYTES]))
            del self._pending[:_IDAT_BYTES]

    def close(self) -> None:
        """Finish the file; an incomplete image (cancelled export) is dropped, never left corrupt."""
        if self._file.closed:
            return
        if self.rows_written != self.height:
            self._atomic.discard()
            return
        try:
            self._pending += self._deflate.flush()
            if self._pending:
                self._chunk(b"IDAT", bytes(self._pending))
            self._chunk(b"IEND", b"")
        except BaseException:
            self._atomic.discard()
            raise
        self._atomic.commit()

    def _chunk(self, kind: bytes, data: bytes) -> None:
        self._file.write(struct.pack(">I", len(data)) + kind + data)
        self._file.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    def __enter__(self) -> PngStreamWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
