"""Qt objects a test leaves running: every QThread and QTimer started since :func:`track` was called.

``QApplication.findChildren(QThread)`` sees only threads parented to the application, which almost none are;
a parentless thread (the usual case) or a timer on a closed window is invisible to it. Wrapping ``start``
records every QThread and QTimer that was started, weakly, so :func:`running` can see each one that is still
going however it was parented, and objects that are gone cost nothing.
"""

from __future__ import annotations

import weakref

import shiboken6
from PySide6.QtCore import QThread, QTimer

_threads: weakref.WeakSet[QThread] = weakref.WeakSet()
_timers: weakref.WeakSet[QTimer] = weakref.WeakSet()


def track() -> None:
    """Record every QThread and QTimer started from now on (idempotent)."""
    for cls, seen in ((QThread, _threads), (QTimer, _timers)):
        if getattr(cls.start, "_memstudio_tracked", False):
            continue
        original = cls.start

        def start(self, *args, _original=original, _seen=seen):  # noqa: ANN001, ANN202 - Qt's overloads
            _seen.add(self)
            return _original(self, *args)

        start._memstudio_tracked = True
        cls.start = start


def running() -> tuple[list[QThread], list[QTimer]]:
    """Threads still running and timers still active, among those started since :func:`track`."""
    threads = [t for t in list(_threads) if shiboken6.isValid(t) and t.isRunning()]
    timers = [t for t in list(_timers) if shiboken6.isValid(t) and t.isActive()]
    return threads, timers


def describe(objects: list) -> list[str]:
    """``ClassName('objectName')`` per object, with its parent's class: enough to find who made it."""
    out = []
    for obj in objects:
        parent = obj.parent()
        owner = f" in {type(parent).__name__}" if parent is not None else " (no parent)"
        out.append(f"{type(obj).__name__}({obj.objectName()!r}){owner}")
    return out
