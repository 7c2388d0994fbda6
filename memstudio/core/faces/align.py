"""FFHQ alignment: crop, rotate and scale a face exactly as NVIDIA's ffhq-dataset built FFHQ.

A StyleGAN trained on FFHQ can only reproduce faces that sit where FFHQ's faces sit, so a real photo has to
go through the same procedure before inversion (paper 001 §2.5): eye centres from dlib points 36–41 and
42–47, mouth corners 48 and 54, an oriented square around ``eye_avg + 0.1·eye_to_mouth`` whose half side is
``max(2·|eye_to_eye|, 1.8·|eye_to_mouth|)``; then shrink, crop with a border, reflect-pad with blur and
median blending where the square leaves the photo, a quad transform at 4× the output size and a final resize.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import torch
from PIL import Image

from memstudio.core.faces.detect import DetectedFace, detect_faces, select_face
from memstudio.core.faces.landmarks import (
    FaceLandmarks,
    PoseEstimate,
    check_pose,
    estimate_pose,
    face_landmarks,
)

#: The quad transform renders at this multiple of the output size, then resizes down (FFHQ: 4096 → 1024).
SUPERSAMPLE = 4


@dataclass(frozen=True)
class AlignedFace:
    """An FFHQ-aligned face and everything an overlay needs to relate it to the photo.

    ``quad`` is ``[4, 2]`` in source pixels, ordered top-left, bottom-left, bottom-right, top-right of the
    aligned image; ``transform`` is the 3×3 matrix taking source pixel coordinates to aligned-image pixel
    coordinates (so ``landmarks.transformed(transform)`` are the landmarks on the aligned face).
    """

    image: Image.Image
    quad: np.ndarray
    landmarks: FaceLandmarks
    transform: np.ndarray
    face: DetectedFace | None
    pose: PoseEstimate
    size: int

    @property
    def aligned_landmarks(self) -> FaceLandmarks:
        return self.landmarks.transformed(self.transform)

    def to_json(self) -> dict[str, object]:
        return {
            "size": self.size,
            "quad": [[round(float(x), 2), round(float(y), 2)] for x, y in self.quad],
            "transform": [[round(float(v), 6) for v in row] for row in self.transform],
            "roll_degrees": round(self.pose.roll_degrees, 2),
            "yaw_ratio": round(self.pose.yaw_ratio, 3),
            "face": self.face.to_json() if self.face is not None else None,
            "landmarks": self.landmarks.to_json(),
            "aligned_landmarks": self.aligned_landmarks.to_json(),
        }


def ffhq_quad(
    eye_left: np.ndarray, eye_right: np.ndarray, mouth_left: np.ndarray, mouth_right: np.ndarray
) -> np.ndarray:
    """The oriented FFHQ crop square ``[4, 2]`` (top-left, bottom-left, bottom-right, top-right)."""
    eye_left, eye_right = np.asarray(eye_left, np.float64), np.asarray(eye_right, np.float64)
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (np.asarray(mouth_left, np.float64) + np.asarray(mouth_right, np.float64)) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    # x points right along the face: the eye line plus the eye-to-mouth axis turned 90° clockwise (in image
    # coordinates, y down), so that a slanted eye line alone does not decide the rotation.
    x = eye_to_eye + np.array([eye_to_mouth[1], -eye_to_mouth[0]])
    x = x / np.hypot(*x)
    x = x * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.array([-x[1], x[0]])
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def quad_to_aligned_matrix(quad: np.ndarray, size: int) -> np.ndarray:
    """3×3 matrix: source pixel coordinates → aligned pixel coordinates for an output of ``size``.

    The quad corners are pixel indices; like FFHQ we sample at ``quad + 0.5`` in PIL's continuous
    coordinates, so the corners map onto the outer edges of the output image.
    """
    tl, bl, _, tr = (np.asarray(q, np.float64) + 0.5 for q in quad)
    # Continuous aligned coords (u, v) ∈ [0, size]²: source = tl + (tr − tl)·u/size + (bl − tl)·v/size.
    basis = np.stack([(tr - tl) / size, (bl - tl) / size], axis=1)
    inv = np.linalg.inv(basis)
    m = np.eye(3)
    m[:2, :2] = inv
    # Index → continuous (+½) on the source, continuous → index (−½) on the output.
    m[:2, 2] = inv @ (np.array([0.5, 0.5]) - tl) - 0.5
    return m


def warp_quad(image: Image.Image, quad: np.ndarray, size: int, enable_padding: bool = True) -> Image.Image:
    """Render ``quad`` of ``image`` into a ``size``² image by FFHQ's shrink / crop / pad / transform steps."""
    img = image.convert("RGB")
    quad = np.asarray(quad, np.float64).copy()
    qsize = np.hypot(*(quad[3] - quad[0]))
    transform_size = size * SUPERSAMPLE

    # Shrink: keep at most ~2 source pixels per output pixel before the quad transform.
    shrink = int(np.floor(qsize / size * 0.5))
    if shrink > 1:
        rsize = (int(np.rint(img.size[0] / shrink)), int(np.rint(img.size[1] / shrink)))
        img = img.resize(rsize, Image.Resampling.LANCZOS)
        quad /= shrink
        qsize /= shrink

    # Crop to the quad's bounding box plus a border.
    border = max(int(np.rint(qsize * 0.1)), 3)
    crop = (
        int(np.floor(quad[:, 0].min())),
        int(np.floor(quad[:, 1].min())),
        int(np.ceil(quad[:, 0].max())),
        int(np.ceil(quad[:, 1].max())),
    )
    crop = (
        max(crop[0] - border, 0),
        max(crop[1] - border, 0),
        min(crop[2] + border, img.size[0]),
        min(crop[3] + border, img.size[1]),
    )
    if crop[2] - crop[0] < img.size[0] or crop[3] - crop[1] < img.size[1]:
        img = img.crop(crop)
        quad -= crop[0:2]

    # Pad where the quad leaves the photo: reflect, blur towards the edge, blend to the median colour, so
    # the generator is not asked to reproduce a hard black border that FFHQ never had.
    pad = (
        int(np.floor(quad[:, 0].min())),
        int(np.floor(quad[:, 1].min())),
        int(np.ceil(quad[:, 0].max())),
        int(np.ceil(quad[:, 1].max())),
    )
    pad = (
        max(-pad[0] + border, 0),
        max(-pad[1] + border, 0),
        max(pad[2] - img.size[0] + border, 0),
        max(pad[3] - img.size[1] + border, 0),
    )
    if enable_padding and max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        arr = np.pad(np.float32(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
        h, w, _ = arr.shape
        yy, xx, _ = np.ogrid[:h, :w, :1]
        mask = np.maximum(
            1.0 - np.minimum(np.float32(xx) / pad[0], np.float32(w - 1 - xx) / pad[2]),
            1.0 - np.minimum(np.float32(yy) / pad[1], np.float32(h - 1 - yy) / pad[3]),
        )
        blur = qsize * 0.02
        arr += (scipy.ndimage.gaussian_filter(arr, [blur, blur, 0]) - arr) * np.clip(
            mask * 3.0 + 1.0, 0.0, 1.0
        )
        arr += (np.median(arr, axis=(0, 1)) - arr) * np.clip(mask, 0.0, 1.0)
        img = Image.fromarray(np.uint8(np.clip(np.rint(arr), 0, 255)), "RGB")
        quad += pad[:2]

    out = img.transform(
        (transform_size, transform_size),
        Image.Transform.QUAD,
        tuple((quad + 0.5).flatten()),
        resample=Image.Resampling.BILINEAR,
    )
    if size < transform_size:
        out = out.resize((size, size), Image.Resampling.LANCZOS)
    return out


def align_landmarks(
    image: Image.Image,
    landmarks: FaceLandmarks,
    size: int,
    face: DetectedFace | None = None,
    source: str = "the photo",
    pose_check: bool = True,
    enable_padding: bool = True,
) -> AlignedFace:
    """FFHQ-align ``image`` from known landmarks (no detection)."""
    pose = check_pose(landmarks, source) if pose_check else estimate_pose(landmarks)
    quad = ffhq_quad(landmarks.eye_left, landmarks.eye_right, landmarks.mouth_left, landmarks.mouth_right)
    aligned = warp_quad(image, quad, size, enable_padding=enable_padding)
    return AlignedFace(
        image=aligned,
        quad=quad,
        landmarks=landmarks,
        transform=quad_to_aligned_matrix(quad, size),
        face=face,
        pose=pose,
        size=size,
    )


def align_face(
    image: Image.Image,
    size: int,
    face_index: int | None = None,
    faces: list[DetectedFace] | None = None,
    device: torch.device | str | None = None,
    source: str = "the photo",
    use_dlib: bool = True,
    pose_check: bool = True,
) -> AlignedFace:
    """Detect (unless ``faces`` is given), pick a face (largest by default), find landmarks, FFHQ-align.

    Raises :class:`~memstudio.core.errors.FaceError` for no face, a missing index, a face under 64 px, or an
    extreme pose.
    """
    if size < 8:
        raise ValueError(f"alignment size must be at least 8 px, got {size}")
    if faces is None:
        faces = detect_faces(image, device=device)
    face = select_face(faces, face_index, source=source)
    landmarks = face_landmarks(image, face, use_dlib=use_dlib)
    return align_landmarks(image, landmarks, size, face=face, source=source, pose_check=pose_check)
