"""The studio's editable state and its undo commands (QUndoStack; a slider drag merges into one step)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from memstudio.core.requests import PhotoSubject, SeedSubject, Subject


@dataclass
class StudioValues:
    """What the canvas shows: a subject and the edits applied to it."""

    subject: Subject | None = None
    edits: dict[str, float] = field(default_factory=dict)
    alphas: dict[str, float] = field(default_factory=dict)
    layer_weights: tuple[float, ...] | None = None


class StudioState(QObject):
    """Single source of truth for the current image; every change goes through the undo stack."""

    changed = Signal()
    subject_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.values = StudioValues()
        self.undo_stack = QUndoStack(self)
        self._drag_serial = 0

    # ----- read -----------------------------------------------------------------------------------------
    @property
    def subject(self) -> Subject | None:
        return self.values.subject

    def subject_label(self) -> str:
        subject = self.values.subject
        if isinstance(subject, PhotoSubject):
            from pathlib import Path

            return Path(subject.path).name
        if isinstance(subject, SeedSubject):
            return f"seed {subject.seed}"
        return "" if subject is None else str(getattr(subject, "key", ""))

    # ----- user edits (undoable) ------------------------------------------------------------------------
    def begin_drag(self) -> None:
        """Called on slider press: changes until release merge into one undo step."""
        self._drag_serial += 1

    def set_value(self, kind: str, key: str, value: float, dragging: bool) -> None:
        table = self._table(kind)
        old = table.get(key, 0.0)
        if old == value:
            return
        merge = self._drag_serial if dragging else None
        self.undo_stack.push(_SetValue(self, kind, key, old, value, merge))

    def set_subject(self, subject: Subject, keep_edits: bool = True) -> None:
        if subject == self.values.subject:
            return
        self.undo_stack.push(_SetSubject(self, subject, keep_edits))

    def reset_edits(self) -> None:
        if not self.values.edits and not any(self.values.alphas.values()):
            return
        self.undo_stack.push(_ResetEdits(self))

    def set_layer_weights(self, weights: tuple[float, ...] | None) -> None:
        """Layerwise editor coefficients (not undoable per toggle: the editor has its own reset)."""
        self.values.layer_weights = weights
        self.changed.emit()

    # ----- internal -------------------------------------------------------------------------------------
    def _table(self, kind: str) -> dict[str, float]:
        if kind == "edit":
            return self.values.edits
        if kind == "alpha":
            return self.values.alphas
        raise ValueError(f"unknown value kind {kind!r}")

    def _apply(self, kind: str, key: str, value: float) -> None:
        table = self._table(kind)
        if value == 0.0:
            table.pop(key, None)
        else:
            table[key] = value
        self.changed.emit()


class _SetValue(QUndoCommand):
    ID = 1001

    def __init__(
        self, state: StudioState, kind: str, key: str, old: float, new: float, merge: int | None
    ) -> None:
        super().__init__(f"Set {key}")
        self.state, self.kind, self.key, self.old, self.new, self.merge = state, kind, key, old, new, merge

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, _SetValue) or self.merge is None or other.merge != self.merge:
            return False
        if (other.kind, other.key) != (self.kind, self.key):
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.state._apply(self.kind, self.key, self.new)

    def undo(self) -> None:
        self.state._apply(self.kind, self.key, self.old)


class _SetSubject(QUndoCommand):
    def __init__(self, state: StudioState, subject: Subject, keep_edits: bool) -> None:
        super().__init__("Change image")
        self.state = state
        self.old = (state.values.subject, dict(state.values.edits), dict(state.values.alphas))
        self.new_subject = subject
        self.keep_edits = keep_edits

    def redo(self) -> None:
        self.state.values.subject = self.new_subject
        if not self.keep_edits:
            self.state.values.edits.clear()
            self.state.values.alphas.clear()
        self.state.subject_changed.emit()
        self.state.changed.emit()

    def undo(self) -> None:
        subject, edits, alphas = self.old
        self.state.values.subject = subject
        self.state.values.edits = dict(edits)
        self.state.values.alphas = dict(alphas)
        self.state.subject_changed.emit()
        self.state.changed.emit()


class _ResetEdits(QUndoCommand):
    def __init__(self, state: StudioState) -> None:
        super().__init__("Reset edits")
        self.state = state
        self.old = (dict(state.values.edits), dict(state.values.alphas))

    def redo(self) -> None:
        self.state.values.edits.clear()
        self.state.values.alphas.clear()
        self.state.changed.emit()

    def undo(self) -> None:
        self.state.values.edits, self.state.values.alphas = dict(self.old[0]), dict(self.old[1])
        self.state.changed.emit()
