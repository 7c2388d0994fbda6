"""The resumable output of ``memstudio score -o``: one JSON line per path, appended as results arrive.

Lines are written whole and flushed one by one, in input order, so after a crash the file holds a prefix of
the results; starting the same command again reads which paths are done and scores only the rest. A last
line cut short by the crash (no newline) is dropped before appending, so no half record ever stays.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

from memstudio.core.errors import MemstudioError


def read_done(path: Path) -> set[str]:
    """Paths already recorded in ``path`` (none when it does not exist); a torn last line is cut off."""
    path = Path(path)
    if not path.exists():
        return set()
    if not path.is_file():
        raise MemstudioError(f"{path}: the score output is not a file")
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    if len(whole) != len(data):
        # The process died while writing this line: cut it off, so the next append starts on a fresh line.
        os.truncate(path, len(whole))
    done: set[str] = set()
    for number, line in enumerate(whole.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MemstudioError(
                f"{path}: line {number} is not JSON ({exc.msg}); this is not a memstudio score output "
                "(choose another -o file)"
            ) from exc
        if not isinstance(record, dict) or not isinstance(record.get("path"), str):
            raise MemstudioError(f"{path}: line {number} has no \"path\"; not a memstudio score output")
        done.add(record["path"])
    return done


class ScoreLog:
    """Appends records to the output; ``close`` makes them durable (fsync)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, object]) -> None:
        # One write call per whole line, flushed at once: a crash loses at most the line being written.
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
