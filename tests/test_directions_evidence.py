"""Evidence (paper 000 §3.1, Fig. 3): β, its CI and R² against numpy.polyfit; stored in the direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from test_directions_toys import LinearStyle, MeanLuma

from memstudio.core.directions.base import Direction
from memstudio.core.directions.evidence import attach_evidence, evaluate_direction, slope_fit
from memstudio.core.jobs import run_to_end

pytestmark = pytest.mark.usefixtures("single_thread")

ALPHAS = [-0.2, -0.1, 0.0, 0.1, 0.2]


def test_single_sample_is_ordinary_least_squares() -> None:
    rng = np.random.default_rng(0)
    x = np.array(ALPHAS * 3)  # one "sample" observed three times per α, flattened as one row
    y = 0.5 + 0.7 * x + 0.02 * rng.normal(size=x.size)
    fit = slope_fit(x, y[None, :])
    (slope, intercept), cov = np.polyfit(x, y, 1, cov="unscaled")
    residual = y - (slope * x + intercept)
    sigma2 = residual @ residual / (x.size - 2)
    se = np.sqrt(cov[0, 0] * sigma2)
    half = stats.t.ppf(0.975, x.size - 2) * se
    assert fit.beta == pytest.approx(slope, rel=1e-10)
    assert fit.se == pytest.approx(se, rel=1e-8)
    assert (fit.ci_low, fit.ci_high) == pytest.approx((slope - half, slope + half), rel=1e-8)
    r2 = 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))
    assert fit.r2 == pytest.approx(r2, rel=1e-10)


def test_per_sample_intercepts_are_removed() -> None:
    rng = np.random.default_rng(1)
    offsets = rng.normal(0.5, 0.2, size=(40, 1))  # images differ a lot in their base score
    scores = offsets + 0.68 * np.array(ALPHAS)[None, :] + 0.01 * rng.normal(size=(40, 5))
    fit = slope_fit(ALPHAS, scores)
    pooled = np.polyfit(np.tile(ALPHAS, 40), scores.ravel(), 1)
    assert fit.beta == pytest.approx(pooled[0], rel=1e-10)  # balanced design: same slope
    centred = scores - scores.mean(axis=1, keepdims=True)
    slope, intercept = np.polyfit(np.tile(ALPHAS, 40), centred.ravel(), 1)
    residual = centred.ravel() - (slope * np.tile(ALPHAS, 40) + intercept)
    assert fit.r2 == pytest.approx(1 - residual @ residual / (centred.ravel() @ centred.ravel()), rel=1e-10)
    assert fit.ci_low < 0.68 < fit.ci_high and fit.ci_high - fit.ci_low < 0.05
    assert fit.df == 40 * 5 - 40 - 1 and fit.p_value < 1e-10


def test_evidence_is_measured_and_stored(tmp_path) -> None:
    generator, assessor = LinearStyle(), MeanLuma()
    c = generator.brightness_gradient("w")
    direction = Direction(
        name="bright",
        property="brightness",
        space="w",
        vector=c / (c @ c),
        method="manual",
        settings={"z_bound": 2.0},
    )
    factors = {"brightness": MeanLuma()}
    evidence = run_to_end(
        evaluate_direction(
            generator, assessor, direction, ALPHAS, num_samples=12, batch_size=5, factors=factors
        )
    )
    # the direction raises brightness by exactly α (a linear generator): β = 1, R² = 1
    assert evidence["beta"] == pytest.approx(1.0, abs=1e-4) and evidence["r2"] == pytest.approx(1.0, abs=1e-6)
    assert np.diff(evidence["mean_score"]) == pytest.approx([0.1] * 4, abs=1e-4)
    assert evidence["num_samples"] == 12
    assert evidence["factors"]["brightness"]["beta"] == pytest.approx(1.0, abs=1e-4)
    again = run_to_end(evaluate_direction(generator, assessor, direction, ALPHAS, num_samples=12, factors={}))
    assert again["mean_score"] == pytest.approx(evidence["mean_score"])  # same held-out seed, same numbers

    stored = attach_evidence(direction, evidence)
    loaded = Direction.load(stored.save(tmp_path / "bright"))
    assert loaded.evidence["beta"] == pytest.approx(evidence["beta"])
    assert loaded.metrics["beta_ci95"] == pytest.approx(evidence["ci95"])
    assert loaded.evidence["factors"]["brightness"]["mean"] == pytest.approx(
        evidence["factors"]["brightness"]["mean"]
    )
    torch.testing.assert_close(loaded.vector, direction.vector)


def test_default_test_alphas() -> None:
    from memstudio.core.directions.evidence import PAPER_TEST_ALPHAS, default_test_alphas

    plane = Direction(
        name="p",
        property="p",
        space="w",
        vector=torch.ones(2),
        method="hyperplane-svm",
        alpha_range=(-3.0, 3.0),
    )
    assert default_test_alphas(plane) == [-3.0, -1.5, 0.0, 1.5, 3.0]
    assert default_test_alphas(
        Direction(name="g", property="p", space="z", vector=torch.ones(2), method="ganalyze")
    ) == list(PAPER_TEST_ALPHAS)
