"""Human consistency (004 §2.3): split halves, the adversarial low/high-delay split, assessor agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.experiments.consistency import (
    adversarial_split_consistency,
    assessor_correlation,
    split_half_consistency,
)
from memstudio.core.experiments.scoring import TargetObservations

N_IMAGES, PER_IMAGE, N_PARTICIPANTS = 150, 120, 240
ALPHA, T = -0.15, 80.0


@pytest.fixture(scope="module")
def observations() -> tuple[TargetObservations, np.ndarray]:
    """Each image seen by 120 of 240 participants at delays drawn from 004's 35–150 range."""
    rng = np.random.default_rng(0)
    m_T = rng.uniform(0.35, 0.85, N_IMAGES)
    ii = np.repeat(np.arange(N_IMAGES), PER_IMAGE)
    pp = np.concatenate([rng.permutation(N_PARTICIPANTS)[:PER_IMAGE] for _ in range(N_IMAGES)])
    t = rng.integers(35, 151, ii.size).astype(float)
    x = (rng.random(ii.size) < m_T[ii] + ALPHA * np.log(t / T)).astype(float)
    obs = TargetObservations(
        tuple(f"img{i}" for i in range(N_IMAGES)), ii, x, t, tuple(f"P{p}" for p in range(N_PARTICIPANTS)), pp
    )
    return obs, m_T


def test_adversarial_split_differs_without_correction_and_agrees_with_it(observations) -> None:
    obs, _ = observations
    res = adversarial_split_consistency(obs, seed=1, T=T)
    # What the delay alone should do to plain hit rates: α × (mean log-delay of the low half − the high half).
    L = np.log(obs.delays / T)
    gaps = []
    for i in range(N_IMAGES):
        li = np.sort(L[obs.image_index == i])
        gaps.append(li[: li.size // 2].mean() - li[li.size // 2 :].mean())
    expected = ALPHA * float(np.mean(gaps))
    # Binomial SE of the mean low−high difference: sqrt(p(1−p)·(1/60 + 1/60) / 150) ≤ 0.0075; allow 4 SE.
    assert res.low_minus_high_uncorrected == pytest.approx(expected, abs=0.03)
    assert res.low_minus_high_uncorrected > 0.08
    assert abs(res.low_minus_high_corrected) < 0.03
    # The ranking agreement is restored (004: 0.61 → 0.67 on LaMem; larger here because α is larger).
    assert res.rho_corrected > res.rho_uncorrected + 0.1
    # Each half finds the same decay on its own.
    assert res.alpha_low == pytest.approx(ALPHA, abs=0.05)
    assert res.alpha_high == pytest.approx(ALPHA, abs=0.05)


def test_random_split_halves_agree_with_and_without_correction(observations) -> None:
    obs, _ = observations
    plain = split_half_consistency(obs, n_splits=25, corrected=False, seed=0, T=T)
    corrected = split_half_consistency(obs, n_splits=25, corrected=True, seed=0, T=T)
    assert len(plain.rhos) == 25 and plain.mean_images == N_IMAGES
    # Random splits mix delays evenly, so correction changes little (004: 0.67 vs 0.68).
    assert abs(corrected.mean_rho - plain.mean_rho) < 0.03
    assert 0.7 < plain.mean_rho < 0.98
    alphas = np.array(corrected.alphas)
    assert len(alphas) == 50 and abs(alphas.mean() - ALPHA) < 0.02 and alphas.std() < 0.02
    with pytest.raises(ValueError, match="two participants"):
        split_half_consistency(obs.subset(obs.participant_index == 0))


class _Redness(Assessor):
    """A differentiable toy assessor: the mean of the red channel."""

    name = "toy-red"
    property = "redness"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images[:, 0].mean(dim=(1, 2))


def test_assessor_correlation_with_human_scores() -> None:
    rng = np.random.default_rng(3)
    human = {f"img{i}": float(v) for i, v in enumerate(rng.uniform(0.3, 0.9, 40))}
    images = torch.zeros(40, 3, 8, 8)
    noisy = np.array(list(human.values())) + rng.normal(0, 0.02, 40)
    images[:, 0] = torch.tensor(noisy, dtype=torch.float32)[:, None, None]
    predicted = dict(zip(human, _Redness().score(images).tolist(), strict=True))
    agree = assessor_correlation(human, predicted)
    assert agree.n == 40 and agree.rho > 0.9 and agree.p_value < 1e-10
    against = assessor_correlation(human, {k: -v for k, v in predicted.items()})
    assert against.rho == pytest.approx(-agree.rho)
    with pytest.raises(ValueError, match="at least 3 images"):
        assessor_correlation(human, {"img0": 0.1, "other": 0.2})
