"""Paper 004 §5's check with a known answer: an assessor that likes sharp red, a map that finds the red."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.maps.common import MapError
from memstudio.core.maps.emphasis import abstract, emphasis_check, random_half
from memstudio.core.maps.regions import region_map


class SharpRed(Assessor):
    """Red excess times local contrast: prefers saturated red with crisp detail."""

    name = "sharpred"
    property = "sharp redness"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        excess = (images[:, 0] - 0.5 * (images[:, 1] + images[:, 2])).clamp(min=0)
        detail = (images[:, 0, :, 1:] - images[:, 0, :, :-1]).abs()
        return (excess[:, :, 1:] * (0.2 + detail)).mean(dim=(1, 2))


@pytest.fixture
def scene() -> torch.Tensor:
    """A textured red object on a textured green-grey background."""
    generator = torch.Generator().manual_seed(0)
    image = 0.4 + 0.2 * torch.rand((1, 3, 64, 64), generator=generator)
    image[:, 1] += 0.1
    stripes = (torch.arange(24) % 4 < 2).float()
    red = torch.stack(
        [0.6 + 0.4 * stripes.expand(24, 24), torch.full((24, 24), 0.1), torch.full((24, 24), 0.1)]
    )
    image[0, :, 8:32, 30:54] = red
    return image.clamp(0, 1)


def test_high_beats_random_half_beats_low(scene: torch.Tensor) -> None:
    heat = region_map(scene, SharpRed(), scales=(0.5, 0.33))
    result = emphasis_check(scene, heat, SharpRed())
    scores = result["scores"]
    assert set(scores) == {"original", "high", "medium", "low"}
    assert scores["high"] > scores["medium"] > scores["low"]
    assert result["order_holds"] is True
    assert scores["original"] >= scores["high"]  # abstraction only removes, as in the paper
    for name, image in result["images"].items():
        assert image.shape == scene.shape, name
    mask = result["masks"]["high"]
    assert mask[8:32, 30:54].mean() > 0.9 and mask[40:, :20].mean() < 0.1
    np.testing.assert_allclose(result["masks"]["low"], 1.0 - mask, atol=1e-6)


def test_a_wrong_map_fails_the_check(scene: torch.Tensor) -> None:
    heat = region_map(scene, SharpRed(), scales=(0.5, 0.33))
    result = emphasis_check(scene, 1.0 - heat, SharpRed())
    assert result["order_holds"] is False
    assert result["scores"]["high"] < result["scores"]["low"]


def test_random_half_is_half_and_seeded() -> None:
    a, b, c = random_half(64, 48, seed=1), random_half(64, 48, seed=1), random_half(64, 48, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (a > 0.5).mean() == pytest.approx(0.5, abs=0.05)


def test_abstraction_blurs_and_desaturates(scene: torch.Tensor) -> None:
    flat = abstract(scene)
    detail = lambda x: (x[..., 1:] - x[..., :-1]).abs().mean()  # noqa: E731
    spread = lambda x: (x.max(dim=1).values - x.min(dim=1).values).mean()  # noqa: E731
    assert detail(flat) < 0.5 * detail(scene)
    assert spread(flat) < 0.5 * spread(scene)


def test_map_must_match_the_image(scene: torch.Tensor) -> None:
    with pytest.raises(MapError, match="map is"):
        emphasis_check(scene, np.zeros((10, 10), np.float32), SharpRed())
