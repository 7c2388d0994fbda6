"""Layerwise W+ edits (paper 001 §3.4, A.2): subsets, coefficients and the per-layer analysis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_directions_toys import LinearStyle, MeanLuma

from memstudio.core.directions.base import Direction, DirectionError, apply_directions
from memstudio.core.directions.layerwise import (
    analyze_layers,
    layer_groups,
    layer_weights,
    record_analysis,
    with_layers,
)
from memstudio.core.generators.base import Latent
from memstudio.core.jobs import run_to_end

pytestmark = pytest.mark.usefixtures("single_thread")


def _w_direction(dim: int = 8) -> Direction:
    vector = torch.randn(dim, generator=torch.Generator().manual_seed(3))
    return Direction(name="mem", property="brightness", space="w", vector=vector, alpha_range=(-2.0, 2.0))


def test_subset_changes_only_those_layers() -> None:
    direction = with_layers(_w_direction(), num_ws=6, layers=[1, 4], coefficients=[1.0, 0.5])
    latent = Latent("w+", torch.randn(3, 6, 8))
    edited = apply_directions(latent, [(direction, 2.0)])
    delta = edited.values - latent.values
    untouched = [0, 2, 3, 5]
    assert torch.count_nonzero(delta[:, untouched]) == 0
    torch.testing.assert_close(delta[:, 1], 2.0 * direction.vector.expand(3, 8))
    torch.testing.assert_close(delta[:, 4], 1.0 * direction.vector.expand(3, 8))


def test_w_plus_direction_and_validation() -> None:
    vector = torch.randn(4, 8)
    direction = Direction(name="d", property="p", space="w+", vector=vector)
    layered = with_layers(direction, 4, layers=[0], coefficients=3.0)
    edited = apply_directions(Latent("w+", torch.zeros(1, 4, 8)), [(layered, 1.0)])
    torch.testing.assert_close(edited.values[0, 0], 3 * vector[0])
    assert torch.count_nonzero(edited.values[0, 1:]) == 0
    with pytest.raises(DirectionError, match="do not exist"):
        layer_weights(4, [4])
    with pytest.raises(DirectionError, match="coefficients"):
        layer_weights(4, [0, 1], [1.0])
    with pytest.raises(DirectionError, match="only W and W"):
        with_layers(Direction(name="z", property="p", space="z", vector=torch.ones(3)), 4, [0])


def test_layer_groups_follow_stylegan2() -> None:
    groups = layer_groups(18, resolution=1024)
    assert groups["coarse"] == [0, 1, 2, 3] and groups["middle"] == [4, 5, 6, 7] and groups["fine"][-1] == 17
    thirds = layer_groups(16)  # StyleGAN3: no resolution rule
    assert sum(len(v) for v in thirds.values()) == 16 and thirds["coarse"] == [0, 1, 2, 3, 4]


def test_analysis_matches_the_analytic_layer_effect(tmp_path) -> None:
    generator = LinearStyle(num_ws=4)
    direction = _w_direction()
    analysis = run_to_end(
        analyze_layers(generator, MeanLuma(), direction, num_samples=6, alphas=[-1.0, 2.0], batch_size=3)
    )
    per_layer = generator.brightness_gradient("w+") @ direction.vector  # Δ brightness per unit α, layer alone
    expected = torch.stack([-per_layer, 2 * per_layer], dim=1)
    torch.testing.assert_close(
        torch.tensor(analysis.mean_delta, dtype=torch.float64), expected.double(), rtol=1e-4, atol=1e-6
    )
    assert analysis.num_samples == 6 and analysis.layers == [0, 1, 2, 3]

    paths = analysis.save(tmp_path, "mem-layers")
    assert [p.suffix for p in paths] == [".csv", ".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)
    rows = paths[0].read_text().splitlines()
    assert rows[0].startswith("layer,delta@-1,delta@2") and len(rows) == 5
    saved = record_analysis(direction, analysis).save(tmp_path / "mem.json")
    loaded = Direction.load(saved)
    assert np.array(loaded.evidence["layers"]["mean_delta"]) == pytest.approx(np.array(analysis.mean_delta))
