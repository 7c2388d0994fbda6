"""The separating hyperplane of paper 001 §2.4 (after InterFaceGAN): its unit normal is the direction.

Sample N latents, score their images, label them high/low (mean split — the paper's choice —, median split,
or InterFaceGAN's top/bottom fraction, 2 %), fit a linear classifier in Z, W or W+ (num_ws×w_dim flattened),
report held-out accuracy, and edit with w + α·n: the signed distance to the plane grows by exactly α
(001 eq. 3–4).

The classifiers are written here (scikit-learn is not a dependency): L2-regularised logistic regression and a
linear SVM with the squared hinge loss, both smooth, both minimised with SciPy's L-BFGS on float64.
"""

from __future__ import annotations

from collections.abc import Generator as Coroutine
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from scipy.optimize import minimize

from memstudio.core.assessors.base import Assessor
from memstudio.core.directions.base import Direction, DirectionError
from memstudio.core.directions.sampling import LatentSource
from memstudio.core.generators.base import Generator
from memstudio.core.jobs import Job, Progress

SPLITS = ("mean", "median", "fraction")
CLASSIFIERS = ("logistic", "svm")


@dataclass
class HyperplaneSettings:
    """How to sample, label and fit; stored in the direction file.

    ``l2`` is the ridge strength λ on the mean loss (λ/2·‖n‖²), the same for both classifiers.
    ``z_bound`` None samples z from the untruncated normal, as InterFaceGAN does.
    ``space`` None → :func:`default_space`.
    """

    space: str | None = None
    num_samples: int = 2000
    split: str = "mean"
    fraction: float = 0.02
    classifier: str = "logistic"
    l2: float = 1e-3
    test_fraction: float = 0.2
    batch_size: int = 16
    z_bound: float | None = None
    seed: int = 0


