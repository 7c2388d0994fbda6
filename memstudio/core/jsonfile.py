"""Reading a small JSON file that may be hostile: bounded in size, and deep nesting refused, not crashed on.

memstudio's own JSON files (sidecars, stored-model configs, session files) are a few KB; a file claiming to be
one but hundreds of MB large, or nested deeply enough to exhaust the parser's recursion, is refused with the
caller's error before it costs memory or time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: Path, max_bytes: int, what: str, error: type[Exception]) -> Any:
    """The JSON value in ``path``; ``error`` (naming the file and ``what`` it should be) when it is too large,
    not a regular file, unreadable, not UTF-8, not JSON or nested too deeply. A missing file raises
    ``FileNotFoundError``.

    The size is checked before reading and the read itself is bounded: a FIFO, a device (a link to
    ``/dev/zero``) or a file growing meanwhile reports a small size but could be read for ever.
    """
    try:
        if not path.is_file():
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such file")
            raise error(f"{path}: not a regular file, so not a {what}")
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{path}: {size} bytes is too large for {what} (at most {max_bytes})")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise error(f"{path}: more than {max_bytes} bytes is too large for {what}")
        return json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise error(f"{path}: not a readable {what} (unreadable JSON: {exc})") from exc
