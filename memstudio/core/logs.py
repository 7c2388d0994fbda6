"""memstudio's log: Python ``logging`` to a rotating file in the platform's log folder.

The studio and the engine log failures with their tracebacks, so a problem the user saw for a moment in the
message bar can still be read (and attached to a bug report) later. ``MEMSTUDIO_LOG_DIR`` moves the folder
(the test suite points it at a temporary one, so tests never write into the user's home).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

#: Environment variable that overrides the log folder.
LOG_DIR_ENV = "MEMSTUDIO_LOG_DIR"
LOG_NAME = "memstudio.log"
#: Rotate at 1 MB and keep three old files: weeks of normal use, bounded disk.
MAX_BYTES = 1_000_000
BACKUPS = 3

_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def log_dir() -> Path:
    """The folder of the log: ``$MEMSTUDIO_LOG_DIR``, else the platform's user log folder."""
    override = os.environ.get(LOG_DIR_ENV, "").strip()
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir("memstudio", appauthor=False))


def log_path() -> Path:
    return log_dir() / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Send the ``memstudio`` loggers to the rotating file (once per folder); returns the file's path."""
    path = log_path()
    logger = logging.getLogger("memstudio")
    logger.setLevel(level)
    for handler in logger.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == path:
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    return path
