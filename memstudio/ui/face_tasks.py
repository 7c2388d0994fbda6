"""The faces feature's work on the engine thread: detection, alignment, identity, inversion (no widgets).

Split from :mod:`memstudio.ui.features.faces` so the feature module holds only the Qt wiring; these functions
take the engine's pipeline and return plain values the GUI thread can show.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memstudio.core.errors import FaceError, MemstudioError
from memstudio.ui.face_panel import FFHQ_SIZE

NO_STYLEGAN = "open a StyleGAN generator first (File ▸ Open generator…)"

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


def detect_in_photo(pipeline: Any, path: str) -> Detection:
    """Detect faces in the photo file (full resolution up to 2048 px) and relate them to the canvas."""
    from memstudio.core.faces.detect import detect_faces, select_face
    from memstudio.core.imaging import load_image

    loaded = load_image(path)
    faces = detect_faces(loaded.image, device=pipeline.device)
    _, shown = pipeline.photo(path)
    name = Path(path).name
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
    return Detection(path, faces, shown.image.width / loaded.image.width, problems, problem)


def aligned_folder(source: str) -> Path:
    """Where a photo's aligned faces go: one cache folder per source path, so equal names never collide."""
    from memstudio.core.checkpoints import cache_dir

    digest = hashlib.sha1(str(Path(source).resolve()).encode("utf-8")).hexdigest()[:10]
    folder = cache_dir() / "aligned" / digest
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def align_in_photo(
    pipeline: Any, path: str, faces: list[Any] | None, index: int | None, size: int | None
) -> AlignedFace:
    """FFHQ-align face ``index`` (largest if None; detected here if ``faces`` is None) and write the PNG."""
    from memstudio.core.atomic import save_image_atomic
    from memstudio.core.faces.align import align_face
    from memstudio.core.faces.identity import face_descriptor
    from memstudio.core.imaging import load_image

    generator = pipeline.generator
    if size is None:
        size = int(generator.resolution) if generator is not None and "w" in generator.spaces else FFHQ_SIZE
    loaded = load_image(path)
    name = Path(path).name
    result = align_face(loaded.image, size, face_index=index, faces=faces, device=pipeline.device, source=name)
    chosen = 0 if index is None else index
    out = aligned_folder(path) / f"{Path(path).stem}-face{chosen + 1}-{size}.png"
    save_image_atomic(result.image, out, format="PNG")
    landmarks = result.aligned_landmarks
    descriptor = face_descriptor(result.image, landmarks)
    _, shown = pipeline.photo(str(out))
    _, source_shown = pipeline.photo(path)
    source_scale = source_shown.image.width / loaded.image.width
    box = result.face.box
    centre = to_canvas(np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]]), source_scale)[0]
    summary = (
        f"aligned face {chosen + 1} of {name} to {size}×{size} px ({landmarks.source} landmarks, "
        f"roll {result.pose.roll_degrees:.0f}°) → {out.name}"
    )
    return AlignedFace(
        path=str(out),
        source=path,
        face_index=chosen,
        size=size,
        points=to_canvas(landmarks.points, shown.image.width / size),
        landmarks=landmarks,
        descriptor=descriptor,
        source_centre=(float(centre[0]), float(centre[1])),
        summary=summary,
    )


def set_ovalize(pipeline: Any, names: frozenset[str]) -> list[str]:
    """Make the pipeline score ``names`` on an oval around the detected face (the live scores follow)."""
    pipeline.ovalize = set(names)
    return sorted(names)


