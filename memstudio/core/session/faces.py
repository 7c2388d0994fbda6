"""The faces feature's commands: detect, align, measure identity, invert (paper 001's face pipeline).

Each is a frozen value run on the engine thread (``Engine.submit``) or by the CLI with a pipeline of its own,
and hands plain values back: :class:`DetectFaces` → :class:`Detection`, :class:`AlignFace` →
:class:`AlignedFace`, :class:`MeasureIdentity` → a dict, and the job :class:`InvertFace` → an outcome dict.
``memstudio align`` and ``memstudio invert`` run the same alignment (:meth:`AlignFace.align`) and the same
inversion (:class:`InvertFace`) as the Faces dock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from memstudio.core.errors import FaceError, MemstudioError
from memstudio.core.jobs import Progress

if TYPE_CHECKING:
    from PIL import Image

    from memstudio.core.faces.align import AlignedFace as CoreAlignedFace
    from memstudio.core.generators.base import Generator, Latent
    from memstudio.core.imaging import LoadedImage
    from memstudio.core.pipeline import Pipeline

NO_STYLEGAN = "open a StyleGAN generator first (File ▸ Open generator…)"
#: Side of an aligned face without a StyleGAN to match (FFHQ's).
FFHQ_SIZE = 1024
#: Side of the seed-browser thumbnail of an inverted face (the browser's icon size).
THUMB = 112


@dataclass(frozen=True)
class Detection:
    """Faces MTCNN found in ``path`` (source pixels, largest first) and how to draw them on the canvas."""

    path: str
    faces: list[Any]  # memstudio.core.faces.detect.DetectedFace
    scale: float  # canvas pixels per source pixel (the studio shows photos reduced to the edit side)
    problems: list[str | None]  # per face: why it cannot be aligned (too small), or None
    problem: str | None  # no face at all / the largest is too small


@dataclass(frozen=True)
class AlignedFace:
    """An aligned face written to the cache: the identity reference for everything made from it."""

    path: str
    source: str
    face_index: int
    size: int
    points: np.ndarray  # landmarks on the aligned photo, canvas pixels
    landmarks: Any  # FaceLandmarks in aligned pixels (identity fallback geometry)
    descriptor: np.ndarray  # dlib's 128-D descriptor of the aligned face
    source_centre: tuple[float, float]  # the face's centre on the source photo, canvas pixels
    summary: str


def to_canvas(points: np.ndarray, scale: float) -> np.ndarray:
    """Pixel-index coordinates of an image → those of the same image resized by ``scale``."""
    return (np.asarray(points, dtype=np.float64) + 0.5) * scale - 0.5


def box_outline(box: tuple[float, float, float, float], per_side: int = 14) -> np.ndarray:
    """Points along a box's edges: the canvas draws points only, so a box becomes a dotted outline."""
    x0, y0, x1, y1 = box
    t = np.linspace(0.0, 1.0, per_side, endpoint=False)
    top = np.stack([x0 + (x1 - x0) * t, np.full_like(t, y0)], axis=1)
    right = np.stack([np.full_like(t, x1), y0 + (y1 - y0) * t], axis=1)
    bottom = np.stack([x1 - (x1 - x0) * t, np.full_like(t, y1)], axis=1)
    left = np.stack([np.full_like(t, x0), y1 - (y1 - y0) * t], axis=1)
    return np.concatenate([top, right, bottom, left])


def aligned_folder(source: str) -> Path:
    """Where a photo's aligned faces go: one cache folder per source path, so equal names never collide."""
    from memstudio.core.checkpoints import cache_dir

    digest = hashlib.sha1(str(Path(source).resolve()).encode("utf-8")).hexdigest()[:10]
    folder = cache_dir() / "aligned" / digest
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def is_stylegan(generator: Generator | None) -> bool:
    """Inversion and the auto align size need a generator with a W space (a StyleGAN)."""
    return generator is not None and "w" in generator.spaces


@dataclass(frozen=True)
class DetectFaces:
    """Detect the faces of the photo file (full resolution up to 2048 px) and relate them to the canvas."""

    path: str

    @property
    def title(self) -> str:
        return f"Detect faces in {Path(self.path).name}"

    def run(self, pipeline: Pipeline) -> Detection:
        from memstudio.core.faces.detect import detect_faces, select_face
        from memstudio.core.imaging import load_image

        loaded = load_image(self.path)
        faces = detect_faces(loaded.image, device=pipeline.device)
        _, shown = pipeline.photo(self.path)
        name = Path(self.path).name
        problems: list[str | None] = []
        for index in range(len(faces)):
            try:
                select_face(faces, index, source=name)
                problems.append(None)
            except FaceError as exc:
                problems.append(str(exc))
        problem = None
        if not faces:
            try:
                select_face(faces, source=name)
            except FaceError as exc:
                problem = str(exc)
        else:
            problem = problems[0]
        return Detection(self.path, faces, shown.image.width / loaded.image.width, problems, problem)


