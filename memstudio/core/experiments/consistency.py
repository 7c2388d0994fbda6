"""Human consistency (004 §2.3) and agreement between human scores and an assessor.

Split-half consistency: split the participants at random into two halves, score every image from each half,
and take Spearman's rank correlation between the halves, averaged over N splits (25 in 004) — with plain hit
rates (Isola et al.) or with the delay-corrected m_T. The *adversarial* split puts each image's short-delay
responses in one half and its long-delay responses in the other (which half at random per image): plain hit
rates then disagree systematically, while m_T, which removes the delay effect, agrees again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from memstudio.core.experiments.scoring import TargetObservations, default_T, fit_delay_decay


@dataclass(frozen=True)
class SplitHalfResult:
    mean_rho: float
    rhos: tuple[float, ...]
    corrected: bool
    #: α of both halves of every split (corrected only): 004 reports it is stable across splits.
    alphas: tuple[float, ...]
    mean_images: float


@dataclass(frozen=True)
class AdversarialResult:
    rho_uncorrected: float
    rho_corrected: float
    #: Mean over images of (short-delay score − long-delay score): the delay effect on each score.
    low_minus_high_uncorrected: float
    low_minus_high_corrected: float
    alpha_low: float
    alpha_high: float


@dataclass(frozen=True)
class Correlation:
    rho: float
    p_value: float
    n: int


def _half_scores(
    obs: TargetObservations, mask: np.ndarray, corrected: bool, T: float
) -> tuple[np.ndarray, float]:
    """Scores of every image from the observations in ``mask`` (NaN where an image has none there)."""
    n_images = len(obs.images)
    idx = obs.image_index[mask]
    if corrected:
        fit = fit_delay_decay(idx, obs.hits[mask], obs.delays[mask], T, n_images)
        return fit.m_T, fit.alpha
    n = np.bincount(idx, minlength=n_images).astype(float)
    hits = np.bincount(idx, obs.hits[mask], n_images)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hits / n, np.nan), float("nan")


def _finite_mean(values: np.ndarray | list[float]) -> float:
    """Mean over finite entries; NaN (not a warning) when an experiment is too small to have any."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < 3:
        return float("nan"), int(both.sum())
    return float(spearmanr(a[both], b[both]).statistic), int(both.sum())


def split_half_consistency(
    obs: TargetObservations,
    n_splits: int = 25,
    corrected: bool = False,
    seed: int = 0,
    T: float | None = None,
) -> SplitHalfResult:
    """Spearman ρ between two random halves of the participants, averaged over ``n_splits`` splits."""
    present = np.unique(obs.participant_index)
    if present.size < 2:
        raise ValueError("split-half consistency needs at least two participants")
    T = default_T(obs.delays) if T is None else T
    rng = np.random.default_rng(seed)
    rhos, alphas, counts = [], [], []
    for _ in range(n_splits):
        in_a = np.zeros(len(obs.participants), dtype=bool)
        in_a[rng.permutation(present)[: present.size // 2]] = True
        mask_a = in_a[obs.participant_index]
        a, alpha_a = _half_scores(obs, mask_a, corrected, T)
        b, alpha_b = _half_scores(obs, ~mask_a, corrected, T)
        rho, n = _rank_correlation(a, b)
        rhos.append(rho)
        counts.append(n)
        if corrected:
            alphas.extend([alpha_a, alpha_b])
    return SplitHalfResult(_finite_mean(rhos), tuple(rhos), corrected, tuple(alphas), float(np.mean(counts)))


def adversarial_split_consistency(
    obs: TargetObservations, seed: int = 0, T: float | None = None
) -> AdversarialResult:
    """004's adversarial split: each image's low-delay responses against its high-delay responses."""
    T = default_T(obs.delays) if T is None else T
    rng = np.random.default_rng(seed)
    low = np.zeros(obs.hits.size, dtype=bool)
    jitter = rng.random(obs.hits.size)  # breaks ties among equal delays at random
    order = np.lexsort((jitter, obs.delays, obs.image_index))
    counts = np.bincount(obs.image_index, minlength=len(obs.images))
    start = 0
    for n in counts:
        low[order[start : start + n // 2]] = True
        start += n
    scores = {}
    for corrected in (False, True):
        scores[corrected] = (_half_scores(obs, low, corrected, T), _half_scores(obs, ~low, corrected, T))
    # Which overall split gets an image's low half is a coin flip per image.
    flip = rng.random(len(obs.images)) < 0.5
    result = {}
    for corrected, ((s_low, a_low), (s_high, a_high)) in scores.items():
        split_a = np.where(flip, s_low, s_high)
        split_b = np.where(flip, s_high, s_low)
        rho, _ = _rank_correlation(split_a, split_b)
        result[corrected] = (rho, _finite_mean(s_low - s_high), a_low, a_high)
    return AdversarialResult(
        rho_uncorrected=result[False][0],
        rho_corrected=result[True][0],
        low_minus_high_uncorrected=result[False][1],
        low_minus_high_corrected=result[True][1],
        alpha_low=result[True][2],
        alpha_high=result[True][3],
    )


def assessor_correlation(human: Mapping[str, float], predicted: Mapping[str, float]) -> Correlation:
    """Spearman ρ between human scores and an assessor's predictions over the images both have."""
    common = [k for k in human if k in predicted]
    if len(common) < 3:
        raise ValueError(f"need at least 3 images scored by both, got {len(common)}")
    a = np.array([human[k] for k in common], dtype=float)
    b = np.array([predicted[k] for k in common], dtype=float)
    res = spearmanr(a, b)
    return Correlation(float(res.statistic), float(res.pvalue), len(common))
