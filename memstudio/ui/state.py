"""The studio's editable state as Qt sees it: signals and undo commands over the Qt-free session model.

The model itself — subject, edits, α, layer weights, the generator by hash and its latents, ovalize per
assessor and subject — is :class:`memstudio.core.session.studio.StudioSession` (:attr:`StudioState.session`);
this adapter adds the undo stack (QUndoStack; one gesture on a slider is one step) and the change signals.

A *gesture* runs from a mouse press on a slider to its release (:class:`memstudio.ui.gestures.SliderGestures`
calls :meth:`StudioState.begin_drag` / :meth:`StudioState.end_drag`): every value change in between — the jump
Qt makes on the press, the moves, a page step from a click on the groove — merges into one command, so Ctrl+Z
after a drag lands where the drag started. Each command's text names what it changed ("Exposure",
"Open chelsea.png"), which the Edit menu shows as "Undo Exposure".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from memstudio.core.generators.edit_params import PARAMETERS
from memstudio.core.requests import RenderRequest, Subject
from memstudio.core.session.studio import GeneratorRef, StudioSession, StudioValues, subject_label

__all__ = ["StudioState", "StudioValues", "subject_label"]

_EDIT_LABELS = {p.name: p.label for p in PARAMETERS}


class StudioState(QObject):
    """The session's Qt face: every user change goes through the undo stack and says so with a signal."""

    changed = Signal()
    #: Right after ``changed``, once every room has reacted to it (a room may hold back the α of a direction
    #: the new subject cannot use): the canvas asks for its frame on this one.
    settled = Signal()
    subject_changed = Signal()
    #: The current generator changed (its :class:`GeneratorRef`, or None).
    generator_changed = Signal(object)
    #: The assessors that score the current subject's face oval changed (a sorted list).
    ovalize_changed = Signal(object)
    #: A session file opened a generator in the engine: its info dict and source, for the generator dock.
    generator_opened = Signal(object, str)
    #: A session file opened directions in the engine: their info dicts, for the direction sliders.
    directions_opened = Signal(object)

    def __init__(self, parent: QObject | None = None, session: StudioSession | None = None) -> None:
        super().__init__(parent)
        self.session = session or StudioSession()
        self.undo_stack = QUndoStack(self)
        self._drag_serial = 0
        self._in_gesture = False
        #: Names shown in the Edit menu for α keys (direction id → its name); set by the directions feature.
        self.alpha_names: dict[str, str] = {}

    def announce(self) -> None:
        """Say the state changed: ``changed`` for every room, then ``settled`` for the frame."""
        self.changed.emit()
        self.settled.emit()

    # ----- read -----------------------------------------------------------------------------------------
    @property
    def values(self) -> StudioValues:
        return self.session.values

    @values.setter
    def values(self, values: StudioValues) -> None:
        self.session.values = values

    @property
    def subject(self) -> Subject | None:
        return self.values.subject

    def render_request(self, request_id: int, assessors: tuple[str, ...] = ()) -> RenderRequest:
        """The frame of what the studio shows, naming its generator and ovalize setting (the session's)."""
        return self.session.render_request(request_id, assessors)

    # ----- generator and assessor settings (not undoable: they follow what the engine holds) --------------
    def set_generator(self, generator: GeneratorRef | None) -> None:
        self.session.set_generator(generator)
        self.generator_changed.emit(generator)

    def set_ovalize(self, assessor: str, on: bool) -> list[str]:
        """Score the current subject's face oval with ``assessor`` (or stop); re-renders; the sorted set."""
        names = sorted(self.session.set_ovalize(assessor, on))
        self.ovalize_changed.emit(names)
        self.announce()
        return names

    def subject_label(self) -> str:
        return subject_label(self.values.subject)

    def open_session(self, opened: dict[str, Any]) -> None:
        """Show what :class:`~memstudio.core.session.session_file.OpenSessionInStudio` opened in the engine.

        Not undoable: a session is a fresh start, so the undo stack is cleared rather than left holding edits
        of subjects and directions the session replaced.
        """
        from memstudio.core.session.session_file import apply_snapshot

        shot = opened["snapshot"]
        if opened.get("generator") is not None:
            self.generator_opened.emit(opened["generator"], shot.generator.source)
        if opened.get("directions"):
            self.directions_opened.emit(list(opened["directions"]))
        self.undo_stack.clear()
        apply_snapshot(self.session, shot)
        if shot.generator is not None:
            self.generator_changed.emit(shot.generator)
        self.ovalize_changed.emit(sorted(self.session.ovalized()))
        self.subject_changed.emit()
        self.announce()

    # ----- gestures -------------------------------------------------------------------------------------
    def begin_drag(self) -> None:
        """A mouse press on a slider: every change until :meth:`end_drag` merges into one undo step."""
        self._drag_serial += 1
        self._in_gesture = True

    def end_drag(self) -> None:
        """The mouse was released: the next change is a step of its own."""
        self._in_gesture = False

    # ----- user edits (undoable) ------------------------------------------------------------------------
    def set_value(self, kind: str, key: str, value: float, dragging: bool = False) -> None:
        table = self._table(kind)
        old = table.get(key, 0.0)
        if old == value:
            return
        merge = self._drag_serial if (dragging or self._in_gesture) else None
        self.undo_stack.push(_SetValue(self, kind, key, old, value, merge))

    def value_label(self, kind: str, key: str) -> str:
        if kind == "edit":
            return _EDIT_LABELS.get(key, key)
        return self.alpha_names.get(key, key)

    def set_subject(self, subject: Subject, keep_edits: bool = True) -> None:
        """Show ``subject`` (of the generator it is an image of now); undoable (undo brings back the previous
        subject with its edits and generator).

        The first subject is not on the stack: undoing it would leave the photo on screen with nothing behind it.
        """
        if self.session.shows(subject):
            return
        if self.values.subject is None:
            self.values.subject = subject
            self.values.generator = self.session.generator_of(subject)
            if not keep_edits:
                self.values.edits.clear()
                self.values.alphas.clear()
            self.subject_changed.emit()
            self.announce()
            return
        self.undo_stack.push(_SetSubject(self, subject, keep_edits))

    def withdraw_subject(self, subject: Subject, fallback: Subject | None) -> None:
        """``subject`` could not be shown (a broken file): the studio goes back to ``fallback``, the subject on
        screen, and the change that brought ``subject`` leaves the stack (redo would only fail again)."""
        if self.values.subject != subject:
            return
        index = self.undo_stack.index()
        top = self.undo_stack.command(index - 1) if index > 0 else None
        if isinstance(top, _SetSubject) and top.new.subject == subject and index == self.undo_stack.count():
            top.withdrawn = True  # its undo marks it obsolete, and Qt deletes an obsolete command once undone
            self.undo_stack.undo()
            return
        self.values.subject = fallback
        self.values.generator = self.session.generator_of(fallback)
        self.subject_changed.emit()
        self.announce()

    def reset_edits(self) -> None:
        if not self.values.edits and not any(self.values.alphas.values()):
            return
        self.undo_stack.push(_ResetEdits(self))

    def set_layer_weights(self, weights: tuple[float, ...] | None) -> None:
        """Layerwise editor coefficients, one undo step per change ("Layer weights")."""
        if weights == self.values.layer_weights:
            return
        merge = self._drag_serial if self._in_gesture else None
        self.undo_stack.push(_SetLayerWeights(self, self.values.layer_weights, weights, merge))

    def push_change(self, text: str, redo: Callable[[], None], undo: Callable[[], None]) -> None:
        """An undoable change a feature owns (removing a direction): ``redo`` runs now, ``undo`` on Ctrl+Z."""
        self.undo_stack.push(_Callback(text, redo, undo))

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
        self.announce()

    def _restore(self, values: StudioValues) -> None:
        subject_changed = (values.subject, values.generator) != (self.values.subject, self.values.generator)
        self.values = values.copy()
        if subject_changed:
            self.subject_changed.emit()
        self.announce()