@dataclass(frozen=True)
class AlignFace:
    """FFHQ-align face ``face_index`` (largest if None) of ``path``; ``faces`` are a detection to reuse (None:
    detect here) and ``size`` None means the current StyleGAN's resolution (FFHQ's 1024 without one).

    :meth:`run` (the studio) writes the face into the cache and returns an :class:`AlignedFace`;
    :meth:`align` (shared with ``memstudio align`` and ``invert``) only aligns.
    """

    path: str
    faces: tuple[Any, ...] | None = None
    face_index: int | None = None
    size: int | None = None
    use_dlib: bool = True
    source_name: str = ""  # how messages name the photo (default: its file name)

    @property
    def title(self) -> str:
        return f"Align the face in {Path(self.path).name}"

    def side(self, generator: Generator | None) -> int:
        if self.size is not None:
            return self.size
        return int(generator.resolution) if is_stylegan(generator) else FFHQ_SIZE

    def align(
        self, device: Any, generator: Generator | None = None
    ) -> tuple[LoadedImage, list[Any], CoreAlignedFace]:
        """Load the photo, detect (unless given) and align: the photo, its faces and the aligned face."""
        from memstudio.core.faces.align import align_face
        from memstudio.core.faces.detect import detect_faces
        from memstudio.core.imaging import load_image

        loaded = load_image(self.path)
        faces = list(self.faces) if self.faces is not None else detect_faces(loaded.image, device=device)
        result = align_face(
            loaded.image,
            self.side(generator),
            face_index=self.face_index,
            faces=faces,
            device=device,
            source=self.source_name or Path(self.path).name,
            use_dlib=self.use_dlib,
        )
        return loaded, faces, result

    def run(self, pipeline: Pipeline) -> AlignedFace:
        from memstudio.core.atomic import save_image_atomic
        from memstudio.core.faces.identity import face_descriptor

        loaded, _, result = self.align(pipeline.device, pipeline.generator)
        size = result.size
        chosen = 0 if self.face_index is None else self.face_index
        name = Path(self.path).name
        out = aligned_folder(self.path) / f"{Path(self.path).stem}-face{chosen + 1}-{size}.png"
        save_image_atomic(result.image, out, format="PNG")
        landmarks = result.aligned_landmarks
        descriptor = face_descriptor(result.image, landmarks)
        _, shown = pipeline.photo(str(out))
        _, source_shown = pipeline.photo(self.path)
        source_scale = source_shown.image.width / loaded.image.width
        box = result.face.box
        centre = to_canvas(np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]]), source_scale)[0]
        summary = (
            f"aligned face {chosen + 1} of {name} to {size}×{size} px ({landmarks.source} landmarks, "
            f"roll {result.pose.roll_degrees:.0f}°) → {out.name}"
        )
        return AlignedFace(
            path=str(out),
            source=self.path,
            face_index=chosen,
            size=size,
            points=to_canvas(landmarks.points, shown.image.width / size),
            landmarks=landmarks,
            descriptor=descriptor,
            source_centre=(float(centre[0]), float(centre[1])),
            summary=summary,
        )


@dataclass(frozen=True)
class MeasureIdentity:
    """dlib distance between ``reference`` (an aligned face's descriptor) and the face in ``frame``.

    The face is found again in every frame (edits move it); the one nearest ``expected_centre`` (or the
    image centre) is used. On aligned-geometry frames too small for MTCNN (a test-sized generator), the
    aligned face's own landmarks (``fallback``, at ``fallback_size``), scaled to the frame, stand in.
    """

    frame: Any  # torch.Tensor [1, 3, H, W]
    reference: np.ndarray
    expected_centre: tuple[float, float] | None
    fallback: Any  # FaceLandmarks | None
    fallback_size: int
    title: str = "Identity of the frame"

    @classmethod
    def of(cls, frame: Any, face: AlignedFace, on_source: bool) -> MeasureIdentity:
        """The studio's identity readout: ``frame`` against ``face``. On its source photo (``on_source``) the
        face is looked for where it was found; on its aligned image or an inversion, the aligned landmarks
        stand in when MTCNN finds none."""
        return cls(
            frame=frame,
            reference=face.descriptor,
            expected_centre=face.source_centre if on_source else None,
            fallback=None if on_source else face.landmarks,
            fallback_size=face.size,
        )

    def run(self, pipeline: Pipeline) -> dict[str, Any]:
        from memstudio.core.faces.detect import detect_faces
        from memstudio.core.faces.identity import SAME_PERSON_THRESHOLD, face_descriptor, identity_distance
        from memstudio.core.faces.landmarks import FaceLandmarks, face_landmarks
        from memstudio.core.imaging import tensor_to_pil

        image = tensor_to_pil(self.frame)
        result: dict[str, Any] = {"threshold": SAME_PERSON_THRESHOLD, "distance": None}
        faces = detect_faces(image, device=pipeline.device)
        if faces:
            cx, cy = self.expected_centre or ((image.width - 1) / 2, (image.height - 1) / 2)
            face = min(
                faces, key=lambda f: ((f.box[0] + f.box[2]) / 2 - cx) ** 2 + ((f.box[1] + f.box[3]) / 2 - cy) ** 2
            )
            landmarks, how = face_landmarks(image, face), "detected"
        elif self.fallback is not None:
            scale = image.width / self.fallback_size
            landmarks = FaceLandmarks(points=to_canvas(self.fallback.points, scale), source=self.fallback.source)
            how = "aligned geometry"
        else:
            result["note"] = "no face found in this frame"
            return result
        distance = identity_distance(self.reference, face_descriptor(image, landmarks))
        result.update(distance=distance, same_person=distance < SAME_PERSON_THRESHOLD, landmarks=how)
        return result


