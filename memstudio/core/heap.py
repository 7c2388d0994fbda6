"""Keeping Python's cyclic garbage collector from freezing the window.

A full collection walks every tracked object while holding the GIL, so every thread waits, the GUI's too.
With PyTorch, torchvision and Qt loaded that is ~400,000 objects and 220–250 ms per collection on a laptop
CPU; the heap growth of importing torchvision and loading ResMem set off five such collections (60–234 ms
each) in one studio start, and one landing in a slider drag is a visible stall. Imports and loaded models live
as long as the process, so they are made with the collector paused and then moved to the permanent
generation (``gc.freeze``), which later collections skip.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
from collections.abc import Iterator

# At exit the interpreter's last collection must see everything again, or extension types that count on it
# (nanobind's, in Triton) report leaks.
atexit.register(gc.unfreeze)


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Allocate what lives as long as the process (modules, models) without collector pauses."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
