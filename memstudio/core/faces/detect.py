"""Finding every face in a photo with MTCNN (facenet-pytorch's shipped weights).

Paper 001 uses MTCNN to find the face before ovalizing; the studio also uses it to let the user pick one face
when a photo has several, and to seed the dlib landmark step (see :mod:`memstudio.core.faces.landmarks`).
The detector is loaded once per process and device because building it costs more than a detection.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from memstudio.core.errors import FaceError, ModelUnavailableError

#: Longest side a photo is reduced to before detection. MTCNN's image pyramid grows with the photo; at this
#: size a 64-px face (our minimum) in a 2048-px photo is still 32 px, above MTCNN's 20-px smallest scale.
DETECT_MAX_SIDE = 1024

#: MTCNN's smallest pyramid level looks for 20-px faces with a 12-px window; below this side an image has no
#: level at all (facenet-pytorch then fails inside torch.cat), so smaller images simply hold no face.
MIN_IMAGE_SIDE = 24

#: Faces whose box has a shorter side below this are refused: the FFHQ crop around them would be upsampled
#: from too few pixels for an inversion to recover a face (and dlib's predictor is unreliable below it).
MIN_FACE_SIZE = 64

#: MTCNN's final-stage probability below which a box is not reported as a face. MTCNN's own last threshold
#: is 0.7; on photos with textured backgrounds that lets through patches, badges and pets.
MIN_PROBABILITY = 0.9

_lock = threading.Lock()
_detectors: dict[str, object] = {}


@dataclass(frozen=True)
class DetectedFace:
    """One MTCNN face: box ``(x0, y0, x1, y1)`` in pixels, probability, and 5 landmarks.

    ``landmarks`` is ``[5, 2]`` (x, y) in MTCNN's order: eye, eye, nose tip, mouth corner, mouth corner, the
    first of each pair being the one on the image's left.
    """

    box: tuple[float, float, float, float]
    probability: float
    landmarks: np.ndarray

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def size(self) -> float:
        """Shorter side of the box: what the 64-px minimum is measured on."""
        return min(self.width, self.height)

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def to_json(self) -> dict[str, object]:
        return {
            "box": [round(float(v), 2) for v in self.box],
            "probability": round(float(self.probability), 5),
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks],
        }


def _detector(device: torch.device) -> object:
    """The MTCNN for ``device``, built on first use and shared afterwards."""
    key = str(device)
    with _lock:
        if key not in _detectors:
            try:
                from facenet_pytorch import MTCNN
            except ImportError as exc:  # a broken install, not a user error we can fix in code
                raise ModelUnavailableError(
                    "face detection needs facenet-pytorch 2.5.3 (pip install facenet-pytorch==2.5.3)"
                ) from exc
            _detectors[key] = MTCNN(device=device, keep_all=True)
        return _detectors[key]


def detect_faces(
    image: Image.Image,
    device: torch.device | str | None = None,
    min_probability: float = MIN_PROBABILITY,
) -> list[DetectedFace]:
    """Every face MTCNN finds in ``image``, largest box first (the default face everywhere)."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    rgb = image.convert("RGB")
    if min(rgb.size) < MIN_IMAGE_SIDE:
        return []
    scale = 1.0
    if max(rgb.size) > DETECT_MAX_SIDE:
        scale = max(rgb.size) / DETECT_MAX_SIDE
        small = (max(1, round(rgb.width / scale)), max(1, round(rgb.height / scale)))
        rgb = rgb.resize(small, Image.Resampling.BILINEAR)
    mtcnn = _detector(device)
    with torch.inference_mode():
        boxes, probs, points = mtcnn.detect(rgb, landmarks=True)
    if boxes is None:
        return []
    faces = [
        DetectedFace(
            box=tuple(float(v) * scale for v in box),
            probability=float(prob),
            landmarks=np.asarray(pts, dtype=np.float64) * scale,
        )
        for box, prob, pts in zip(boxes, probs, points, strict=True)
        if prob is not None and float(prob) >= min_probability
    ]
    faces.sort(key=lambda f: f.area, reverse=True)
    return faces


def select_face(
    faces: list[DetectedFace],
    index: int | None = None,
    source: str = "the photo",
    min_size: float = MIN_FACE_SIZE,
    require_single: bool = False,
) -> DetectedFace:
    """The face to work on: ``index`` into the largest-first list, the largest by default.

    Raises :class:`FaceError` for no face, an index that does not exist, several faces when the caller asked
    for exactly one, and a face smaller than ``min_size`` pixels.
    """
    if not faces:
        raise FaceError(f"{source}: no face found (MTCNN found no face with probability ≥ {MIN_PROBABILITY})")
    if require_single and len(faces) > 1 and index is None:
        raise FaceError(f"{source}: {len(faces)} faces found; choose one ({_describe_faces(faces)})")
    chosen = 0 if index is None else index
    if not 0 <= chosen < len(faces):
        raise FaceError(
            f"{source}: face index {index} does not exist; "
            f"{len(faces)} face(s) found ({_describe_faces(faces)})"
        )
    face = faces[chosen]
    if face.size < min_size:
        raise FaceError(
            f"{source}: the face is {face.size:.0f} px across, under the {min_size:.0f}-px minimum; "
            "use a larger or closer photo of the face"
        )
    return face


def _describe_faces(faces: list[DetectedFace]) -> str:
    return ", ".join(
        f"{i}: {f.width:.0f}×{f.height:.0f} px at ({f.box[0]:.0f}, {f.box[1]:.0f})"
        for i, f in enumerate(faces)
    )
