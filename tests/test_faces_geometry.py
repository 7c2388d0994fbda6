"""FFHQ quad, alignment transform, pose limits and ovalization on synthetic inputs (no face models)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from memstudio.core.assessors.base import Assessor
from memstudio.core.errors import FaceError
from memstudio.core.faces.align import align_landmarks, ffhq_quad, quad_to_aligned_matrix
from memstudio.core.faces.landmarks import FaceLandmarks, apply_matrix, check_pose, estimate_pose
from memstudio.core.faces.ovalize import (
    Ovalized,
    aligned_oval,
    crop_to_oval,
    oval_from_points,
    oval_mask,
    ovalize,
)


def five_points(eye_l, eye_r, nose, mouth_l, mouth_r) -> FaceLandmarks:
    return FaceLandmarks(
        points=np.array([eye_l, eye_r, nose, mouth_l, mouth_r], dtype=np.float64), source="mtcnn5"
    )


def test_quad_upright_face_matches_hand_computation():
    # eye_avg (120, 100), eye_to_eye (40, 0), eye_to_mouth (0, 50): x = (40 + 50, 0) → |x| = max(80, 90) = 90,
    # y = (0, 90), c = (120, 105).
    quad = ffhq_quad((100, 100), (140, 100), (105, 150), (135, 150))
    np.testing.assert_allclose(quad, [[30, 15], [30, 195], [210, 195], [210, 15]], atol=1e-9)


def test_quad_face_turned_90_degrees_matches_hand_computation():
    # eye_avg (100, 120), eye_to_eye (0, 40), eye_to_mouth (-50, 0): x = (0, 40 + 50) → (0, 90), y = (-90, 0),
    # c = (95, 120).
    quad = ffhq_quad((100, 100), (100, 140), (50, 105), (50, 135))
    np.testing.assert_allclose(quad, [[185, 30], [5, 30], [5, 210], [185, 210]], atol=1e-9)


def test_quad_uses_mouth_distance_when_it_dominates():
    # eye distance 20 (2·20 = 40) vs eye-to-mouth 50 (1.8·50 = 90): the half side is 90.
    quad = ffhq_quad((110, 100), (130, 100), (115, 150), (125, 150))
    assert np.hypot(*(quad[3] - quad[0])) == pytest.approx(180.0)


def test_transform_maps_quad_corners_to_image_corners():
    quad = ffhq_quad((100, 100), (140, 110), (105, 150), (135, 158))
    m = quad_to_aligned_matrix(quad, 64)
    corners = apply_matrix(m, quad)
    # Quad corners are pixel indices sampled at +½ (FFHQ), i.e. the outer edges of the output pixels.
    np.testing.assert_allclose(corners, [[-0.5, -0.5], [-0.5, 63.5], [63.5, 63.5], [63.5, -0.5]], atol=1e-9)


def test_aligned_image_puts_a_marked_point_where_the_transform_says():
    # A dark image with one bright blob; align around synthetic landmarks and find the blob again.
    h = w = 300
    yy, xx = np.mgrid[:h, :w]
    blob = (171.0, 133.0)
    arr = 255 * np.exp(-((xx - blob[0]) ** 2 + (yy - blob[1]) ** 2) / (2 * 3.0**2))
    image = Image.fromarray(np.repeat(arr[..., None], 3, axis=2).astype(np.uint8))
    lm = five_points((120, 120), (170, 110), (150, 140), (128, 175), (172, 168))
    aligned = align_landmarks(image, lm, 64, pose_check=False)
    got = np.asarray(aligned.image, dtype=np.float64)[..., 0]
    gy, gx = np.mgrid[:64, :64]
    weight = np.clip(got - 20, 0, None)
    centroid = np.array([(gx * weight).sum(), (gy * weight).sum()]) / weight.sum()
    expected = apply_matrix(aligned.transform, np.array([blob]))[0]
    assert np.linalg.norm(centroid - expected) < 0.5


def test_pose_estimate_and_limits():
    frontal = five_points((100, 100), (140, 100), (120, 125), (105, 150), (135, 150))
    pose = estimate_pose(frontal)
    assert pose.roll_degrees == pytest.approx(0.0)
    assert pose.yaw_ratio == pytest.approx(0.0)
    check_pose(frontal)
    turned = five_points((100, 100), (140, 100), (142, 125), (110, 150), (140, 150))
    assert estimate_pose(turned).yaw_ratio > 1.0
    with pytest.raises(FaceError, match="turned too far"):
        check_pose(turned, "face.jpg")
    c, s = math.cos(math.radians(80)), math.sin(math.radians(80))
    rot = np.array([[c, -s], [s, c]])
    rolled = FaceLandmarks(points=(frontal.points - 120) @ rot.T + 120, source="mtcnn5")
    assert estimate_pose(rolled).roll_degrees == pytest.approx(80.0)
    with pytest.raises(FaceError, match="tilted by 80°"):
        check_pose(rolled, "face.jpg")


def test_ovalize_keeps_centre_and_whitens_corners():
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.5
    out = ovalize(images)
    assert torch.equal(out[:, :, 32, 32], images[:, :, 32, 32])
    for y, x in ((0, 0), (0, 63), (63, 0), (63, 63)):
        assert torch.all(out[:, :, y, x] == 1.0)
    # The oval spans forehead to chin: more of the column than of the row is kept.
    mask = oval_mask(aligned_oval(64), 64, 64)
    assert mask[:, 32].sum() > mask[32, :].sum() > 0.5 * 64


def test_oval_follows_a_tilted_face():
    lm = five_points((100, 100), (140, 120), (115, 135), (95, 150), (125, 165))
    oval = oval_from_points(lm.eye_left, lm.eye_right, lm.mouth_left, lm.mouth_right, (256, 256))
    # eye_to_mouth = (-10, 47.5): the face's vertical axis is turned by atan2(10, 47.5).
    assert oval.angle == pytest.approx(math.atan2(10.0, 47.5))
    mask = oval_mask(oval, 256, 256)
    assert mask[int(round(oval.centre[1])), int(round(oval.centre[0]))] == 1.0
    assert mask[0, 0] == 0.0


def test_crop_to_oval_has_dataset_height():
    image = Image.new("RGB", (128, 128), (10, 20, 30))
    out = crop_to_oval(image, aligned_oval(128))
    assert out.height == 256
    assert out.width < out.height
    assert out.getpixel((0, 0)) == (255, 255, 255)


class MeanLuma(Assessor):
    name = "meanluma"
    property = "brightness"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(1, 2, 3))


def test_ovalized_assessor_scores_the_ovalized_image_and_passes_gradients():
    images = torch.zeros(1, 3, 32, 32, requires_grad=True)
    wrapped = Ovalized(MeanLuma())
    score = wrapped(images)
    assert wrapped.name == "meanluma+oval"
    # Black image: only the white surround scores; the fraction outside the oval.
    outside = 1.0 - float(oval_mask(aligned_oval(32), 32, 32).mean())
    assert float(score.detach()) == pytest.approx(outside, abs=1e-6)
    score.sum().backward()
    assert images.grad[0, 0, 16, 16] > 0 and images.grad[0, 0, 0, 0] == 0
    with pytest.raises(ValueError, match="geometry"):
        Ovalized(MeanLuma(), geometry="square")
