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
    unreadable, not UTF-8, not JSON or nested too deeply. A missing file raises ``FileNotFoundError``."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{path}: {size} bytes is too large for {what} (at most {max_bytes})")
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise error(f"{path}: not a readable {what} (unreadable JSON: {exc})") from exc