def split_labels(scores: np.ndarray, rule: str, fraction: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """(indices kept, labels ±1): high above the mean / median, or the top and bottom ``fraction``."""
    scores = np.asarray(scores, dtype=np.float64)
    if rule == "mean" or rule == "median":
        threshold = scores.mean() if rule == "mean" else np.median(scores)
        keep = np.flatnonzero(scores != threshold)
        return keep, np.where(scores[keep] > threshold, 1.0, -1.0)
    if rule == "fraction":
        count = int(round(len(scores) * fraction))
        if count < 2 or 2 * count > len(scores):
            raise DirectionError(
                f"a top/bottom fraction of {fraction} of {len(scores)} samples leaves {count} per side; "
                "sample more latents or raise the fraction"
            )
        order = np.argsort(scores, kind="stable")
        keep = np.concatenate([order[:count], order[-count:]])
        return keep, np.concatenate([-np.ones(count), np.ones(count)])
    raise DirectionError(f"unknown split rule {rule!r} (choose from {', '.join(SPLITS)})")


def fit_linear(
    x: np.ndarray, y: np.ndarray, classifier: str = "logistic", l2: float = 1e-3
) -> tuple[np.ndarray, float]:
    """Fit ``sign(x·n + b) ≈ y`` (y ∈ {−1, +1}); returns (n, b), n not normalised.

    logistic: mean log(1 + exp(−y·f)) + λ/2‖n‖²; svm: mean max(0, 1 − y·f)² + λ/2‖n‖² (squared hinge,
    differentiable, so L-BFGS applies). The intercept is not penalised.
    """
    if classifier not in CLASSIFIERS:
        raise DirectionError(f"unknown classifier {classifier!r} (choose from {', '.join(CLASSIFIERS)})")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = x.shape

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = params[:d], params[d]
        margin = y * (x @ weights + bias)
        if classifier == "logistic":
            loss = np.logaddexp(0.0, -margin).mean()
            dmargin = -0.5 * (1.0 - np.tanh(margin / 2.0)) / n  # −σ(−m)/n, overflow-free
        else:
            slack = np.maximum(0.0, 1.0 - margin)
            loss = (slack**2).mean()
            dmargin = -2.0 * slack / n
        grad_f = dmargin * y
        grad = np.empty(d + 1)
        grad[:d] = x.T @ grad_f + l2 * weights
        grad[d] = grad_f.sum()
        return loss + 0.5 * l2 * float(weights @ weights), grad

    result = minimize(objective, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return result.x[:d], float(result.x[d])


def default_space(generator: Generator) -> str:
    """Hyperplanes separate W where a generator has it (InterFaceGAN's choice for StyleGAN), else its default."""
    return "w" if "w" in generator.spaces else generator.default_space


def _sample(
    generator: Generator, assessor: Assessor, settings: HyperplaneSettings
) -> Coroutine[Progress, None, tuple[torch.Tensor, torch.Tensor]]:
    """Draw and score ``settings.num_samples`` latents; returns (latents, scores)."""
    source = LatentSource(generator, settings.space, z_bound=settings.z_bound)
    latents, scores = [], []
    done = 0
    for renderer, latent in source.batches(settings.num_samples, settings.batch_size, settings.seed):
        with torch.no_grad():
            scores.append(assessor(renderer.render(latent)).float().cpu())
        latents.append(latent.values.detach().float().cpu())
        done += latent.values.shape[0]
        total = source.count(settings.num_samples)
        yield Progress(0.9 * done / total, f"scored {done}/{total} samples")
    return torch.cat(latents), torch.cat(scores)


def fit_hyperplane(
    generator: Generator,
    assessor: Assessor,
    settings: HyperplaneSettings | None = None,
    name: str | None = None,
    samples: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> Job[Direction]:
    """The hyperplane job: sampling and scoring (progress 0 → 0.9), then the fit; returns the direction.

    ``samples`` = (latents in ``settings.space``, their scores) fits from latents sampled beforehand
    (``memstudio direction sample``, possibly on many processes) instead of sampling here.
    """
    settings = replace(settings or HyperplaneSettings())
    settings.space = settings.space or default_space(generator)
    if samples is None:
        values, scores = yield from _sample(generator, assessor, settings)
    else:
        values, scores = samples[0].float().cpu(), samples[1].float().cpu()
        settings.num_samples = int(values.shape[0])
    latent_shape = tuple(values.shape[1:])
    x = values.reshape(values.shape[0], -1).double().numpy()
    s = scores.double().numpy()

    keep, y = split_labels(s, settings.split, settings.fraction)
    order = np.random.default_rng(settings.seed).permutation(len(keep))
    n_test = max(1, int(round(len(keep) * settings.test_fraction)))
    test, train = order[:n_test], order[n_test:]
    if len(np.unique(y[train])) < 2:
        raise DirectionError("all training samples fell on one side of the split; sample more latents")
    yield Progress(0.92, f"fitting {settings.classifier} on {len(train)} latents in {settings.space}")
    weights, bias = fit_linear(x[keep][train], y[train], settings.classifier, settings.l2)
    norm = float(np.linalg.norm(weights))
    if not norm > 0:
        raise DirectionError("the classifier found no separating direction (all weights zero)")

    def accuracy(rows: np.ndarray) -> float:
        return float(np.mean(np.sign(x[keep][rows] @ weights + bias) == y[rows]))

    normal = weights / norm
    distance = x @ normal + bias / norm
    metrics = {
        "train_accuracy": accuracy(train),
        "test_accuracy": accuracy(test),
        "num_train": int(len(train)),
        "num_test": int(len(test)),
        "threshold_rule": settings.split,
        "score_mean": float(s.mean()),
        "score_std": float(s.std()),
        # Paper 001 eq. 1–2: the score is taken to grow with the distance to the plane.
        "score_distance_correlation": float(np.corrcoef(distance, s)[0, 1]),
        "distance_std": float(distance.std()),
    }
    yield Progress(1.0, f"held-out accuracy {metrics['test_accuracy']:.3f}")
    spread = round(3.0 * float(distance.std()), 4)
    return Direction(
        name=name or f"{assessor.property or assessor.name}-hyperplane",
        property=assessor.property,
        space=settings.space,
        vector=torch.from_numpy(normal).float().reshape(latent_shape),
        method=f"hyperplane-{settings.classifier}",
        generator=generator.describe(),
        assessor=assessor.describe(),
        settings=asdict(settings),
        metrics=metrics,
        # ±3 standard deviations of the samples' distances to the plane (InterFaceGAN edits within ±3).
        alpha_range=(-spread, spread),
    )
