"""The handles of a feature's commands still on the engine, by id: each leaves when it settles.

A feature keeps its handles to cancel one later (a superseded identity readout) and to know what is still
running; every handle settles exactly once (done, failed or cancelled), and that is when it is forgotten.
"""

from __future__ import annotations

from typing import TypeVar

from memstudio.engine.commands import JobHandle, RequestHandle

H = TypeVar("H", JobHandle, RequestHandle)


class PendingHandles:
    """``add`` a handle under an id; it is dropped when it settles."""

    def __init__(self) -> None:
        self._handles: dict[str, JobHandle | RequestHandle] = {}

    def add(self, ident: str, handle: H) -> H:
        self._handles[ident] = handle
        for signal in (handle.done, handle.failed):
            signal.connect(lambda _payload, ident=ident: self._handles.pop(ident, None))
        handle.cancelled.connect(lambda ident=ident: self._handles.pop(ident, None))
        return handle

    def get(self, ident: str) -> JobHandle | RequestHandle | None:
        return self._handles.get(ident)
