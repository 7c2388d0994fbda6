"""Small JSON files that may be hostile: too large or too deeply nested is refused with the caller's error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from memstudio.core.errors import MemstudioError
from memstudio.core.jsonfile import read_json
from memstudio.core.session.session_file import MAX_SESSION_BYTES, read_session


class Refused(MemstudioError):
    """The error a caller of read_json asks for (it must be raised, not a generic one)."""


def test_a_small_file_reads_and_a_missing_one_says_so(tmp_path: Path) -> None:
    (tmp_path / "ok.json").write_text('{"a": [1, 2]}')
    assert read_json(tmp_path / "ok.json", 100, "thing", Refused) == {"a": [1, 2]}
    with pytest.raises(FileNotFoundError):
        read_json(tmp_path / "gone.json", 100, "thing", Refused)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as fp:
        fp.truncate(8 << 30)  # sparse: 8 GiB claimed, nothing on disk
    start = time.perf_counter()
    with pytest.raises(Refused, match=r"big.json: 8589934592 bytes is too large for thing"):
        read_json(big, 1 << 20, "thing", Refused)
    assert time.perf_counter() - start < 1.0
    with pytest.raises(MemstudioError, match="too large for session file"):
        read_session(big)
    assert MAX_SESSION_BYTES < 8 << 30


@pytest.mark.parametrize("text", ["[" * 200_000 + "]" * 200_000, '{"a":' * 200_000 + "1" + "}" * 200_000, "\xff"])
def test_deep_nesting_and_bad_bytes_are_refused_not_crashed_on(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(Refused, match=r"deep.json: not a readable thing"):
        read_json(path, 10 << 20, "thing", Refused)


def test_a_device_or_fifo_posing_as_json_is_refused_without_reading_it(tmp_path: Path) -> None:
    import os

    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")  # stat() says 0 bytes; reading it never ends
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opening it would wait for a writer for ever
    start = time.perf_counter()
    for path in (zero, fifo):
        with pytest.raises(Refused, match=r"not a regular file, so not a thing"):
            read_json(path, 1 << 20, "thing", Refused)
    assert time.perf_counter() - start < 1.0
