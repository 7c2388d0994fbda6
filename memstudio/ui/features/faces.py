"""Real faces in the studio (issue 5, paper 001): detect → pick → align → ovalize → score → invert → edit.

The Faces dock drives the core's face modules through the engine, never on the GUI thread: detection and
alignment are ``engine.call`` tasks, inversion is a job (progress, ETA, preview, cancel in the jobs dock),
and the identity readout is a debounced task after every frame change (the newest frame wins). The GUI side
keeps only what the overlays and the readout need: the last detection, the aligned faces (with the dlib
descriptor of each, the identity reference) and which inverted latent came from which aligned face.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from memstudio.core.requests import LatentSubject, PhotoSubject
from memstudio.engine import Failure, Frame, JobDone, TaskDone
from memstudio.ui.face_panel import SPACES, FacePanel
from memstudio.ui.face_tasks import (
    NO_STYLEGAN,
    AlignedFace,
    Detection,
    align_in_photo,
    box_outline,
    detect_in_photo,
    identity_of_frame,
    inversion_factory,
    set_ovalize,
    to_canvas,
)

PREFIX = "faces:"
NO_ALIGNED_FACE = "align a face first: open a photo, Detect faces, then Align"
#: Quiet time after the last frame change before the identity descriptor is recomputed: a slider drag
#: yields dozens of frames and a descriptor costs ~0.3 s on a CPU.
IDENTITY_DEBOUNCE_MS = 300


class FacesFeature(QObject):
    """The Faces dock. Signals say when engine work has landed (the tests and other features wait on them):
    ``detected(Detection)``, ``aligned(AlignedFace)``, ``inverted(dict)``, ``identity_shown(dict)``."""

    detected = Signal(object)
    aligned = Signal(object)
    inverted = Signal(object)
    identity_shown = Signal(object)
    ovalize_applied = Signal(object)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.panel = FacePanel()
        window.assessors_changed.connect(lambda _: self.panel.set_assessors(list(window.strip.score_labels)))
        self.dock = window.add_feature_dock(self.panel, "Faces", "facesDock", Qt.DockWidgetArea.RightDockWidgetArea)
        window.tabifyDockWidget(window.strip_dock, self.dock)
        self._ids = itertools.count(1)
        self._tasks: dict[str, str] = {}  # task id → kind
        self.detection: Detection | None = None
        self.aligned_faces: dict[str, AlignedFace] = {}  # aligned PNG path → face
        self.latest_aligned: AlignedFace | None = None
        self.latent_sources: dict[str, AlignedFace] = {}  # inverted latent key → the face it came from
        self.inversions: dict[str, dict[str, Any]] = {}  # job id → {"label", "key", "outcome"}
        self.last_identity: dict[str, Any] | None = None
        self._overlay_subject: object | None = None
        self._live = {"identity": 0}  # read by the engine thread to skip superseded identity tasks
        self._identity_timer = QTimer(self)
        self._identity_timer.setSingleShot(True)
        self._identity_timer.setInterval(IDENTITY_DEBOUNCE_MS)
        self._identity_timer.timeout.connect(self._request_identity)
        window.closing.connect(self._identity_timer.stop)  # a pending measurement must not outlive the window

        self.panel.detect_requested.connect(self.detect)
        self.panel.face_selected.connect(self.choose_face)
        self.panel.align_requested.connect(self.align)
        self.panel.ovalize_toggled.connect(self._ovalize_toggled)
        self.panel.invert_requested.connect(self.invert)
        self.panel.set_invert_available(NO_STYLEGAN)
        window.browser.latent_chosen.connect(self.show_latent)
        window.state.subject_changed.connect(self._subject_changed)
        window.frame_changed.connect(self._frame_changed)
        window.engine.task_done.connect(self._task_done)
        window.engine.failed.connect(self._failed)
        # Connected once the window is built, so this runs after the window's own handler, which writes its
        # generic summary into the job's row: the inversion's summary must be the one left there.
        QTimer.singleShot(0, self._connect_after_window)

    def _connect_after_window(self) -> None:
        self.window.engine.job_finished.connect(self._job_finished)
        generators = getattr(self.window, "features", {}).get("generators")
        if generators is not None and hasattr(generators, "generator_loaded"):
            generators.generator_loaded.connect(self._generator_loaded)

    def _generator_loaded(self, info: dict[str, Any] | None) -> None:
        """Invert needs a StyleGAN: the button says so (disabled, with what to do) until one is loaded."""
        stylegan = bool(info) and str(info.get("family", "")).startswith("stylegan")
        self.panel.set_invert_available(None if stylegan else NO_STYLEGAN)

    # ----- detection ------------------------------------------------------------------------------------
    def _current_photo(self) -> str | None:
        subject = self.window.state.subject
        return subject.path if isinstance(subject, PhotoSubject) else None

    def detect(self) -> str:
        """Find the faces of the photo on the canvas (engine task); returns the task id, "" if no photo."""
        path = self._current_photo()
        if path is None:
            self._problem("open a photo first: face detection works on the photo on the canvas")
            return ""
        self.panel.set_busy(True)
        self.panel.set_status(f"detecting faces in {Path(path).name}…")
        return self._call("detect", lambda pipeline: detect_in_photo(pipeline, path))

    def _detected(self, detection: Detection) -> None:
        self.detection = detection
        name = Path(detection.path).name
        rows = []
        for face, problem in zip(detection.faces, detection.problems, strict=True):
            note = " — too small" if problem else ""
            rows.append((f"{face.width:.0f}×{face.height:.0f} px · p {face.probability:.3f}{note}", problem or ""))
        self.panel.set_faces([(f"{i + 1}. {text}", tip) for i, (text, tip) in enumerate(rows)])
        count = len(detection.faces)
        if detection.problem:
            self._problem(detection.problem)
        elif count > 1:
            self._say(f"{name}: {count} faces found; the largest is selected — choose another in the list, then Align")
        else:
            self._say(f"{name}: one face found; Align it next")
        if detection.faces:
            self.choose_face(0)
        self.detected.emit(detection)

    def choose_face(self, index: int) -> None:
        """Highlight face ``index`` (box and MTCNN's 5 points) on its photo."""
        detection = self.detection
        if detection is None or not 0 <= index < len(detection.faces):
            return
        face = detection.faces[index]
        points = np.concatenate([box_outline(face.box), face.landmarks])
        self._show_points(PhotoSubject(detection.path), to_canvas(points, detection.scale))
        if detection.problems[index]:
            self.panel.set_status(detection.problems[index], problem=True)

    # ----- alignment ------------------------------------------------------------------------------------
    def align(self) -> str:
        """FFHQ-align the chosen face of the photo on the canvas (engine task); returns the task id."""
        path = self._current_photo()
        if path is None:
            self._problem("open a photo first: alignment works on the photo on the canvas")
            return ""
        detection = self.detection if self.detection is not None and self.detection.path == path else None
        faces = detection.faces if detection is not None else None
        index = self.panel.selected_face() if detection is not None else None
        size = self.panel.align_size()
        self.panel.set_busy(True)
        self.panel.set_status(f"aligning the face in {Path(path).name}…")
        return self._call("align", lambda pipeline: align_in_photo(pipeline, path, faces, index, size))

    def _aligned(self, face: AlignedFace) -> None:
        self.aligned_faces[face.path] = face
        self.latest_aligned = face
        self.window.browser.add_paths([Path(face.path)])
        subject = PhotoSubject(face.path)
        self._overlay_subject = subject  # before the subject changes, so the new overlay is not cleared
        self.window.open_photo(face.path)
        self.window.canvas.set_points(face.points)
        self._say(face.summary)
        self.aligned.emit(face)

    # ----- ovalization ----------------------------------------------------------------------------------
    def _ovalize_toggled(self, _name: str, _on: bool) -> None:
        names = frozenset(n for n, box in self.panel.ovalize_checks.items() if box.isChecked())
        self._call("ovalize", lambda pipeline: set_ovalize(pipeline, names))

    # ----- inversion ------------------------------------------------------------------------------------
    def _aligned_for_subject(self) -> AlignedFace | None:
        """The aligned face the current image belongs to (itself, its inversion, or its source photo)."""
        subject = self.window.state.subject
        if isinstance(subject, LatentSubject):
            return self.latent_sources.get(subject.key)
        if isinstance(subject, PhotoSubject):
            if subject.path in self.aligned_faces:
                return self.aligned_faces[subject.path]
            from_source = [f for f in self.aligned_faces.values() if f.source == subject.path]
            return from_source[-1] if from_source else None
        return None

    def invert(self) -> str:
        """Project the aligned face into the current StyleGAN as a job; returns the job id ("" if refused)."""
        generators = getattr(self.window, "features", {}).get("generators")
        info = getattr(generators, "info", None)
        if not info or not str(info.get("family", "")).startswith("stylegan"):
            self._problem(NO_STYLEGAN)
            return ""
        face = self._aligned_for_subject() or self.latest_aligned
        if face is None:
            self._problem(NO_ALIGNED_FACE)
            return ""
        space, w_first = self.panel.inversion_choice()
        steps = self.panel.steps.value()
        label, number = self._unique_label(Path(face.source).stem)
        tag = space.replace("+", "plus") if w_first == 0 else "w-wplus"
        stem = f"{Path(face.path).stem}-{tag}-{steps}" + (f"-{number}" if number > 1 else "")
        plan = {
            "target": face.path,
            "key": f"face:{label}",
            "label": label,
            "latent_path": str(Path(face.path).with_name(f"{stem}.npz")),
            "settings": {"space": space, "num_steps": steps, "w_first": w_first},
            "loss": self.panel.loss_name(),
        }
        job_id = f"{PREFIX}invert-{next(self._ids)}"
        space_text = SPACES[self.panel.space.currentIndex()][0]
        title = f"Inverting {label} into {space_text} ({steps} steps)"
        outcome: dict[str, Any] = {}
        self.inversions[job_id] = {"label": label, "key": plan["key"], "outcome": outcome, "face": face}
        self.window.jobs.add_job(job_id, title)
        self.window.engine.submit_job(job_id, title, inversion_factory(plan, outcome))
        self._say(f"inverting {label}: follow it in the Jobs dock (Cancel keeps the best latent so far)")
        return job_id

    def _unique_label(self, stem: str) -> tuple[str, int]:
        """The entry's name: the photo's, numbered from the second inversion of the same photo on."""
        taken = {info["label"] for info in self.inversions.values()}
        if stem not in taken:
            return stem, 1
        number = next(n for n in itertools.count(2) if f"{stem} ({n})" not in taken)
        return f"{stem} ({number})", number

    def _job_finished(self, done: JobDone) -> None:
        job = self.inversions.get(done.job_id)
        if job is None:
            return
        outcome = done.result if isinstance(done.result, dict) else job["outcome"]
        if not outcome.get("key"):
            if done.error:
                self.panel.set_status(f"inversion of {job['label']} failed: {done.error}", problem=True)
            if done.cancelled:
                self._say(f"inversion of {job['label']} cancelled before its first step: nothing to keep")
            return
        self.latent_sources[outcome["key"]] = job["face"]
        self.window.browser.add_latent(outcome["key"], outcome["label"], outcome.get("thumbnail"))
        text = f"{outcome['label']}: {outcome['space']} latent, {outcome['steps']} steps"
        if outcome.get("psnr") is not None:
            text += f", PSNR {outcome['psnr']:.1f} dB"
        text += f" → {outcome['path']}"
        if done.error:
            text = f"failed ({done.error}); kept the best latent so far ({text})"
        elif done.cancelled:
            text = f"cancelled; kept the best latent so far ({text})"
        if outcome.get("registered"):
            self.show_latent(outcome["key"])
        else:
            text += " — the generator changed meanwhile: open the one it was made with to see it"
        self._say(text)
        row = self.window.jobs.rows.get(done.job_id)
        if row is not None:
            row.message.setText(text)
        self.inverted.emit(dict(outcome, cancelled=done.cancelled))

    def show_latent(self, key: str) -> None:
        """Put an inverted face (a latent entry of the seed browser) on the canvas."""
        self.window.browser.select_latent(key)
        subject = LatentSubject(key)
        if self.window.state.subject == subject:
            self.window.request_frame()
        else:
            self.window.state.set_subject(subject)

    # ----- identity -------------------------------------------------------------------------------------
    def _frame_changed(self, _frame: Frame) -> None:
        if self._aligned_for_subject() is None:
            self._live["identity"] += 1  # anything queued is for an image no longer shown
            self.panel.set_identity("identity: align a face to compare")
            return
        self._identity_timer.start()  # restarts: only the frame that stays 300 ms is measured

    def _request_identity(self) -> str:
        face, frame = self._aligned_for_subject(), self.window.current_frame
        if face is None or frame is None:
            return ""
        self._live["identity"] += 1
        generation = self._live["identity"]
        subject = self.window.state.subject
        on_source = isinstance(subject, PhotoSubject) and subject.path == face.source
        expected = face.source_centre if on_source else None
        fallback = None if on_source else face.landmarks
        live, tensor = self._live, frame.tensor
        return self._call(
            "identity",
            lambda pipeline: identity_of_frame(
                pipeline, live, generation, tensor, face.descriptor, expected, fallback, face.size
            ),
        )

    def _identity_ready(self, result: dict[str, Any] | None) -> None:
        if result is None or result["generation"] != self._live["identity"]:
            return  # superseded by a newer frame
        self.last_identity = result
        if result.get("distance") is None:
            self.panel.set_identity(f"identity: {result['note']}")
        else:
            distance, threshold = result["distance"], result["threshold"]
            verdict = f"same person (< {threshold})" if result["same_person"] else f"different person (≥ {threshold})"
            self.panel.set_identity(f"identity distance {distance:.2f} — {verdict}", result["same_person"])
        self.identity_shown.emit(result)

    # ----- state ----------------------------------------------------------------------------------------
    def _show_points(self, subject: PhotoSubject, points: np.ndarray) -> None:
        self._overlay_subject = subject
        if self.window.state.subject != subject:
            self.window.open_photo(subject.path)
        self.window.canvas.set_points(points)

    def _subject_changed(self) -> None:
        if self._overlay_subject is not None and self.window.state.subject != self._overlay_subject:
            self._overlay_subject = None
            self.window.canvas.set_points(None)  # landmarks of another image

    def _call(self, kind: str, fn: Any) -> str:
        task_id = f"{PREFIX}{kind}-{next(self._ids)}"
        self._tasks[task_id] = kind
        self.window.engine.call(task_id, fn)
        return task_id

    def _task_done(self, done: TaskDone) -> None:
        kind = self._tasks.pop(done.task_id, None)
        if kind is None:
            return
        if kind in ("detect", "align"):
            self.panel.set_busy(False)
        if kind == "detect":
            self._detected(done.result)
        elif kind == "align":
            self._aligned(done.result)
        elif kind == "ovalize":
            self._say(f"ovalized before scoring: {', '.join(done.result) or 'none'}")
            self.window.request_frame()  # after the pipeline has the new set, not before
            self.ovalize_applied.emit(done.result)
        elif kind == "identity":
            self._identity_ready(done.result)

    def _failed(self, failure: Failure) -> None:
        kind = self._tasks.pop(str(failure.ident), None)
        if failure.origin != "task" or kind is None:
            return
        if kind in ("detect", "align"):
            self.panel.set_busy(False)
        # The window's message bar already shows the core's message; the dock repeats it where the user looks.
        self.panel.set_status(failure.message, problem=True)
        if kind == "identity":
            self.panel.set_identity(f"identity: {failure.message}")

    def _say(self, text: str) -> None:
        self.panel.set_status(text)
        self.window.statusBar().showMessage(text, 10_000)

    def _problem(self, text: str) -> None:
        self.panel.set_status(text, problem=True)
        self.window.messages.show_problem(text)


# ----- engine thread ----------------------------------------------------------------------------------
# Everything below runs on the engine thread with the pipeline it owns; torch and the face models are
# imported here, never while the window is being built.


def install(window: Any) -> FacesFeature:
    return FacesFeature(window)
