"""Separating hyperplanes (paper 001 §2.4): the fitted normal recovers a planted direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_directions_toys import LinearStyle, MeanLuma

from memstudio.core.directions.base import DirectionError
from memstudio.core.directions.hyperplane import (
    CLASSIFIERS,
    SPLITS,
    HyperplaneSettings,
    fit_hyperplane,
    fit_linear,
    split_labels,
)
from memstudio.core.jobs import run_to_end

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_hyperplane_recovers_the_planted_direction(split: str, classifier: str) -> None:
    # Brightness of this generator is exactly c·z + b, so the true normal in Z is c.
    generator = LinearStyle(z_dim=16, w_dim=16)
    settings = HyperplaneSettings(
        space="z", num_samples=300, split=split, fraction=0.2, classifier=classifier, batch_size=150
    )
    direction = run_to_end(fit_hyperplane(generator, MeanLuma(), settings))
    planted = generator.brightness_gradient("z")
    cos = torch.nn.functional.cosine_similarity(direction.vector, planted, dim=0)
    assert cos > 0.9
    assert float(direction.vector.norm()) == pytest.approx(1.0, abs=1e-5)
    assert direction.metrics["test_accuracy"] >= 0.9
    assert direction.method == f"hyperplane-{classifier}"


def test_w_plus_direction_has_the_latent_shape() -> None:
    generator = LinearStyle(num_ws=3)
    settings = HyperplaneSettings(space="w+", num_samples=120, batch_size=120)
    direction = run_to_end(fit_hyperplane(generator, MeanLuma(), settings))
    assert direction.vector.shape == (3, generator.w_dim)
    assert direction.metrics["score_distance_correlation"] > 0.8


def test_default_space_is_w_and_is_stored_resolved() -> None:
    generator = LinearStyle(num_ws=3)
    settings = HyperplaneSettings(num_samples=120, batch_size=120)
    direction = run_to_end(fit_hyperplane(generator, MeanLuma(), settings))
    assert direction.space == direction.settings["space"] == "w"
    assert direction.vector.shape == (generator.w_dim,)
    assert settings.space is None  # the caller's settings are not modified


def test_fit_linear_on_noisy_planted_data() -> None:
    rng = np.random.default_rng(0)
    normal = rng.normal(size=10)
    normal /= np.linalg.norm(normal)
    x = rng.normal(size=(600, 10))
    scores = x @ normal + 0.1 * rng.normal(size=600)
    for rule in SPLITS:
        keep, y = split_labels(scores, rule, fraction=0.1)
        for classifier in CLASSIFIERS:
            weights, _ = fit_linear(x[keep], y, classifier)
            assert weights @ normal / np.linalg.norm(weights) > 0.95


def test_split_rules() -> None:
    scores = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    keep, y = split_labels(scores, "mean")  # mean 3.2: only 10 is high
    assert list(y[np.argsort(keep)]) == [-1, -1, -1, -1, 1]
    keep, y = split_labels(scores, "median")  # the median itself is dropped
    assert sorted(keep.tolist()) == [0, 1, 3, 4]
    keep, y = split_labels(np.arange(100.0), "fraction", 0.02)
    assert sorted(keep.tolist()) == [0, 1, 98, 99] and sorted(y.tolist()) == [-1, -1, 1, 1]
    with pytest.raises(DirectionError, match="fraction"):
        split_labels(np.arange(20.0), "fraction", 0.02)
    with pytest.raises(DirectionError, match="split rule"):
        split_labels(scores, "quartile")
