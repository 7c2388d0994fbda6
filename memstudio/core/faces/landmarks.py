"""Facial landmarks for alignment: dlib's 68 points, with MTCNN's 5 points as the fallback.

Paper 001 aligns real faces with dlib's 68-landmark predictor before projecting them, as FFHQ was built. We
run dlib on a patch that MTCNN's eyes have already levelled and scaled: dlib's HOG frontal detector misses
faces rolled by more than ~30°, and on a levelled 160-px face it is both reliable and fast whatever the photo
size. When dlib still finds no face (profile-ish, occluded, low-res), the eye centres and mouth corners FFHQ
alignment needs come straight from MTCNN's 5 points.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from memstudio.core.errors import FaceError, ModelUnavailableError
from memstudio.core.faces.detect import DetectedFace

#: Side of the levelled patch dlib works on, and the side the MTCNN box is scaled to inside it. dlib's HOG
#: window is 80 px; a 160-px face sits well above it without upsampling.
PATCH_SIZE = 320
PATCH_FACE = 160

#: |roll| above which we refuse: FFHQ alignment undoes any roll, but a face beyond ±60° usually means a
#: sideways photo whose EXIF orientation was lost, where MTCNN's landmarks are already unreliable.
MAX_ROLL_DEGREES = 60.0

#: Yaw ratio (nose-tip offset from the eye midpoint along the eye line, in half eye distances) at which we
#: refuse. At 1 the nose tip projects onto the far eye — roughly 40–45° of yaw — so that eye is about to be
#: hidden, its landmarks are guesses, and an FFHQ generator has almost no such faces to invert into.
MAX_YAW_RATIO = 1.0

_lock = threading.Lock()
_dlib_models: dict[str, object] = {}


@dataclass(frozen=True)
class FaceLandmarks:
    """Landmarks of one face in source-image pixels: ``[68, 2]`` from dlib or ``[5, 2]`` from MTCNN.

    The four points FFHQ alignment needs are exposed the same way for both sources. "left" is the image's
    left (the person's right), as in both dlib's and MTCNN's numbering.
    """

    points: np.ndarray
    source: str  # "dlib68" or "mtcnn5"

    @property
    def eye_left(self) -> np.ndarray:
        return self.points[36:42].mean(axis=0) if self.source == "dlib68" else self.points[0]

    @property
    def eye_right(self) -> np.ndarray:
        return self.points[42:48].mean(axis=0) if self.source == "dlib68" else self.points[1]

    @property
    def mouth_left(self) -> np.ndarray:
        return self.points[48] if self.source == "dlib68" else self.points[3]

    @property
    def mouth_right(self) -> np.ndarray:
        return self.points[54] if self.source == "dlib68" else self.points[4]

    @property
    def nose(self) -> np.ndarray:
        """Nose tip (dlib point 30, MTCNN point 2)."""
        return self.points[30] if self.source == "dlib68" else self.points[2]

    def transformed(self, matrix: np.ndarray) -> FaceLandmarks:
        """Landmarks mapped by a 3×3 homogeneous matrix (e.g. into the aligned image for overlays)."""
        return FaceLandmarks(points=apply_matrix(matrix, self.points), source=self.source)

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "points": [[round(float(x), 2), round(float(y), 2)] for x, y in self.points],
            "eye_left": [round(float(v), 2) for v in self.eye_left],
            "eye_right": [round(float(v), 2) for v in self.eye_right],
            "mouth_left": [round(float(v), 2) for v in self.mouth_left],
            "mouth_right": [round(float(v), 2) for v in self.mouth_right],
        }


@dataclass(frozen=True)
class PoseEstimate:
    """Roll in degrees (eye line against the horizontal) and the yaw ratio (see :data:`MAX_YAW_RATIO`)."""

    roll_degrees: float
    yaw_ratio: float


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3×3 homogeneous transform to ``[N, 2]`` points."""
    pts = np.asarray(points, dtype=np.float64)
    homog = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ np.asarray(matrix, dtype=np.float64).T
    return homog[:, :2] / homog[:, 2:3]


def model_path(name: str) -> Path:
    """Path of a dlib model shipped by ``face_recognition_models``.

    The package's own ``*_location()`` helpers import ``pkg_resources``, which recent setuptools no longer
    ships; the files themselves are plain package data, so we fall back to finding them next to the package.
    """
    with contextlib.suppress(ImportError):  # pkg_resources missing: find the files ourselves, below
        import face_recognition_models

        frm = face_recognition_models
        locators = {
            "shape_predictor_68_face_landmarks.dat": frm.pose_predictor_model_location,
            "dlib_face_recognition_resnet_model_v1.dat": frm.face_recognition_model_location,
        }
        if name in locators:
            return Path(locators[name]())
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "face landmarks need the face_recognition_models package (pip install it)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise ModelUnavailableError(f"{path}: dlib model file missing; reinstall face_recognition_models")
    return path


def dlib_model(kind: str) -> object:
    """dlib's frontal detector, 68-point predictor or face-recognition ResNet, loaded once per process."""
    with _lock:
        if kind not in _dlib_models:
            try:
                import dlib
            except ImportError as exc:
                raise ModelUnavailableError("face landmarks need dlib (pip install dlib-bin)") from exc
            if kind == "detector":
                _dlib_models[kind] = dlib.get_frontal_face_detector()
            elif kind == "predictor":
                _dlib_models[kind] = dlib.shape_predictor(
                    str(model_path("shape_predictor_68_face_landmarks.dat"))
                )
            elif kind == "recognition":
                _dlib_models[kind] = dlib.face_recognition_model_v1(
                    str(model_path("dlib_face_recognition_resnet_model_v1.dat"))
                )
            else:
                raise ValueError(f"unknown dlib model {kind!r}")
        return _dlib_models[kind]


def levelled_patch(image: Image.Image, face: DetectedFace) -> tuple[np.ndarray, np.ndarray]:
    """A ``PATCH_SIZE`` square around ``face`` with the eyes level and the box scaled to ``PATCH_FACE``.

    Returns the RGB patch (uint8 array) and the 3×3 matrix taking patch pixel coordinates to source pixel
    coordinates (both as pixel indices, centre of pixel (0, 0) at (0, 0)).
    """
    eye_l, eye_r = face.landmarks[0], face.landmarks[1]
    theta = math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0])
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    scale = max(face.width, face.height) / PATCH_FACE  # source px per patch px
    src = image.convert("RGB")
    # Shrinking by more than 2× with a bicubic warp would alias; reduce by an integer factor first.
    reduce = int(scale // 2) if scale >= 4 else 1
    if reduce > 1:
        half = PATCH_SIZE * scale  # generous footprint of the rotated patch
        box = (
            max(int(cx - half), 0),
            max(int(cy - half), 0),
            min(int(cx + half) + 1, src.width),
            min(int(cy + half) + 1, src.height),
        )
        src = src.crop(box).reduce(reduce)
        offset = np.array([box[0], box[1]], dtype=np.float64)
    else:
        offset = np.zeros(2)
    # Patch (index) → working image (index): p_work = R·(p + ½ − N/2)·s + c_work − ½.
    s = scale / reduce
    c_work = (np.array([cx, cy]) - offset + 0.5) / reduce
    cos, sin = math.cos(theta), math.sin(theta)
    a = np.array([[cos * s, -sin * s], [sin * s, cos * s]])
    t = a @ (np.array([0.5, 0.5]) - PATCH_SIZE / 2) + c_work - 0.5
    to_work = np.array([[a[0, 0], a[0, 1], t[0]], [a[1, 0], a[1, 1], t[1]], [0, 0, 1]])
    # PIL's affine maps output continuous coords (pixel centres at +½) to input continuous coords.
    pil = to_work.copy()
    pil[:2, 2] = a @ np.array([-0.5, -0.5]) + to_work[:2, 2] + 0.5
    patch = src.transform(
        (PATCH_SIZE, PATCH_SIZE),
        Image.Transform.AFFINE,
        tuple(pil[:2].reshape(-1)),
        resample=Image.Resampling.BICUBIC,
    )
    # Working image (index) → source (index): undo the integer reduction and the crop.
    work_to_src = np.array(
        [[reduce, 0, offset[0] + (reduce - 1) / 2], [0, reduce, offset[1] + (reduce - 1) / 2], [0, 0, 1]]
    )
    return np.asarray(patch, dtype=np.uint8), work_to_src @ to_work


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def dlib_landmarks(image: Image.Image, face: DetectedFace) -> FaceLandmarks | None:
    """dlib's 68 points for ``face``, or None when dlib's detector does not confirm the face."""
    patch, to_src = levelled_patch(image, face)
    detector = dlib_model("detector")
    predictor = dlib_model("predictor")
    half = PATCH_FACE / 2
    centre = PATCH_SIZE / 2
    expected = (centre - half, centre - half, centre + half, centre + half)
    best, best_iou = None, 0.3  # below this overlap dlib found something else (a badge, a second face)
    for upsample in (0, 1):
        for rect in detector(patch, upsample):
            iou = _iou(expected, (rect.left(), rect.top(), rect.right(), rect.bottom()))
            if iou > best_iou:
                best, best_iou = rect, iou
        if best is not None:
            break
    if best is None:
        return None
    shape = predictor(patch, best)
    pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
    return FaceLandmarks(points=apply_matrix(to_src, pts), source="dlib68")


def face_landmarks(image: Image.Image, face: DetectedFace, use_dlib: bool = True) -> FaceLandmarks:
    """dlib's 68 landmarks of ``face`` when dlib confirms it, else MTCNN's 5 points."""
    if use_dlib:
        found = dlib_landmarks(image, face)
        if found is not None:
            return found
    return FaceLandmarks(points=np.asarray(face.landmarks, dtype=np.float64), source="mtcnn5")


def estimate_pose(landmarks: FaceLandmarks) -> PoseEstimate:
    """Roll from the eye line; yaw from how far the nose tip sits off the eye midpoint along that line."""
    eye_to_eye = landmarks.eye_right - landmarks.eye_left
    eye_dist = float(np.hypot(*eye_to_eye))
    if eye_dist <= 1e-6:
        return PoseEstimate(roll_degrees=0.0, yaw_ratio=float("inf"))
    roll = math.degrees(math.atan2(eye_to_eye[1], eye_to_eye[0]))
    eye_avg = (landmarks.eye_left + landmarks.eye_right) / 2
    along = float(np.dot(landmarks.nose - eye_avg, eye_to_eye / eye_dist))
    return PoseEstimate(roll_degrees=roll, yaw_ratio=along / (eye_dist / 2))


def check_pose(landmarks: FaceLandmarks, source: str = "the photo") -> PoseEstimate:
    """Refuse an extreme pose with a message that says which limit and why; returns the estimate."""
    pose = estimate_pose(landmarks)
    if abs(pose.roll_degrees) > MAX_ROLL_DEGREES:
        raise FaceError(
            f"{source}: the face is tilted by {pose.roll_degrees:.0f}° (limit ±{MAX_ROLL_DEGREES:.0f}°); "
            "rotate the photo upright first"
        )
    if abs(pose.yaw_ratio) >= MAX_YAW_RATIO:
        side = "right" if pose.yaw_ratio > 0 else "left"
        raise FaceError(
            f"{source}: the face is turned too far to the image's {side} (nose tip {abs(pose.yaw_ratio):.2f} "
            f"half eye-distances off centre, limit {MAX_YAW_RATIO:.2f}, about 40–45°); "
            "use a more frontal photo"
        )
    return pose
