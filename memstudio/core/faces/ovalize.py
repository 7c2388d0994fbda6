"""Ovalization (paper 001 §2.2, Fig. 2): the face inside an oval on white, like the 10k US Adult Faces.

Face-memorability assessors were fine-tuned on the 10k US Adult Faces, whose images show the face through an
oval cut from forehead to chin and from cheek to cheek, on a white background. Paper 001 finds the face with
MTCNN and masks an oval on it before scoring; :class:`Ovalized` makes that a per-assessor option.

The oval is set from the four FFHQ points (eye centres, mouth corners), in the face's own frame: it spans
from one eye-to-mouth distance above the eyes (upper forehead) to 0.7 of it below the mouth (just under the
chin), and 1.1 eye distances either side of the face's midline (the cheeks, ears left out). On an
FFHQ-aligned image those points are fixed, so the oval is too and needs no detection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from memstudio.core.assessors.base import Assessor, check_images
from memstudio.core.imaging import pil_to_tensor, tensor_to_pil

#: Oval extent in units of the eye-to-mouth distance (vertical) and eye distance (horizontal); see above.
ABOVE_EYES = 1.0
BELOW_MOUTH = 0.7
HALF_WIDTH = 1.1

#: Width of the soft edge as a fraction of the oval's short semi-axis: enough to antialias the outline at
#: 64–1024 px without the halo a wide feather would leave.
FEATHER = 0.02

#: Height of the 10k US Adult Faces images, which :func:`crop_to_oval` reproduces for exports.
DATASET_HEIGHT = 256


@dataclass(frozen=True)
class Oval:
    """An ellipse in the pixel coordinates of an image of ``image_size`` = (width, height).

    ``angle`` (radians) turns the oval's vertical axis with the face's roll.
    """

    centre: tuple[float, float]
    semi_axes: tuple[float, float]  # (horizontal a, vertical b) in the face frame
    angle: float
    image_size: tuple[int, int]

    def scaled_to(self, width: int, height: int) -> Oval:
        """The same oval on the image resized to ``width``×``height`` (same aspect expected)."""
        sx, sy = width / self.image_size[0], height / self.image_size[1]
        s = math.sqrt(sx * sy)
        return Oval(
            centre=((self.centre[0] + 0.5) * sx - 0.5, (self.centre[1] + 0.5) * sy - 0.5),
            semi_axes=(self.semi_axes[0] * s, self.semi_axes[1] * s),
            angle=self.angle,
            image_size=(width, height),
        )


def oval_from_points(
    eye_left: np.ndarray,
    eye_right: np.ndarray,
    mouth_left: np.ndarray,
    mouth_right: np.ndarray,
    image_size: tuple[int, int],
) -> Oval:
    """The face oval from the eye centres and mouth corners, in pixels of an image of ``image_size``."""
    eye_left, eye_right = np.asarray(eye_left, np.float64), np.asarray(eye_right, np.float64)
    eye_avg = (eye_left + eye_right) / 2
    mouth_avg = (np.asarray(mouth_left, np.float64) + np.asarray(mouth_right, np.float64)) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = mouth_avg - eye_avg
    # Face frame: "down" is the eye-to-mouth axis, "right" is perpendicular to it (robust to a slanted
    # eye line), roll measured from the image vertical.
    em = float(np.hypot(*eye_to_mouth))
    ee = float(np.hypot(*eye_to_eye))
    down = eye_to_mouth / em
    top = eye_avg - down * (ABOVE_EYES * em)
    bottom = mouth_avg + down * (BELOW_MOUTH * em)
    centre = (top + bottom) / 2
    b = float(np.hypot(*(bottom - top))) / 2
    a = HALF_WIDTH * ee
    angle = math.atan2(-down[0], down[1])
    return Oval(
        centre=(float(centre[0]), float(centre[1])), semi_axes=(a, b), angle=angle, image_size=image_size
    )


def aligned_oval(size: int) -> Oval:
    """The oval of an FFHQ-aligned ``size``² face, from FFHQ's fixed geometry.

    After alignment the quad's half side (``size/2``) is ``max(2·eye_dist, 1.8·eye_to_mouth)``; for a typical
    frontal face both terms agree, so eye distance = ``size/4``, eye-to-mouth = ``size/3.6``, and the quad
    centre ``eye_avg + 0.1·eye_to_mouth`` is the image centre.
    """
    s = float(size)
    ee, em = s / 4.0, s / 3.6
    cx = s / 2 - 0.5  # pixel index of the image centre
    eye_y = cx - 0.1 * em
    mouth_y = eye_y + em
    return oval_from_points(
        np.array([cx - ee / 2, eye_y]),
        np.array([cx + ee / 2, eye_y]),
        np.array([cx - ee / 4, mouth_y]),
        np.array([cx + ee / 4, mouth_y]),
        (size, size),
    )


def oval_mask(
    oval: Oval, height: int, width: int, device: torch.device | str | None = None, feather: float = FEATHER
) -> torch.Tensor:
    """``[H, W]`` float mask, 1 inside the oval and 0 outside, with an antialiased edge."""
    if (width, height) != tuple(oval.image_size):
        oval = oval.scaled_to(width, height)
    ys = torch.arange(height, dtype=torch.float32, device=device).view(-1, 1)
    xs = torch.arange(width, dtype=torch.float32, device=device).view(1, -1)
    dx, dy = xs - oval.centre[0], ys - oval.centre[1]
    cos, sin = math.cos(oval.angle), math.sin(oval.angle)
    u = dx * cos + dy * sin  # along the face's horizontal
    v = -dx * sin + dy * cos  # along the face's vertical
    a, b = oval.semi_axes
    radius = torch.sqrt((u / a) ** 2 + (v / b) ** 2)
    # A linear ramp across the outline, in units of the normalised radius; at least ~1 px wide.
    soft = max(feather, 1.0 / max(min(a, b), 1.0))
    return ((1.0 - radius) / soft + 0.5).clamp(0.0, 1.0)


def ovalize(
    images: torch.Tensor, ovals: Oval | list[Oval] | None = None, feather: float = FEATHER
) -> torch.Tensor:
    """Images ``[N, 3, H, W]`` in [0, 1] with everything outside the oval white; differentiable in the pixels.

    ``ovals`` is one oval for the whole batch, one per image, or None for the FFHQ-aligned oval.
    """
    check_images(images)
    n, _, h, w = images.shape
    if ovals is None:
        ovals = default_oval(w, h)
    if isinstance(ovals, Oval):
        mask = oval_mask(ovals, h, w, images.device, feather).expand(n, 1, h, w)
    else:
        if len(ovals) != n:
            raise ValueError(f"ovalize: {len(ovals)} ovals for {n} images")
        mask = torch.stack([oval_mask(o, h, w, images.device, feather) for o in ovals]).unsqueeze(1)
    mask = mask.to(images.dtype)
    return images * mask + (1.0 - mask)


def default_oval(width: int, height: int) -> Oval:
    """The FFHQ-aligned oval, centred on the shorter side of a non-square image."""
    side = min(width, height)
    oval = aligned_oval(side)
    dx, dy = (width - side) / 2, (height - side) / 2
    return Oval(
        centre=(oval.centre[0] + dx, oval.centre[1] + dy),
        semi_axes=oval.semi_axes,
        angle=oval.angle,
        image_size=(width, height),
    )


def detect_ovals(images: torch.Tensor, device: torch.device | str | None = None) -> tuple[list[Oval], int]:
    """One oval per image from its largest MTCNN face (paper 001's recipe); the aligned oval where none.

    Returns the ovals and how many images fell back to the aligned oval, so callers can say so.
    """
    from memstudio.core.faces.detect import detect_faces

    ovals, fallbacks = [], 0
    _, _, h, w = images.shape
    for i in range(images.shape[0]):
        faces = detect_faces(tensor_to_pil(images, i), device=device)
        if faces:
            pts = faces[0].landmarks
            ovals.append(oval_from_points(pts[0], pts[1], pts[3], pts[4], (w, h)))
        else:
            fallbacks += 1
            ovals.append(default_oval(w, h))
    return ovals, fallbacks


def ovalize_pil(image: Image.Image, oval: Oval | None = None) -> Image.Image:
    """PIL convenience around :func:`ovalize` for exports and the CLI."""
    return tensor_to_pil(ovalize(pil_to_tensor(image), oval))


def crop_to_oval(image: Image.Image, oval: Oval, height: int = DATASET_HEIGHT) -> Image.Image:
    """The ovalized face cropped to the oval's bounding box and scaled to ``height``, like the dataset."""
    ovalized = ovalize_pil(image, oval)
    a, b = oval.semi_axes
    cos, sin = abs(math.cos(oval.angle)), abs(math.sin(oval.angle))
    half_w, half_h = a * cos + b * sin, a * sin + b * cos
    cx, cy = oval.centre
    box = (round(cx - half_w), round(cy - half_h), round(cx + half_w) + 1, round(cy + half_h) + 1)
    cropped = _crop_with_white(ovalized, box)
    width = max(1, round(cropped.width * height / cropped.height))
    return cropped.resize((width, height), Image.Resampling.LANCZOS)


def _crop_with_white(image: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    canvas = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), (255, 255, 255))
    canvas.paste(image, (-box[0], -box[1]))
    # Whatever pasted from outside the oval is white already; outside the photo stays white.
    return canvas


