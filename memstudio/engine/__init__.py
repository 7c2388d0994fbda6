"""The inference engine: one long-lived QThread that owns every model (QtCore only, no widgets)."""

from memstudio.engine.commands import JobCommand, JobHandle
from memstudio.engine.engine import Engine, Failure, Frame, JobDone, JobUpdate, ScoreResult, TaskDone

__all__ = [
    "Engine",
    "Failure",
    "Frame",
    "JobCommand",
    "JobDone",
    "JobHandle",
    "JobUpdate",
    "ScoreResult",
    "TaskDone",
]
