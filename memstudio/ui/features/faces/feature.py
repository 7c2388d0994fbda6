"""Real faces in the studio (issue 5, paper 001): detect → pick → align → ovalize → score → invert → edit.

The Faces dock runs the core's face commands (:mod:`memstudio.core.session.faces`) on the engine and handles each
on its own handle; nothing of this module runs on the engine thread. Detection, alignment and the identity readout
are one-shot requests (``engine.request``), inversion is a job (``engine.submit``) (progress, ETA, preview, cancel
in the jobs dock), and the identity readout is debounced after every frame change (a newer frame cancels the
pending measurement). Ovalize is a setting of the session (per assessor and subject) that every render request
carries. The GUI side keeps only what the overlays and the readout need: the last detection, the aligned faces
(with the dlib descriptor of each, the identity reference) and which inverted latent came from which aligned face.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from memstudio.core.requests import LatentSubject, PhotoSubject
from memstudio.core.session.faces import (
    NO_STYLEGAN,
    AlignedFace,
    AlignFace,
    DetectFaces,
    Detection,
    InvertFace,
    MeasureIdentity,
    box_outline,
    identity_text,
    to_canvas,
)
from memstudio.engine import Failure, Frame, JobDone
from memstudio.engine.commands import RequestHandle
from memstudio.ui.debounce import Debouncer
from memstudio.ui.features.faces.panel import SPACES, FacePanel
from memstudio.ui.studio_context import StudioContext

PREFIX = "faces:"
NO_ALIGNED_FACE = "align a face first: open a photo, Detect faces, then Align"
#: Quiet time after the last frame change before the identity descriptor is recomputed: a slider drag
#: yields dozens of frames and a descriptor costs ~0.3 s on a CPU.
IDENTITY_DEBOUNCE_MS = 300


class FacesFeature(QObject):
    """The Faces dock. Signals say when engine work has landed (the tests and other features wait on them):
    ``detected(Detection)``, ``aligned(AlignedFace)``, ``inverted(dict)``, ``identity_shown(dict)``,
    ``ovalize_applied(list)``."""

    detected = Signal(object)
    aligned = Signal(object)
    inverted = Signal(object)
    identity_shown = Signal(object)
    ovalize_applied = Signal(object)

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.state = studio.state
        self.panel = FacePanel()
        studio.live_assessors_changed.connect(lambda live: self.panel.set_assessors([a.name for a in live]))
        self.dock = studio.add_feature_dock(self.panel, "Faces", "facesDock", Qt.DockWidgetArea.RightDockWidgetArea)
        self._ids = itertools.count(1)
        self.detection: Detection | None = None
        self.aligned_faces: dict[str, AlignedFace] = {}  # aligned PNG path → face
        self.latest_aligned: AlignedFace | None = None
        self.latent_sources: dict[str, AlignedFace] = {}  # inverted latent key → the face it came from
        self.inversions: dict[str, dict[str, Any]] = {}  # job id → {"label", "face"}
        self.last_identity: dict[str, Any] | None = None
        self._overlay_subject: object | None = None
        self._identity: RequestHandle | None = None  # the measurement on its way, if any
        self._identity_debounce = Debouncer(IDENTITY_DEBOUNCE_MS, self._request_identity, self)
        studio.closing.connect(self._identity_debounce.stop)  # a pending measurement must not outlive the window

        self.panel.detect_requested.connect(self.detect)
        self.panel.face_selected.connect(self.choose_face)
        self.panel.align_requested.connect(self.align)
        self.panel.ovalize_toggled.connect(self._ovalize_toggled)
        self.panel.invert_requested.connect(self.invert)
        self.panel.set_invert_available(NO_STYLEGAN)
        studio.browser.latent_chosen.connect(self.show_latent)
        self.state.subject_changed.connect(self._subject_changed)
        self.state.generator_changed.connect(self._generator_changed)
        studio.frame_changed.connect(self._frame_changed)

    def _generator_changed(self, generator: Any) -> None:
        """Invert needs a StyleGAN: the button says so (disabled, with what to do) until one is current."""
        self.panel.set_invert_available(None if generator is not None and generator.stylegan else NO_STYLEGAN)

    # ----- commands -------------------------------------------------------------------------------------
    def _submit(self, kind: str, command: Any) -> tuple[str, RequestHandle]:
        """A one-shot command as an engine request (no job card), and the id it goes by."""
        job_id = f"{PREFIX}{kind}-{next(self._ids)}"
        return job_id, self.studio.engine.request(command)

    def _face_step(self, kind: str, command: Any, landed: Any) -> str:
        """Detection and alignment: the buttons are busy until the command lands or fails."""
        self.panel.set_busy(True)
        job_id, handle = self._submit(kind, command)
        handle.done.connect(lambda result: (self.panel.set_busy(False), landed(result)))
        handle.failed.connect(self._step_failed)
        return job_id

    def _step_failed(self, failure: Failure) -> None:
        # The window's message bar already shows the core's message; the dock repeats it where the user looks.
        self.panel.set_busy(False)
        self.panel.set_status(failure.message, problem=True)

    # ----- detection ------------------------------------------------------------------------------------
    def _current_photo(self) -> str | None:
        subject = self.state.subject
        return subject.path if isinstance(subject, PhotoSubject) else None

    def detect(self) -> str:
        """Find the faces of the photo on the canvas (engine command); returns the job id, "" if no photo."""
        path = self._current_photo()
        if path is None:
            self._problem("open a photo first: face detection works on the photo on the canvas")
            return ""
        self.panel.set_status(f"detecting faces in {Path(path).name}…")
        return self._face_step("detect", DetectFaces(path), self._detected)

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
        """FFHQ-align the chosen face of the photo on the canvas (engine command); returns the job id."""
        path = self._current_photo()
        if path is None:
            self._problem("open a photo first: alignment works on the photo on the canvas")
            return ""
        detection = self.detection if self.detection is not None and self.detection.path == path else None
        faces = tuple(detection.faces) if detection is not None else None
        index = self.panel.selected_face() if detection is not None else None
        self.panel.set_status(f"aligning the face in {Path(path).name}…")
        command = AlignFace(path, faces=faces, face_index=index, size=self.panel.align_size())
        return self._face_step("align", command, self._aligned)

    def _aligned(self, face: AlignedFace) -> None:
        self.aligned_faces[face.path] = face
        self.latest_aligned = face
        self.studio.browser.add_paths([Path(face.path)])
        subject = PhotoSubject(face.path)
        self._overlay_subject = subject  # before the subject changes, so the new overlay is not cleared
        self.studio.open_photo(face.path)
        self.studio.canvas.set_points(face.points)
        self._say(face.summary)
        self.aligned.emit(face)

    # ----- ovalization ----------------------------------------------------------------------------------
    def _ovalize_toggled(self, name: str, on: bool) -> None:
        """A setting of the subject on the canvas: its next request (and every score of it) carries it."""
        names = self.state.set_ovalize(name, on)
        self._say(f"ovalized before scoring: {', '.join(names) or 'none'}")
        self.ovalize_applied.emit(names)

    # ----- inversion ------------------------------------------------------------------------------------
    def _aligned_for_subject(self) -> AlignedFace | None:
        """The aligned face the current image belongs to (itself, its inversion, or its source photo)."""
        subject = self.state.subject
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
        generator = self.state.session.generator
        if generator is None or not generator.stylegan:
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
        command = InvertFace(
            target=face.path,
            key=f"face:{label}",
            label=label,
            latent_path=str(Path(face.path).with_name(f"{stem}.npz")),
            settings={"space": space, "num_steps": steps, "w_first": w_first},
            loss=self.panel.loss_name(),
            space_label=SPACES[self.panel.space.currentIndex()][0],
        )
        job_id = f"{PREFIX}invert-{next(self._ids)}"
        self.inversions[job_id] = {"label": label, "face": face}
        handle = self.studio.engine.submit(command, job_id)
        # ``ended`` comes after the Jobs dock has written its generic summary on the card (it connected first):
        # a failed or cancelled inversion still keeps the best latent so far (``command.outcome``).
        handle.ended.connect(lambda done: self._inversion_ended(done, done.result if done.result else command.outcome))
        self._say(f"inverting {label}: follow it in the Jobs dock (Cancel keeps the best latent so far)")
        return job_id

    def _unique_label(self, stem: str) -> tuple[str, int]:
        """The entry's name: the photo's, numbered from the second inversion of the same photo on."""
        taken = {info["label"] for info in self.inversions.values()}
        if stem not in taken:
            return stem, 1
        number = next(n for n in itertools.count(2) if f"{stem} ({n})" not in taken)
        return f"{stem} ({number})", number

    def _inversion_ended(self, done: JobDone, outcome: dict[str, Any]) -> None:
        """The latent joins the browser and goes on the canvas, the card says what was kept, and then
        :attr:`inverted` tells the tests and other features the inversion has landed."""
        job = self.inversions[done.job_id]
        error, cancelled = (None if done.cancelled else done.error), done.cancelled
        if not outcome.get("key"):
            if error:
                self.panel.set_status(f"inversion of {job['label']} failed: {error}", problem=True)
            if cancelled:
                self._say(f"inversion of {job['label']} cancelled before its first step: nothing to keep")
            return
        self.latent_sources[outcome["key"]] = job["face"]
        self.state.session.add_latent(outcome["key"], outcome["label"], outcome["generator_hash"])
        self.studio.browser.add_latent(outcome["key"], outcome["label"], outcome.get("thumbnail"))
        text = f"{outcome['label']}: {outcome['space']} latent, {outcome['steps']} steps"
        if outcome.get("psnr") is not None:
            text += f", PSNR {outcome['psnr']:.1f} dB"
        text += f" → {outcome['path']}"
        if error:
            text = f"failed ({error}); kept the best latent so far ({text})"
        elif cancelled:
            text = f"cancelled; kept the best latent so far ({text})"
        if outcome.get("registered"):
            self.show_latent(outcome["key"])
        else:
            text += " — the generator changed meanwhile: open the one it was made with to see it"
        self._say(text)
        card = self.studio.jobs.card(done.job_id)
        if card is not None:
            card.say(text)
        self.inverted.emit(dict(outcome, cancelled=cancelled))

    def show_latent(self, key: str) -> None:
        """Put an inverted face (a latent entry of the seed browser) on the canvas."""
        self.studio.browser.select_latent(key)
        subject = LatentSubject(key)
        if self.state.session.shows(subject):
            self.studio.request_frame()
        else:
            self.state.set_subject(subject)

    # ----- identity -------------------------------------------------------------------------------------
    def _frame_changed(self, _frame: Frame) -> None:
        self._supersede_identity()  # anything on its way is of an image no longer shown
        if self._aligned_for_subject() is None:
            self.panel.set_identity("identity: align a face to compare")
            return
        self._identity_debounce.throttle()  # restarts: only the frame that stays 300 ms is measured

    def _supersede_identity(self) -> None:
        """A pending measurement is of a frame no longer shown: cancelled, its answer is never delivered."""
        if self._identity is not None and not self._identity.settled:
            self._identity.cancel()
        self._identity = None

    def _request_identity(self) -> str:
        face, frame = self._aligned_for_subject(), self.studio.current_frame
        if face is None or frame is None:
            return ""
        self._supersede_identity()
        subject = self.state.subject
        on_source = isinstance(subject, PhotoSubject) and subject.path == face.source
        command = MeasureIdentity.of(frame.tensor, face, on_source)
        job_id, handle = self._submit("identity", command)
        self._identity = handle
        handle.done.connect(self._identity_ready)
        handle.failed.connect(lambda failure: self.panel.set_identity(f"identity: {failure.message}"))
        return job_id

    def _identity_ready(self, result: dict[str, Any]) -> None:
        self.last_identity = result
        if result.get("distance") is None:
            self.panel.set_identity(identity_text(result))
        else:
            self.panel.set_identity(identity_text(result), result["same_person"])
        self.identity_shown.emit(result)

    # ----- state ----------------------------------------------------------------------------------------
    def _show_points(self, subject: PhotoSubject, points: np.ndarray) -> None:
        self._overlay_subject = subject
        if self.state.subject != subject:
            self.studio.open_photo(subject.path)
        self.studio.canvas.set_points(points)

    def _subject_changed(self) -> None:
        self.panel.show_ovalized(self.state.session.ovalized())  # ovalize is a setting of each subject
        if self._overlay_subject is not None and self.state.subject != self._overlay_subject:
            self._overlay_subject = None
            self.studio.canvas.set_points(None)  # landmarks of another image

    def _say(self, text: str) -> None:
        self.panel.set_status(text)
        self.studio.statusBar().showMessage(text, 10_000)

    def _problem(self, text: str) -> None:
        self.panel.set_status(text, problem=True)
        self.studio.messages.show_problem(text)


def install(studio: StudioContext) -> FacesFeature:
    return FacesFeature(studio)
