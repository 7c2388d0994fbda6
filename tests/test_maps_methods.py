"""Occlusion and gradient maps, and the one entry point (compute_map / map_job) that dispatches to them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.jobs import run_to_end
from memstudio.core.maps.api import compute_map, map_job
from memstudio.core.maps.common import MapError
from memstudio.core.maps.occlusion import occlusion_map
from memstudio.core.maps.saliency import gradient_map

pytestmark = pytest.mark.usefixtures("single_thread")

OBJECT = (slice(32, 48), slice(14, 30))




class RedMass(Assessor):
    """Mean squared red excess: differentiable, and its gradient is non-zero only on red pixels."""

    name = "redmass"
    property = "redness"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        excess = (images[:, 0] - 0.5 * (images[:, 1] + images[:, 2])).clamp(min=0)
        return (excess**2).mean(dim=(1, 2))


def red_object_image() -> torch.Tensor:
    image = torch.full((1, 3, 64, 80), 0.45)
    image[:, 1] = 0.55
    image[:, :, OBJECT[0], OBJECT[1]] = torch.tensor([0.95, 0.1, 0.1]).view(1, 3, 1, 1)
    return image


def assert_peak_on_object(heat: np.ndarray) -> None:
    assert heat.shape == (64, 80) and heat.dtype == np.float32
    assert heat.min() == 0.0 and heat.max() == 1.0
    y, x = np.unravel_index(heat.argmax(), heat.shape)
    assert OBJECT[0].start <= y < OBJECT[0].stop and OBJECT[1].start <= x < OBJECT[1].stop
    outside = np.concatenate([heat[:24].ravel(), heat[:, 40:].ravel()])
    assert heat[OBJECT].mean() > 0.5 > 0.1 > outside.mean()


@pytest.mark.parametrize("fill", ["grey", "blur"])
def test_occlusion_peaks_where_hiding_costs_the_score(fill: str) -> None:
    assert_peak_on_object(occlusion_map(red_object_image(), RedMass(), fill=fill))


def test_occlusion_rejects_unknown_fill() -> None:
    with pytest.raises(MapError, match="fill"):
        occlusion_map(red_object_image(), RedMass(), fill="black")


def test_gradient_peaks_on_the_object() -> None:
    assert_peak_on_object(gradient_map(red_object_image(), RedMass()))


def test_smoothgrad_is_seeded_and_progressive() -> None:
    image = red_object_image()
    a = gradient_map(image, RedMass(), samples=6, batch_size=4, seed=3)
    b = gradient_map(image, RedMass(), samples=6, batch_size=4, seed=3)
    c = gradient_map(image, RedMass(), samples=6, batch_size=4, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert_peak_on_object(a)
    steps = list(map_job(image, RedMass(), method="gradient", samples=6, batch_size=4))
    assert [s.preview is not None for s in steps] == [True, True]


def test_gradient_works_inside_inference_mode() -> None:
    # The engine renders under inference_mode; the gradient method must still get gradients.
    with torch.inference_mode():
        image = red_object_image()
        heat = compute_map(image, RedMass(), method="gradient")
    assert_peak_on_object(heat)


@pytest.mark.parametrize("method", ["regions", "occlusion", "gradient"])
def test_compute_map_dispatches_and_map_job_returns_the_same_map(method: str) -> None:
    image = red_object_image()
    scales = (0.5, 0.33) if method == "regions" else None
    heat = compute_map(image, RedMass(), method=method, scales=scales, batch_size=4)
    assert_peak_on_object(heat)
    final = run_to_end(map_job(image, RedMass(), method=method, scales=scales, batch_size=4))
    np.testing.assert_array_equal(heat, final)


def test_dispatch_errors_name_the_problem() -> None:
    image = red_object_image()
    with pytest.raises(MapError, match="unknown heatmap method"):
        compute_map(image, RedMass(), method="attention")
    with pytest.raises(MapError, match="needs an assessor"):
        compute_map(image, None, method="regions")
    with pytest.raises(MapError, match="vms_checkpoint"):
        compute_map(image, None, method="vms")
