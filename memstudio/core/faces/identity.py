"""Is it still the same person? dlib face descriptors of the photo and of its inversion or edits.

An edit that raises memorability by turning someone into someone else is not what the user asked for, so the
studio shows the distance between dlib's 128-D face descriptors (``dlib_face_recognition_resnet_model_v1``)
of the photo and of each image, against dlib's own 0.6 same-person threshold (99.38 % on LFW at 0.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from memstudio.core.faces.detect import DetectedFace, detect_faces, select_face
from memstudio.core.faces.landmarks import (
    PATCH_FACE,
    PATCH_SIZE,
    FaceLandmarks,
    apply_matrix,
    dlib_landmarks,
    dlib_model,
    levelled_patch,
)

#: dlib's documented decision threshold: descriptors closer than this are the same person.
SAME_PERSON_THRESHOLD = 0.6


@dataclass(frozen=True)
class IdentityCheck:
    """Distance between two faces' descriptors and the verdict at :data:`SAME_PERSON_THRESHOLD`."""

    distance: float
    threshold: float = SAME_PERSON_THRESHOLD

    @property
    def same_person(self) -> bool:
        return self.distance < self.threshold

    def to_json(self) -> dict[str, object]:
        return {
            "distance": round(self.distance, 4),
            "threshold": self.threshold,
            "same_person": self.same_person,
        }


def face_from_landmarks(landmarks: FaceLandmarks) -> DetectedFace:
    """A stand-in MTCNN face built from landmarks, for images whose face geometry is already known.

    The box is centred on the five points with a side of 2.2 eye distances (or eye-to-mouth distances if
    larger): the proportion of an MTCNN box around a frontal face.
    """
    five = np.stack(
        [landmarks.eye_left, landmarks.eye_right, landmarks.nose, landmarks.mouth_left, landmarks.mouth_right]
    )
    eye_avg = (five[0] + five[1]) / 2
    mouth_avg = (five[3] + five[4]) / 2
    side = 2.2 * max(np.hypot(*(five[1] - five[0])), np.hypot(*(mouth_avg - eye_avg)))
    cx, cy = (eye_avg + mouth_avg) / 2
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    return DetectedFace(box=tuple(float(v) for v in box), probability=1.0, landmarks=five)


def _full_landmarks(image: Image.Image, face: DetectedFace) -> np.ndarray:
    """dlib's 68 points for ``face``: dlib's own detection if it confirms the face, else the MTCNN box."""
    found = dlib_landmarks(image, face)
    if found is not None:
        return found.points
    # The descriptor needs 68 points; the predictor still finds them from the MTCNN box on the level patch.
    import dlib

    patch, to_src = levelled_patch(image, face)
    lo, hi = (PATCH_SIZE - PATCH_FACE) // 2, (PATCH_SIZE + PATCH_FACE) // 2
    shape = dlib_model("predictor")(patch, dlib.rectangle(lo, lo, hi, hi))
    return apply_matrix(to_src, np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64))


def face_descriptor(
    image: Image.Image,
    landmarks: FaceLandmarks | None = None,
    face_index: int | None = None,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """dlib's 128-D descriptor of a face in ``image``.

    With ``landmarks`` (e.g. an aligned face's landmarks carried over to its inversion) no detection runs;
    otherwise the face is found with MTCNN (largest, or ``face_index``).
    """
    import dlib

    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    if landmarks is not None and landmarks.source == "dlib68":
        points = landmarks.points
    else:
        if landmarks is not None:
            face = face_from_landmarks(landmarks)
        else:
            face = select_face(detect_faces(image, device=device), face_index, min_size=0)
        points = _full_landmarks(image, face)
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int)
    shape = dlib.full_object_detection(
        dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
        [dlib.point(int(round(x)), int(round(y))) for x, y in points],
    )
    descriptor = dlib_model("recognition").compute_face_descriptor(rgb, shape)
    return np.asarray(descriptor, dtype=np.float64)


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors (what dlib's threshold is defined on)."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def compare_identity(
    photo: Image.Image | np.ndarray,
    other: Image.Image,
    other_landmarks: FaceLandmarks | None = None,
    device: torch.device | str | None = None,
) -> IdentityCheck:
    """Distance between the photo's face (an image, or its descriptor computed once) and ``other``'s."""
    reference = photo if isinstance(photo, np.ndarray) else face_descriptor(photo, device=device)
    return IdentityCheck(identity_distance(reference, face_descriptor(other, other_landmarks, device=device)))
