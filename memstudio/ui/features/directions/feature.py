"""Edit directions in the studio: open or train them, slide them, combine them, edit W+ layer by layer.

Directions live in the engine's pipeline (``pipeline.directions``); the GUI keeps one slider row per direction
and puts α into the undoable state, from which every render request carries them (the pipeline sums all of
them). Training, evidence and the layer analysis are stepped engine jobs (progress, ETA, preview, cancel); a
cancelled or crashed GANalyze run resumes from its checkpoint. The "Layers (W+)" dock scales every W/W+
direction per layer through ``state.set_layer_weights``. Removing a direction and every layer weight change
are undo steps.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QPushButton

from memstudio.core.directions.train import TrainResult
from memstudio.core.requests import PhotoSubject
from memstudio.core.session.directions import (
    AnalyzeLayers,
    EstimateTraining,
    GeneratorContext,
    MakeConditional,
    OpenDirection,
    RecheckDirections,
    SaveLayerwiseCopy,
    TrainDirection,
)
from memstudio.core.session.studio import GeneratorRef
from memstudio.engine import Command, Failure, JobHandle, RequestHandle, ScoreResult
from memstudio.ui.features.directions.layer_editor import LayerEditor
from memstudio.ui.features.directions.sliders import DirectionSliders
from memstudio.ui.studio_context import StudioContext

if TYPE_CHECKING:
    from memstudio.core.assessors.registry import LiveAssessor

PREFIX = "directions:"  # of this feature's job ids in the Jobs dock
#: "0" starts the studio without the shipped directions (the test suite's default, so sliders start empty).
SHIPPED_ENV = "MEMSTUDIO_SHIPPED_DIRECTIONS"


def is_direction_path(path: Path) -> bool:
    """A direction file is ``NAME.json`` beside its ``NAME.safetensors`` (decided without reading it)."""
    return path.suffix.lower() == ".json" and path.with_suffix(".safetensors").is_file()


class DirectionsFeature(QObject):
    """Direction sliders, the Train dialog, the Layers (W+) dock. Signals say when engine work has landed."""

    direction_loaded = Signal(object)  # info dict
    direction_removed = Signal(str)
    conditional_made = Signal(object)  # info dict
    analysis_done = Signal(object)  # info dict
    context_changed = Signal(object)  # generator context (None: no generator)

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.sliders = DirectionSliders(studio.strip.directions_box)
        self.infos: dict[str, dict[str, Any]] = {}
        self.context: dict[str, Any] | None = None
        self.dialog = None
        self._ids = itertools.count(1)
        self._pending: set[str] = set()  # ids of directions being opened or made
        self._train_jobs: dict[str, TrainDirection] = {}
        self._estimate: JobHandle | None = None  # the Train dialog's running time estimate
        self._unusable: dict[str, str] = {}  # direction id → why it cannot edit the current generator
        self._checked_for: str | None = None  # the generator (hash) that _unusable is, or is being, checked for
        self._removed: set[str] = set()  # removed by the user: an undo must not bring their α back

        self.editor = LayerEditor()
        self.dock = studio.add_feature_dock(
            self.editor, "Layers (W+)", "layerEditorDock", Qt.DockWidgetArea.RightDockWidgetArea
        )
        studio.strip_dock.raise_()
        self.editor.weights_changed.connect(studio.state.set_layer_weights)
        self.editor.analyse_requested.connect(self.analyse_layers)
        self.editor.save_requested.connect(self.choose_layerwise_copy)
        self._build_menus()

        # On ``changed``, before the canvas asks for its frame on ``settled``: α of a direction that cannot edit
        # the new subject is dropped before the request is built, so no render fails on it.
        studio.state.changed.connect(self._state_changed)
        studio.state.subject_changed.connect(self._subject_changed)
        studio.scores_arrived.connect(self._show_scores)
        studio.assessors_changed.connect(self._assessors_changed)
        self._decimals: dict[str, int] = {}
        studio.path_handlers.append(self.claim_paths)
        studio.state.generator_changed.connect(self._generator_changed)
        studio.state.directions_opened.connect(self._opened)
        if os.environ.get(SHIPPED_ENV, "1") != "0":
            QTimer.singleShot(0, self.open_shipped)

    def _build_menus(self) -> None:
        menu = self.studio.file_menu
        first_separator = next((a for a in menu.actions() if a.isSeparator()), None)
        action = QAction("Open &direction…", self.studio)
        action.triggered.connect(self.choose_direction)
        menu.insertAction(first_separator, action)
        train = QAction("&Train direction…", self.studio)
        train.triggered.connect(self.show_train_dialog)
        self.studio.tools_menu.addAction(train)

    # ----- opening ----------------------------------------------------------------------------------------
    def open_shipped(self) -> list[RequestHandle]:
        """Open the directions that ship with memstudio (the photo editor's Memorability slider).

        They are opened like any file, read-only from the package, so a user's own directions sit beside them.
        """
        from memstudio.core.directions.shipped import shipped_direction_paths

        return [self.open_direction(path) for path in shipped_direction_paths()]

    def choose_direction(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.studio, "Open direction", "", "Direction (*.json)")
        if path:
            self.open_direction(path)

    def open_direction(self, path: str | Path) -> RequestHandle:
        """Load ``path`` in the engine (checked against the current generator / photo mode); a refusal reaches
        the message bar through the engine's ``failed``."""
        direction_id = self._new_id(Path(path).stem)
        handle = self._make(OpenDirection(str(path), direction_id), direction_id)
        self.studio.statusBar().showMessage(f"opening direction {Path(path).name}…", 10_000)
        return handle

    def _make(self, command: Command, direction_id: str) -> RequestHandle:
        """Request a command whose result is a new direction's info: it becomes a slider."""
        self._pending.add(direction_id)
        handle = self.studio.engine.request(command)
        handle.done.connect(self._loaded)
        for settled in (handle.done, handle.failed, handle.cancelled):
            settled.connect(lambda *_: self._pending.discard(direction_id))
        return handle

    def _loaded(self, info: dict[str, Any]) -> None:
        self._add(info)
        self.studio.statusBar().showMessage(f"direction {info['name']} loaded", 10_000)

    def _opened(self, infos: list[dict[str, Any]]) -> None:
        """Directions a session file opened in the engine under its ids: each a slider (replacing a row of
        the same id, whose direction the engine no longer holds)."""
        for info in infos:
            if info["id"] in self.infos:
                self.infos.pop(info["id"])
                self.sliders.remove(info["id"])
            self._unusable.pop(info["id"], None)  # the engine has just opened it against the session's generator
            self._add(info)

    def claim_paths(self, paths: list[Path]) -> tuple[list[Path], list[str]]:
        """The window's path handler: dropped direction files open as sliders."""
        mine = [p for p in paths if is_direction_path(p)]
        for path in mine:
            self.open_direction(path)
        said = [f"opening direction {', '.join(p.name for p in mine)}"] if mine else []
        return [p for p in paths if p not in mine], said

    def _new_id(self, stem: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.+-]", "_", stem) or "direction"
        # Removed ids stay taken: an undo of the removal brings that direction back under its id.
        taken = set(self.infos) | self._pending | self._removed
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        return candidate

    def _add(self, info: dict[str, Any]) -> None:
        self.infos[info["id"]] = info
        self._removed.discard(info["id"])
        self.studio.state.alpha_names[info["id"]] = info["name"]
        row = self.sliders.add(info)
        row.moved.connect(self._slider_moved)
        row.pressed.connect(self.studio.state.begin_drag)
        row.released.connect(self.studio.state.end_drag)
        row.remove_requested.connect(self.remove_direction)
        row.set_alpha(self.studio.state.values.alphas.get(info["id"], 0.0))
        self._update_usability()
        self.editor.set_directions(list(self.infos.values()))
        if self.dialog is not None:
            self.dialog.set_directions(list(self.infos.values()))
        if self.studio.last_scores is not None:
            self._show_scores(self.studio.last_scores)
        self.studio.strip_dock.raise_()  # the new slider is where the user looks next
        self.studio.request_frame()
        self.direction_loaded.emit(info)

    def remove_direction(self, direction_id: str) -> None:
        """Drop the slider and its α as one undo step ("Remove NAME"); undo brings both back.

        The engine keeps its copy (a few kilobytes) so the undo needs no file; renders only use the α sent.
        """
        info = self.infos.get(direction_id)
        if info is None:
            return
        alpha = self.studio.state.values.alphas.get(direction_id, 0.0)
        self.studio.state.push_change(
            f"Remove {info['name']}", lambda: self._hide(direction_id), lambda: self._restore(info, alpha)
        )

    def _hide(self, direction_id: str) -> None:
        self.infos.pop(direction_id, None)
        self._removed.add(direction_id)
        self.sliders.remove(direction_id)
        self._unusable.pop(direction_id, None)
        self.editor.set_directions(list(self.infos.values()))
        if self.studio.state.values.alphas.pop(direction_id, None) is not None:
            self.studio.request_frame()
        self.direction_removed.emit(direction_id)

    def _restore(self, info: dict[str, Any], alpha: float) -> None:
        if alpha:
            self.studio.state.values.alphas[info["id"]] = alpha
        self._add(info)

    # ----- sliders and state ------------------------------------------------------------------------------
    def _slider_moved(self, direction_id: str, alpha: float, dragging: bool) -> None:
        self.studio.state.set_value("alpha", direction_id, alpha, dragging)

    def _usable_reason(self, direction_id: str) -> str | None:
        info = self.infos[direction_id]
        photo = isinstance(self.studio.state.subject, PhotoSubject)
        if info["space"] == "edit":
            return None if photo or self.studio.state.subject is None else "a photo direction: open a photo"
        if photo:
            return f"a {info['space']} direction of a GAN: pick a seed of its generator"
        return self._unusable.get(direction_id)

    def _update_usability(self) -> None:
        for direction_id, row in self.sliders.rows.items():
            row.set_usable(self._usable_reason(direction_id))

    def _state_changed(self) -> None:
        alphas = self.studio.state.values.alphas
        for direction_id in list(alphas):
            # Only directions this feature manages: others may put their own in the pipeline.
            mine = direction_id in self.infos
            if direction_id in self._removed or (mine and self._usable_reason(direction_id) is not None):
                # Not undoable on purpose: undoing the subject change restores the α with the subject.
                alphas.pop(direction_id)
        self.sliders.sync(alphas)
        if self.editor.weights() != self.studio.state.values.layer_weights:
            self.editor.set_weights(self.studio.state.values.layer_weights)  # undo/redo of layer weights

    def _subject_changed(self) -> None:
        self._update_usability()
        self.editor.set_photo_mode(isinstance(self.studio.state.subject, PhotoSubject))

    def _show_scores(self, scores: ScoreResult) -> None:
        """Each slider's score readout, from the scores of the frame on screen (the cheap ones first)."""
        self.sliders.show_scores(scores.values, self._decimals, scores.complete)

    def _assessors_changed(self, available: list[LiveAssessor]) -> None:
        self._decimals = {a.name: a.decimals for a in available}

    # ----- generator --------------------------------------------------------------------------------------
    def _generator_changed(self, generator: GeneratorRef | None) -> None:
        # GAN directions wait for the engine's check against the new generator; until then their α is held
        # back, so no frame of the new generator is rendered with a direction of another.
        if generator is None or generator.sha256 == self._checked_for:
            return  # a session re-announces the generator it opened: its directions are already checked
        self._checked_for = generator.sha256
        for direction_id, direction_info in self.infos.items():
            if direction_info["space"] != "edit":
                self._unusable[direction_id] = f"checking it against {generator.name or 'the new generator'}…"
        self._update_usability()
        self._state_changed()  # the session dropped the layer weights: the editor follows
        engine = self.studio.engine
        engine.request(GeneratorContext(), key=(id(self), "context")).done.connect(self._set_context)
        if self.infos:
            recheck = engine.request(RecheckDirections(tuple(self.infos)), key=(id(self), "recheck"))
            recheck.done.connect(self._rechecked)

    def _rechecked(self, reasons: dict[str, str | None]) -> None:
        self._unusable = {k: v for k, v in reasons.items() if v is not None}
        self._update_usability()
        self._state_changed()

    def _set_context(self, context: dict[str, Any] | None) -> None:
        self.context = context
        self.editor.set_generator(context)
        self.editor.set_photo_mode(isinstance(self.studio.state.subject, PhotoSubject))
        self.editor.set_directions(list(self.infos.values()))
        self.context_changed.emit(context)

    # ----- training ---------------------------------------------------------------------------------------
    def show_train_dialog(self):
        """Open the Train direction dialog for the current mode (photos or the loaded generator)."""
        from memstudio.core.checkpoints import cache_dir
        from memstudio.core.samples import sample_photos
        from memstudio.ui.features.directions.dialog import TrainDirectionDialog

        if self.dialog is not None:
            self.cancel_estimate()
            self.dialog.close()
            self.dialog.deleteLater()
        photo_mode = self.context is None or isinstance(self.studio.state.subject, PhotoSubject)
        self.dialog = TrainDirectionDialog(
            self.studio,
            assessors=[a.name for a in self.studio.live_assessors or []],
            photo_mode=photo_mode,
            spaces=[] if self.context is None else list(self.context["spaces"]),
            selected_photos=self.studio.browser.selected_paths(),
            sample_photos=[str(p) for p in sample_photos()],
            directions=list(self.infos.values()),
            output_folder=cache_dir() / "directions",
        )
        self.dialog.train_requested.connect(self.train)
        self.dialog.conditional_requested.connect(self.make_conditional)
        self.dialog.estimate_requested.connect(self.estimate)
        self.dialog.estimate_stale.connect(self.cancel_estimate)
        self.dialog.finished.connect(self.cancel_estimate)
        self.dialog.show()
        return self.dialog

    def estimate(self, command: EstimateTraining) -> str:
        """Measure the dialog's settings on the engine thread (a warm-up step, then a timed one); its job id.

        One estimate at a time: a newer request cancels the older. The result goes back to the dialog, which
        ignores it when its settings have changed since.
        """
        self.cancel_estimate()
        job_id = f"{PREFIX}estimate-{next(self._ids)}"
        handle = self.studio.engine.submit(command, job_id, listed=False)  # the dialog shows it
        handle.progress.connect(lambda update: self._estimate_progress(handle, update.message))
        handle.done.connect(lambda result: self._estimated(handle, command, result))
        handle.failed.connect(lambda failure: self._estimate_failed(handle, command, failure.message))
        handle.cancelled.connect(lambda: self._estimate_over(handle))
        self._estimate = handle
        return job_id

    def cancel_estimate(self, *_args: object) -> None:
        if self._estimate is not None:
            self._estimate.cancel()
            self._estimate = None

    def _estimate_over(self, handle: JobHandle) -> bool:
        """Forget ``handle`` if it is the current estimate; whether it was (a cancelled one's news is old)."""
        if handle is not self._estimate:
            return False
        self._estimate = None
        return True

    def _estimate_progress(self, handle: JobHandle, message: str) -> None:
        if handle is self._estimate and self.dialog is not None:
            self.dialog.estimate_progress(message)

    def _estimated(self, handle: JobHandle, command: EstimateTraining, estimate: Any) -> None:
        if self._estimate_over(handle) and self.dialog is not None:
            self.dialog.show_estimate(command, estimate)

    def _estimate_failed(self, handle: JobHandle, command: EstimateTraining, message: str) -> None:
        if self._estimate_over(handle) and self.dialog is not None:
            self.dialog.estimate_failed(command, message)

    def train(self, command: TrainDirection) -> str:
        """Run the core's training (GANalyze or hyperplane, then the evidence) as one job; its id.

        Done → a new slider and the evidence (with its warnings) on the job card; failed → the error on the job
        card and in the message bar; cancelled or failed GANalyze → a Resume button on the card.
        """
        job_id = f"{PREFIX}train-{next(self._ids)}"
        self._submit_training(job_id, command)
        return job_id

    def _submit_training(self, job_id: str, command: TrainDirection) -> None:
        self._train_jobs[job_id] = command
        handle = self.studio.engine.submit(command, job_id)
        handle.done.connect(self._trained)
        handle.failed.connect(lambda _failure, job_id=job_id: self._training_stopped(job_id))
        handle.cancelled.connect(lambda job_id=job_id: self._training_stopped(job_id))

    def resume(self, job_id: str) -> None:
        """Submit a cancelled (or failed) training again: GANalyze continues from its checkpoint."""
        command = self._train_jobs.get(job_id)
        if command is not None:
            self._submit_training(job_id, command)

    def _trained(self, result: TrainResult) -> None:
        self.open_direction(result.path)

    def _training_stopped(self, job_id: str) -> None:
        """Cancelled or failed (the Jobs dock shows the error on the card and in the message bar): offer Resume."""
        command = self._train_jobs.get(job_id)
        if command is None:
            return
        checkpoint = command.settings.checkpoint_path
        if command.settings.method == "ganalyze" and checkpoint is not None:
            card = self.studio.jobs.card(job_id)
            if card is not None:
                button = QPushButton("Resume")
                button.setObjectName("resumeJob")
                button.setToolTip(f"Continue from the checkpoint {checkpoint}")
                button.clicked.connect(lambda: self.resume(job_id))
                card.add_action(button)

    def make_conditional(self, base_id: str, keep_ids: list[str], output: str) -> RequestHandle:
        """Project the base direction off the kept ones (001 A.5); the new one becomes a slider."""
        direction_id = self._new_id(Path(output).stem)
        handle = self._make(MakeConditional(base_id, tuple(keep_ids), str(output), direction_id), direction_id)
        handle.done.connect(self._conditional_made)
        handle.failed.connect(self._conditional_failed)
        return handle

    def _conditional_made(self, info: dict[str, Any]) -> None:
        if self.dialog is not None:
            self.dialog.show_cosines(info)
        self.conditional_made.emit(info)

    def _conditional_failed(self, failure: Failure) -> None:
        if self.dialog is not None:
            self.dialog.cosines.setText(failure.message)

    # ----- layers -----------------------------------------------------------------------------------------
    def analyse_layers(self, direction_id: str, num_samples: int) -> str | None:
        """The layer-effect analysis of ``direction_id`` as a job (its id, None when no assessor is there yet to
        analyse with: said in the message bar); the plot appears in the dock when done."""
        info = self.infos[direction_id]
        available = [a.name for a in self.studio.available_assessors]
        if not available:
            self.studio.messages.show_problem("no assessor is available yet to analyse the layers with")
            return None
        assessor = info["assessor"] if info["assessor"] in available else None
        assessor = assessor or next((a.name for a in self.studio.live_assessors or []), available[0])
        job_id = f"{PREFIX}layers-{next(self._ids)}"
        command = AnalyzeLayers(direction_id, assessor, num_samples, name=info["name"])
        self.studio.engine.submit(command, job_id).done.connect(self._analysed)
        return job_id

    def _analysed(self, result: dict[str, Any]) -> None:
        info = result["info"]
        self.infos[info["id"]] = info
        row = self.sliders.rows.get(info["id"])
        if row is not None:
            row.update_info(info)
        self.editor.set_directions(list(self.infos.values()))
        self.editor.select(info["id"])
        self.analysis_done.emit(info)

    def choose_layerwise_copy(self, direction_id: str) -> None:
        info = self.infos.get(direction_id)
        if info is None or not self.editor.rows:
            return
        source = Path(info["path"] or info["name"])
        start = str(source.with_name(f"{source.stem}-layers.json"))
        path, _ = QFileDialog.getSaveFileName(self.studio, "Save layerwise copy", start, "Direction (*.json)")
        if path:
            self.save_layerwise_copy(direction_id, path)

    def save_layerwise_copy(self, direction_id: str, path: str | Path) -> RequestHandle:
        """Write the direction restricted to the dock's layer coefficients and load it as a slider."""
        weights = tuple(row.weight() for row in self.editor.rows)
        new_id = self._new_id(Path(path).stem)
        return self._make(SaveLayerwiseCopy(direction_id, weights, str(path), new_id), new_id)

def install(studio: StudioContext) -> DirectionsFeature:
    return DirectionsFeature(studio)
