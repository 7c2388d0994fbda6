"""The heatmap feature's engine-thread command: the core's map (the CLI's), its units, and the batch choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memstudio.core.assessors.registry import load_assessor
from memstudio.core.jobs import run_to_end
from memstudio.core.maps.api import compute_map
from memstudio.core.session.heatmaps import CPU_MAP_BATCH, MAP_BATCH, ComputeMap, MapSettings, map_batch


class Pipeline:
    """The two things the command asks of the engine's pipeline: its device and a resident assessor."""

    device = torch.device("cpu")

    def assessor(self, name: str):
        return load_assessor(name, self.device)


def test_compute_map_is_the_cli_map_with_its_units():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 48, 64) * 0.3
    image[:, 0, 4:20, 40:60] = 0.95  # a red patch
    settings = MapSettings("regions", "redness", (0.5, 0.34), None)
    command = ComputeMap(image, settings, frame_id=7)
    assert command.title == "Heatmap of frame #7 (regions · redness · 2 scales)"
    steps = command.steps(Pipeline())
    previews = []
    while True:
        try:
            step = next(steps)
        except StopIteration as stop:
            result = stop.value
            break
        if step.preview is not None:
            previews.append(step.preview)
    assert len(previews) == 2  # coarse, then refined
    expected = compute_map(image, load_assessor("redness"), "regions", (0.5, 0.34))
    np.testing.assert_array_equal(result.map, expected)
    scale = result.scale
    assert scale.has_units and "redness" in scale.quantity
    whole = float(load_assessor("redness").score(image)[0])
    assert scale.low < whole < scale.high  # windows on the patch are redder than the whole image
    # The reddest pixel of the map reads as the map's high end.
    row, col = np.unravel_index(np.argmax(result.map), result.map.shape)
    assert scale.value(float(result.map[row, col])) == pytest.approx(scale.high)


def test_gradient_maps_have_no_units_and_batches_follow_the_device():
    image = torch.rand(1, 3, 32, 32)
    result = run_to_end(ComputeMap(image, MapSettings("gradient", "brightness", None, None)).steps(Pipeline()))
    assert not result.scale.has_units and result.scale.bounds() == (0.0, 1.0)
    assert "normalised" in result.scale.label()
    assert map_batch(torch.device("cpu")) == CPU_MAP_BATCH and map_batch("cuda:0") == MAP_BATCH
