"""A private memstudio cache for one benchmark run, removed when the run ends.

The ResMem conversion alone writes 500 MB there; a run that left it behind would fill /tmp in a few dozen runs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile


def use_private_cache() -> None:
    """Point ``MEMSTUDIO_CACHE_DIR`` at a fresh folder deleted at exit, unless the caller chose one."""
    if "MEMSTUDIO_CACHE_DIR" in os.environ:
        return
    folder = tempfile.mkdtemp(prefix="memstudio-bench-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["MEMSTUDIO_CACHE_DIR"] = folder
