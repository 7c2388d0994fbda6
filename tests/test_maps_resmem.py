"""The real ResMem through the region-map path (slow: loads 528 MB of weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from memstudio.core.assessors.registry import ASSESSORS, load_assessor
from memstudio.core.imaging import load_image, pil_to_tensor
from memstudio.core.maps.regions import region_map_job

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "photos" / "astronaut.png"


@pytest.mark.slow
def test_resmem_region_map_of_a_photo() -> None:
    available, reason = ASSESSORS["resmem"].available()
    if not available:
        pytest.skip(f"ResMem weights not installed: {reason}")
    resmem = load_assessor("resmem")
    image = pil_to_tensor(load_image(PHOTO).image.resize((256, 256)))
    job = region_map_job(image, resmem, scales=(0.5,), overlap=0.0, batch_size=4)
    steps = []
    while True:
        try:
            steps.append(next(job))
        except StopIteration as stop:
            heat = stop.value
            break
    assert len(steps) == 1 and steps[0].preview is not None  # 4 windows, one batch, one map
    assert heat.shape == (256, 256) and heat.min() == 0.0 and heat.max() == 1.0
    # With no overlap each quadrant of the map is its window's score, min–max normalised.
    quadrants = [image[:, :, y : y + 128, x : x + 128] for y in (0, 128) for x in (0, 128)]
    batch = F.interpolate(torch.cat(quadrants), size=(256, 256), mode="bilinear", antialias=True)
    scores = resmem.score(batch).numpy()
    expected = (scores - scores.min()) / (scores.max() - scores.min())
    centres = np.array([heat[y, x] for y in (64, 192) for x in (64, 192)])
    np.testing.assert_allclose(centres, expected, atol=2e-3)
