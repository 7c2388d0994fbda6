"""Image-factor assessors against values computed by hand on synthetic images."""

from __future__ import annotations

import math

import pytest
import torch

from memstudio.core.assessors.factors import (
    BrightnessAssessor,
    ColorfulnessAssessor,
    EntropyAssessor,
    RednessAssessor,
)


def solid(r: float, g: float, b: float, size: int = 8) -> torch.Tensor:
    return torch.tensor([r, g, b]).view(1, 3, 1, 1).expand(1, 3, size, size).clone()


def test_brightness_is_bt601_mean():
    img = torch.cat([solid(1, 0, 0), solid(0, 1, 0), solid(0.5, 0.5, 0.5)])
    assert BrightnessAssessor()(img).tolist() == pytest.approx([0.299, 0.587, 0.5], abs=1e-6)


def test_colorfulness_hand_computed():
    # Left half pure red, right half pure blue, on the 0–255 scale:
    # red: rg = 255, yb = 127.5; blue: rg = 0, yb = −255.
    img = torch.zeros(1, 3, 4, 4)
    img[0, 0, :, :2] = 1.0
    img[0, 2, :, 2:] = 1.0
    rg_mean, yb_mean = 127.5, (127.5 - 255) / 2
    rg_std, yb_std = 127.5, (127.5 + 255) / 2
    expected = math.sqrt(rg_std**2 + yb_std**2) + 0.3 * math.sqrt(rg_mean**2 + yb_mean**2)
    assert float(ColorfulnessAssessor()(img)) == pytest.approx(expected, rel=1e-5)
    assert float(ColorfulnessAssessor()(solid(0.4, 0.4, 0.4))) == pytest.approx(0.0, abs=1e-3)


def test_redness_share_of_red_pixels():
    img = torch.full((1, 3, 10, 10), 0.5)
    img[0, :, :3, :] = torch.tensor([0.9, 0.1, 0.1]).view(3, 1, 1)  # 30 % strongly red
    img[0, :, 3:5, :] = torch.tensor([0.6, 0.55, 0.5]).view(3, 1, 1)  # reddish but under the margin
    assert float(RednessAssessor()(img)) == pytest.approx(0.30, abs=0.01)


def test_entropy_hand_computed():
    two = torch.zeros(1, 3, 4, 4)
    two[..., 2:] = 1.0  # half black, half white → 1 bit
    four = torch.zeros(1, 3, 4, 4)
    for i, level in enumerate((0, 85, 170, 255)):
        four[..., i] = level / 255.0  # four equally likely 8-bit levels → 2 bits
    scores = EntropyAssessor()(torch.cat([solid(0.2, 0.2, 0.2, 4), two, four]))
    assert scores.tolist() == pytest.approx([0.0, 1.0, 2.0], abs=1e-3)


@pytest.mark.parametrize("cls", [BrightnessAssessor, ColorfulnessAssessor, RednessAssessor, EntropyAssessor])
def test_factors_are_differentiable(cls):
    img = (torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1).requires_grad_(
        True
    )
    cls()(img).sum().backward()
    assert img.grad is not None and float(img.grad.abs().sum()) > 0


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="N, 3, H, W"):
        BrightnessAssessor()(torch.zeros(3, 8, 8))