def identity_of_frame(
    pipeline: Any,
    live: dict[str, int],
    generation: int,
    tensor: Any,
    reference: np.ndarray,
    expected_centre: tuple[float, float] | None,
    fallback: Any,
    fallback_size: int,
) -> dict[str, Any] | None:
    """dlib distance between the reference descriptor and the face in the frame; None if superseded.

    The face is found again in every frame (edits move it); the one nearest ``expected_centre`` (or the
    image centre) is used. On aligned-geometry frames too small for MTCNN (a test-sized generator), the
    aligned face's own landmarks, scaled to the frame, stand in.
    """
    if live["identity"] != generation:
        return None
    from memstudio.core.faces.detect import detect_faces
    from memstudio.core.faces.identity import SAME_PERSON_THRESHOLD, face_descriptor, identity_distance
    from memstudio.core.faces.landmarks import FaceLandmarks, face_landmarks
    from memstudio.core.imaging import tensor_to_pil

    image = tensor_to_pil(tensor)
    result: dict[str, Any] = {"generation": generation, "threshold": SAME_PERSON_THRESHOLD, "distance": None}
    faces = detect_faces(image, device=pipeline.device)
    if faces:
        cx, cy = expected_centre or ((image.width - 1) / 2, (image.height - 1) / 2)
        face = min(faces, key=lambda f: ((f.box[0] + f.box[2]) / 2 - cx) ** 2 + ((f.box[1] + f.box[3]) / 2 - cy) ** 2)
        landmarks, how = face_landmarks(image, face), "detected"
    elif fallback is not None:
        scale = image.width / fallback_size
        landmarks = FaceLandmarks(points=to_canvas(fallback.points, scale), source=fallback.source)
        how = "aligned geometry"
    else:
        result["note"] = "no face found in this frame"
        return result
    distance = identity_distance(reference, face_descriptor(image, landmarks))
    result.update(distance=distance, same_person=distance < SAME_PERSON_THRESHOLD, landmarks=how)
    return result


def inversion_factory(plan: dict[str, Any], outcome: dict[str, Any]) -> Any:
    """A job factory: invert ``plan["target"]`` into the current generator, keep the result as a latent.

    Whether the job finishes or is cancelled (``close()``), the latent it ends with — the final one, or the
    best seen so far — is saved next to the aligned image, held in ``pipeline.latents`` and described in
    ``outcome`` (written before the engine reports the job finished, so the GUI can read it then).
    """

    def factory(pipeline: Any) -> Any:
        from memstudio.core.faces.invert import InversionSettings, InversionState, invert
        from memstudio.core.faces.perceptual import make_loss
        from memstudio.core.imaging import load_image

        generator = pipeline.generator
        if generator is None or "w" not in generator.spaces:
            raise MemstudioError(NO_STYLEGAN)
        settings = InversionSettings(**plan["settings"])
        target = load_image(plan["target"]).image
        loss = make_loss(plan["loss"], device=pipeline.device)
        state = InversionState()
        job = invert(generator, target, settings, loss=loss, label=plan["label"], state=state)
        return _inversion_steps(pipeline, generator, job, state, plan, outcome)

    return factory


def _inversion_steps(
    pipeline: Any, generator: Any, job: Any, state: Any, plan: dict[str, Any], outcome: dict[str, Any]
) -> Any:
    latent = None
    try:
        latent = yield from job
    finally:
        kept = latent if latent is not None else state.best
        if kept is not None:
            outcome.update(keep_inversion(pipeline, generator, kept, plan))
    return dict(outcome)


def keep_inversion(pipeline: Any, generator: Any, latent: Any, plan: dict[str, Any]) -> dict[str, Any]:
    """Save the latent file, render its thumbnail, and hold it as ``pipeline.latents[key]``."""
    import torch
    import torch.nn.functional as F

    from memstudio.core.faces.invert import render_latent
    from memstudio.core.faces.latent_file import save_latent
    from memstudio.core.imaging import tensor_to_uint8

    latent = latent.to(pipeline.device)
    path = save_latent(plan["latent_path"], latent)
    with torch.no_grad():
        image = render_latent(generator, latent).float().clamp(0, 1)
    if image.shape[-1] > THUMB:
        image = F.interpolate(image, size=(THUMB, THUMB), mode="bilinear", antialias=True, align_corners=False)
    registered = pipeline.generator is generator
    if registered:
        pipeline.latents[plan["key"]] = latent
    extras = latent.extras if isinstance(latent.extras, dict) else {}
    return {
        "key": plan["key"],
        "label": plan["label"],
        "path": str(path),
        "space": latent.space,
        "steps": int(extras.get("steps", 0)),
        "loss": float(extras.get("loss", float("nan"))),
        "psnr": extras.get("psnr"),
        "thumbnail": tensor_to_uint8(image.cpu())[0],
        "registered": registered,
    }