class _SetValue(QUndoCommand):
    ID = 1001

    def __init__(self, state: StudioState, kind: str, key: str, old: float, new: float, merge: int | None) -> None:
        super().__init__(state.value_label(kind, key))
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


class _SetLayerWeights(QUndoCommand):
    ID = 1002

    def __init__(
        self,
        state: StudioState,
        old: tuple[float, ...] | None,
        new: tuple[float, ...] | None,
        merge: int | None,
    ) -> None:
        super().__init__("Layer weights")
        self.state, self.old, self.new, self.merge = state, old, new, merge

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, _SetLayerWeights) or self.merge is None or other.merge != self.merge:
            return False
        self.new = other.new
        return True

    def _set(self, weights: tuple[float, ...] | None) -> None:
        self.state.values.layer_weights = weights
        self.state.announce()

    def redo(self) -> None:
        self._set(self.new)

    def undo(self) -> None:
        self._set(self.old)


class _SetSubject(QUndoCommand):
    def __init__(self, state: StudioState, subject: Subject, keep_edits: bool) -> None:
        super().__init__(f"Open {subject_label(subject)}")
        self.state = state
        self.old = state.values.copy()
        self.new = state.values.copy()
        self.new.subject = subject
        self.new.generator = state.session.generator_of(subject)
        if not keep_edits:
            self.new.edits.clear()
            self.new.alphas.clear()
        self.withdrawn = False

    def redo(self) -> None:
        self.state._restore(self.new)

    def undo(self) -> None:
        # The edits may have changed since (the directions feature drops α that cannot edit the subject):
        # what redo brings back is what was on screen just before the undo.
        self.new = self.state.values.copy()
        self.state._restore(self.old)
        if self.withdrawn:
            self.setObsolete(True)


class _ResetEdits(QUndoCommand):
    def __init__(self, state: StudioState) -> None:
        super().__init__("Reset edits")
        self.state = state
        self.old = (dict(state.values.edits), dict(state.values.alphas))

    def redo(self) -> None:
        self.state.values.edits.clear()
        self.state.values.alphas.clear()
        self.state.announce()

    def undo(self) -> None:
        self.state.values.edits, self.state.values.alphas = dict(self.old[0]), dict(self.old[1])
        self.state.announce()


class _Callback(QUndoCommand):
    def __init__(self, text: str, redo: Callable[[], None], undo: Callable[[], None]) -> None:
        super().__init__(text)
        self._redo, self._undo = redo, undo

    def redo(self) -> None:
        self._redo()

    def undo(self) -> None:
        self._undo()
