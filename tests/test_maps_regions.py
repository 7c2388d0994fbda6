"""Region maps (paper 004 §5): windows at several scales, batched, progressive, normalised."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.maps.common import MapError, axis_positions, grid_boxes, normalize_map
from memstudio.core.maps.regions import DEFAULT_SCALES, plan, region_map, region_map_job

pytestmark = pytest.mark.usefixtures("single_thread")

OBJECT = (slice(32, 48), slice(14, 30))  # rows, columns of the red square




class RedMass(Assessor):
    """Mean squared red excess: more (and redder) red in the crop → higher score; counts its calls."""

    name = "redmass"
    property = "redness"

    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(images.shape[0])
        excess = (images[:, 0] - 0.5 * (images[:, 1] + images[:, 2])).clamp(min=0)
        return (excess**2).mean(dim=(1, 2))


def red_object_image() -> torch.Tensor:
    image = torch.full((1, 3, 64, 80), 0.45)
    image[:, 1] = 0.55
    image[:, :, OBJECT[0], OBJECT[1]] = torch.tensor([0.95, 0.1, 0.1]).view(1, 3, 1, 1)
    return image


def test_grid_covers_every_pixel_with_the_requested_overlap() -> None:
    assert axis_positions(512, 256, 0.5) == [0, 128, 256]
    assert axis_positions(100, 100, 0.5) == [0]
    for height, width, scale, overlap in [(64, 80, 0.4, 0.25), (97, 53, 0.33, 0.5), (512, 512, 2 / 3, 0.25)]:
        boxes = grid_boxes(height, width, scale, overlap)
        seen = np.zeros((height, width), bool)
        for b in boxes:
            assert b.top + b.size <= height and b.left + b.size <= width
            seen[b.top : b.top + b.size, b.left : b.left + b.size] = True
        assert seen.all()
        tops = sorted({b.top for b in boxes})
        if len(tops) > 1:
            assert max(np.diff(tops)) <= boxes[0].size * (1 - overlap) + 1


def test_default_plan_fits_the_resmem_budget_on_512px() -> None:
    grids = plan(512, 512, DEFAULT_SCALES)
    assert [len(g) for g in grids] == [4, 9, 9]
    assert [g[0].size for g in grids] == [341, 256, 205]  # coarsest first


def test_region_map_is_highest_on_the_red_object() -> None:
    heat = region_map(red_object_image(), RedMass(), scales=(0.5, 0.33))
    assert heat.shape == (64, 80) and heat.dtype == np.float32
    assert heat.min() == 0.0 and heat.max() == 1.0
    y, x = np.unravel_index(heat.argmax(), heat.shape)
    assert OBJECT[0].start <= y < OBJECT[0].stop and OBJECT[1].start <= x < OBJECT[1].stop
    outside = np.concatenate([heat[:24].ravel(), heat[:, 40:].ravel()])
    assert heat[OBJECT].mean() > 0.6 > 0.1 > outside.mean()


def test_default_scales_put_the_peak_in_the_objects_quadrant() -> None:
    heat = region_map(red_object_image(), RedMass())
    y, x = np.unravel_index(heat.argmax(), heat.shape)
    assert y >= 32 and x < 40


def test_batching_changes_nothing_but_the_number_of_calls() -> None:
    one, many = RedMass(), RedMass()
    a = region_map(red_object_image(), one, scales=(0.5, 0.33), batch_size=1)
    b = region_map(red_object_image(), many, scales=(0.5, 0.33), batch_size=8)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert set(one.batch_sizes) == {1}
    assert len(many.batch_sizes) < len(one.batch_sizes) and max(many.batch_sizes) == 8
    assert (
        sum(many.batch_sizes) == sum(one.batch_sizes) == sum(len(g) for g in plan(64, 80, (0.5, 0.33), 0.25))
    )


def test_job_yields_the_coarse_map_first_then_refines() -> None:
    job = region_map_job(red_object_image(), RedMass(), scales=(2 / 3, 0.5, 0.4), batch_size=4)
    steps = []
    while True:
        try:
            steps.append(next(job))
        except StopIteration as stop:
            final = stop.value
            break
    previews = [s.preview for s in steps if s.preview is not None]
    assert len(previews) == 3  # one per scale
    assert steps[0].preview is not None or steps[0].fraction < steps[-1].fraction
    first_preview_at = next(i for i, s in enumerate(steps) if s.preview is not None)
    assert steps[first_preview_at].fraction < 0.5  # the coarse map arrives early
    assert all(p.shape == (1, 1, 64, 80) and p.dtype == torch.float32 for p in previews)
    np.testing.assert_array_equal(previews[-1][0, 0].numpy(), final)
    assert not torch.equal(previews[0], previews[-1])
    fractions = [s.fraction for s in steps]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


def test_closing_the_job_midway_stops_scoring() -> None:
    assessor = RedMass()
    job = region_map_job(red_object_image(), assessor, scales=(0.5, 0.33), batch_size=2)
    first = next(job)
    assert first.fraction < 1.0
    calls = len(assessor.batch_sizes)
    job.close()
    with pytest.raises(StopIteration):
        next(job)
    assert len(assessor.batch_sizes) == calls


def test_normalisation_and_flat_maps() -> None:
    np.testing.assert_allclose(normalize_map(np.array([[2.0, 4.0], [3.0, 6.0]])), [[0, 0.5], [0.25, 1]])
    flat = region_map(torch.full((1, 3, 40, 40), 0.5), RedMass(), scales=(0.5,))
    assert np.all(flat == 0.5)  # no region differs: say so, do not amplify rounding noise


def test_bad_inputs_are_explained() -> None:
    with pytest.raises(MapError, match=r"\[1, 3, H, W\]"):
        region_map(torch.rand(2, 3, 32, 32), RedMass())
    with pytest.raises(MapError, match="scales"):
        region_map(torch.rand(1, 3, 32, 32), RedMass(), scales=(1.5,))
    with pytest.raises(MapError, match="overlap"):
        region_map(torch.rand(1, 3, 32, 32), RedMass(), overlap=1.0)
    with pytest.raises(MapError, match="batch_size"):
        region_map(torch.rand(1, 3, 32, 32), RedMass(), batch_size=0)
