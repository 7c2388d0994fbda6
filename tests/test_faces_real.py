"""Real MTCNN and dlib models on the astronaut photo (scikit-image's, public domain): detection, alignment
invariance, refusals, identity and ovalization with detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from memstudio.core.assessors.base import Assessor
from memstudio.core.errors import FaceError
from memstudio.core.faces.align import align_face
from memstudio.core.faces.detect import detect_faces, select_face
from memstudio.core.faces.identity import SAME_PERSON_THRESHOLD, compare_identity, face_descriptor
from memstudio.core.faces.ovalize import Ovalized, detect_ovals
from memstudio.core.imaging import pil_to_tensor

ASTRONAUT = Path(__file__).resolve().parents[1] / "assets" / "photos" / "astronaut.png"
SIZE = 128


class MeanLuma(Assessor):
    name = "meanluma"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    if not ASTRONAUT.is_file():
        pytest.skip(f"{ASTRONAUT} is missing (sample photos not installed)")
    return Image.open(ASTRONAUT).convert("RGB")


@pytest.fixture(scope="module")
def faces(astronaut):
    return detect_faces(astronaut)


@pytest.fixture(scope="module")
def reference(astronaut, faces):
    return align_face(astronaut, SIZE, faces=faces)


def test_detection_finds_one_face_with_five_landmarks(faces):
    assert len(faces) == 1
    face = faces[0]
    assert face.probability > 0.99
    assert face.landmarks.shape == (5, 2)
    # Eileen Collins' face sits around x 180–270, y 60–175 of the 512-px photo; eyes above the mouth.
    x0, y0, x1, y1 = face.box
    assert 150 < x0 < x1 < 300 and 40 < y0 < y1 < 200
    assert face.landmarks[0, 0] < face.landmarks[1, 0]
    assert face.landmarks[:2, 1].max() < face.landmarks[3:, 1].min()


def test_alignment_uses_dlib_and_puts_eyes_where_ffhq_does(reference):
    assert reference.landmarks.source == "dlib68"
    assert reference.landmarks.points.shape == (68, 2)
    assert reference.image.size == (SIZE, SIZE)
    lm = reference.aligned_landmarks
    # FFHQ geometry: eyes a quarter of the side apart, just above the centre line.
    assert np.hypot(*(lm.eye_right - lm.eye_left)) == pytest.approx(SIZE / 4, rel=0.12)
    assert 0.40 * SIZE < (lm.eye_left[1] + lm.eye_right[1]) / 2 < 0.50 * SIZE


def test_rotated_scaled_shifted_copy_aligns_to_nearly_the_same_face(astronaut, reference):
    moved = astronaut.resize((410, 410), Image.Resampling.LANCZOS).rotate(
        20, resample=Image.Resampling.BICUBIC, expand=True
    )
    canvas = Image.new("RGB", (760, 640), (40, 40, 40))
    canvas.paste(moved, (170, 60))
    again = align_face(canvas, SIZE)
    a = np.asarray(reference.image, dtype=np.float64)
    b = np.asarray(again.image, dtype=np.float64)
    # Threshold: what shifting the reference by a single aligned pixel costs. A copy that re-aligns to
    # within a pixel must differ less than that (measured: ~3–5 vs ~8 grey levels).
    one_pixel = np.abs(a[:, 1:] - a[:, :-1]).mean()
    assert np.abs(a - b).mean() < one_pixel
    drift = np.abs(again.aligned_landmarks.points - reference.aligned_landmarks.points).mean()
    assert drift < 1.0


def test_no_face_and_tiny_face_are_refused(astronaut):
    gradient = Image.fromarray(np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))).convert("RGB")
    with pytest.raises(FaceError, match="no face found"):
        align_face(gradient, SIZE, source="gradient.png")
    tiny = astronaut.resize((256, 256), Image.Resampling.LANCZOS)
    faces = detect_faces(tiny)
    assert len(faces) == 1
    with pytest.raises(FaceError, match="under the 64-px minimum"):
        align_face(tiny, SIZE, faces=faces)
    with pytest.raises(FaceError, match="index 3 does not exist"):
        select_face(faces, 3)
    # Below MTCNN's smallest pyramid level there is no face (facenet-pytorch itself would crash).
    assert detect_faces(Image.new("RGB", (16, 16), (128, 128, 128))) == []


@pytest.mark.slow
def test_identity_distance_self_zero_flipped_larger(astronaut, reference):
    photo = face_descriptor(astronaut)
    assert photo.shape == (128,)
    itself = compare_identity(photo, astronaut, other_landmarks=reference.landmarks)
    assert itself.distance == pytest.approx(0.0, abs=1e-9)
    flipped = compare_identity(photo, astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    aligned = compare_identity(photo, reference.image, other_landmarks=reference.aligned_landmarks)
    assert flipped.distance > 0.02
    # Alignment crops and resamples but keeps the person.
    assert aligned.distance < SAME_PERSON_THRESHOLD and aligned.same_person
    assert itself.to_json()["same_person"] is True


@pytest.mark.slow
def test_detect_geometry_ovalizes_around_the_detected_face(astronaut):
    images = pil_to_tensor(astronaut)
    ovals, fallbacks = detect_ovals(images)
    assert fallbacks == 0
    cx, cy = ovals[0].centre
    assert 200 < cx < 250 and 80 < cy < 160
    wrapped = Ovalized(MeanLuma(), geometry="detect")
    blank = torch.zeros(1, 3, 64, 64)
    assert float(wrapped.score(blank)) > 0.5  # no face: aligned oval, white surround
    assert wrapped.last_fallbacks == 1