class Ovalized(Assessor):
    """An assessor that ovalizes its input first: the "ovalize before scoring" option of paper 001.

    ``geometry="aligned"`` uses the fixed FFHQ oval (GAN faces are FFHQ-aligned; cheap and fully
    differentiable), ``geometry="detect"`` finds each face with MTCNN first (photos); detection runs without
    gradients, the mask multiply keeps them. ``last_fallbacks`` counts detect-mode images without a face.
    """

    def __init__(self, assessor: Assessor, geometry: str = "aligned", feather: float = FEATHER) -> None:
        super().__init__()
        if geometry not in ("aligned", "detect"):
            raise ValueError(f"Ovalized: geometry must be 'aligned' or 'detect', got {geometry!r}")
        self.assessor = assessor
        self.geometry = geometry
        self.feather = feather
        self.name = f"{assessor.name}+oval"
        self.property = assessor.property
        self.score_range = assessor.score_range
        self.decimals = assessor.decimals
        self.checkpoint_hash = assessor.checkpoint_hash
        self.last_fallbacks = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        if self.geometry == "detect":
            with torch.no_grad():
                ovals, self.last_fallbacks = detect_ovals(images.detach(), device=images.device)
            images = ovalize(images, ovals, self.feather)
        else:
            images = ovalize(images, None, self.feather)
        return self.assessor(images)

    def describe(self) -> dict[str, object]:
        info = self.assessor.describe()
        info.update({"name": self.name, "ovalized": self.geometry})
        return info