def identity_text(result: dict[str, Any]) -> str:
    """How the Faces dock and ``memstudio session render --identity`` say a :class:`MeasureIdentity` result."""
    if result.get("distance") is None:
        return f"identity: {result['note']}"
    threshold = result["threshold"]
    verdict = f"same person (< {threshold})" if result["same_person"] else f"different person (≥ {threshold})"
    return f"identity distance {result['distance']:.2f} — {verdict}"


@dataclass(frozen=True)
class InvertFace:
    """Invert an aligned face into the current StyleGAN, save the latent and hold it under ``key``.

    ``target`` is the aligned image (a file, or a PIL image the CLI aligned in memory); ``settings`` are
    :class:`~memstudio.core.faces.invert.InversionSettings` fields. Whether the job finishes, fails or is
    cancelled (``close()``), the latent it ends with — the final one, or the best seen so far — is saved to
    ``latent_path``, held by the pipeline for the generator it was made with and described in the result
    dict. A closed job has no return value, so the description is also written to :attr:`outcome` before the
    engine reports the job ended (the GUI reads it on ``cancelled`` / ``failed``).
    """

    target: str | Image.Image
    key: str
    label: str
    latent_path: str
    settings: dict[str, Any] = field(default_factory=dict)
    loss: str = "auto"
    vgg16: str | None = None
    lpips: str | None = None
    space_label: str = ""  # how the title names the space ("W → W+"); default: the space itself
    outcome: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def title(self) -> str:
        space = self.space_label or str(self.settings.get("space", "w+")).upper()
        return f"Inverting {self.label} into {space} ({self.settings.get('num_steps', 1000)} steps)"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        from memstudio.core.faces.invert import InversionSettings, InversionState, invert
        from memstudio.core.faces.perceptual import make_loss
        from memstudio.core.imaging import load_image

        generator = pipeline.generator
        if not is_stylegan(generator):
            raise MemstudioError(NO_STYLEGAN)
        settings = InversionSettings(**self.settings)
        target = load_image(self.target).image if isinstance(self.target, str) else self.target
        loss = make_loss(self.loss, self.vgg16, self.lpips, device=pipeline.device)
        state = InversionState()
        job = invert(generator, target, settings, loss=loss, label=self.label, state=state)
        return self._steps(pipeline, generator, pipeline.generator_hash or "", job, state, loss.name)

    def _steps(
        self,
        pipeline: Pipeline,
        generator: Generator,
        owner: str,
        job: Iterator[Progress],
        state: Any,
        loss_name: str,
    ) -> Iterator[Progress]:
        latent = None
        try:
            latent = yield from job
        finally:
            kept = latent if latent is not None else state.best
            if kept is not None:
                self.outcome.update(self.keep(pipeline, generator, owner, kept), loss_name=loss_name)
        return dict(self.outcome)

    def keep(self, pipeline: Pipeline, generator: Generator, owner: str, latent: Latent) -> dict[str, Any]:
        """Save the latent file, render its thumbnail, and hold it under :attr:`key` for ``generator`` (hash
        ``owner``): shown now if it is still current, else when it is opened again."""
        import torch
        import torch.nn.functional as F

        from memstudio.core.faces.invert import render_latent
        from memstudio.core.faces.latent_file import save_latent
        from memstudio.core.imaging import tensor_to_uint8

        latent = latent.to(pipeline.device)
        path = save_latent(self.latent_path, latent)
        with torch.no_grad():
            image = render_latent(generator, latent).float().clamp(0, 1)
        if image.shape[-1] > THUMB:
            image = F.interpolate(image, size=(THUMB, THUMB), mode="bilinear", antialias=True, align_corners=False)
        pipeline.hold_latent(self.key, latent, for_generator=owner, path=path)
        registered = pipeline.generator_hash == owner
        extras = latent.extras if isinstance(latent.extras, dict) else {}
        return {
            "key": self.key,
            "label": self.label,
            "path": str(path),
            "space": latent.space,
            "steps": int(extras.get("steps", 0)),
            "loss": float(extras.get("loss", float("nan"))),
            "psnr": extras.get("psnr"),
            "thumbnail": tensor_to_uint8(image.cpu())[0],
            "registered": registered,
            "generator_hash": owner,
        }
