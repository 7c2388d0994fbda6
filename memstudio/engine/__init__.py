"""The inference engine: one long-lived QThread that owns every model (QtCore only, no widgets)."""

from memstudio.engine.commands import Command, JobCommand, JobDone, JobHandle, RequestHandle
from memstudio.engine.engine import Engine, Failure, Frame, JobUpdate, ScoreResult

__all__ = [
    "Command",
    "Engine",
    "Failure",
    "Frame",
    "JobCommand",
    "JobDone",
    "JobHandle",
    "JobUpdate",
    "RequestHandle",
    "ScoreResult",
]
