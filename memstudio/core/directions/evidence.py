"""Evidence that a direction works, measured on held-out samples and stored inside the direction file.

Paper 000 §3.1: render every held-out starting point at the test α (−0.2 … 0.2), plot the mean assessor score
per α (Fig. 3A), and fit the slope β of score against α with its 95 % CI (MemNet: β = 0.68 [0.66, 0.70]).
The paper fits a linear mixed-effects model with a random intercept per image; with every image rendered at
every α (a balanced design) its slope equals the within-image least-squares slope computed here (a fixed
intercept per image), and the CI uses the within-image residuals with a t distribution. R² is the share of
the within-image variance that α explains. The image factors of Fig. 3B (brightness, colourfulness, redness,
entropy) are scored on the same images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from scipy import stats

from memstudio.core.assessors.base import Assessor
from memstudio.core.directions.base import Direction, DirectionError, apply_directions
from memstudio.core.directions.sampling import HELDOUT_SEED, LatentSource, module_device
from memstudio.core.generators.base import Generator
from memstudio.core.jobs import Job, Progress

#: Paper 000's test α.
PAPER_TEST_ALPHAS = (-0.2, -0.1, 0.0, 0.1, 0.2)
#: The image factors of paper 000 Fig. 3B, by assessor registry name.
FACTOR_NAMES = ("brightness", "colorfulness", "redness", "entropy")


@dataclass(frozen=True)
class SlopeFit:
    """β of score on α with per-sample intercepts, its 95 % CI, standard error, R² and p-value."""

    beta: float
    ci_low: float
    ci_high: float
    se: float
    r2: float
    df: int
    p_value: float


def slope_fit(alphas: Sequence[float], scores: np.ndarray, confidence: float = 0.95) -> SlopeFit:
    """Within-sample least squares: ``scores[i, j] = c_i + β·alphas[j] + ε``; one row per sample.

    With a single row this is ordinary least squares with an intercept (``numpy.polyfit(deg=1)``).
    """
    x = np.asarray(alphas, dtype=np.float64)
    y = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    n, k = y.shape
    if k != len(x) or k < 2 or len(np.unique(x)) < 2:
        raise DirectionError(f"need ≥ 2 distinct α and one score per α; got {len(x)} α for {k} scores per sample")
    xc = x - x.mean()
    yc = y - y.mean(axis=1, keepdims=True)
    sxx = n * float(xc @ xc)
    beta = float((yc @ xc).sum()) / sxx
    residual = yc - beta * xc[None, :]
    sse = float((residual**2).sum())
    sst = float((yc**2).sum())
    df = n * k - n - 1
    r2 = 1.0 - sse / sst if sst > 0 else 1.0
    if df <= 0:
        return SlopeFit(beta, math.nan, math.nan, math.nan, r2, df, math.nan)
    se = math.sqrt(sse / df / sxx)
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    p = float(2 * stats.t.sf(abs(beta) / se, df)) if se > 0 else 0.0
    return SlopeFit(beta, beta - half, beta + half, se, r2, df, p)


def default_test_alphas(direction: Direction) -> list[float]:
    """Paper 000's test α for GANalyze (α is in score units there); otherwise five points across the
    direction's own α range (a unit hyperplane normal moves the score per unit of latent distance)."""
    if direction.method.startswith("ganalyze"):
        return list(PAPER_TEST_ALPHAS)
    low, high = direction.alpha_range
    return [low, low / 2, 0.0, high / 2, high]


def load_factor_assessors(device: torch.device | str | None = None) -> dict[str, Assessor]:
    """The image-factor assessors that are available (a missing one is left out)."""
    try:
        from memstudio.core.assessors.registry import load_assessor
    except ImportError:
        return {}
    found = {}
    for name in FACTOR_NAMES:
        try:
            found[name] = load_assessor(name, device)
        except Exception:  # a missing factor leaves the others usable; the evidence records which were scored
            continue
    return found


def evaluate_direction(
    generator: Generator,
    assessor: Assessor,
    direction: Direction,
    alphas: Sequence[float] | None = None,
    num_samples: int = 64,
    batch_size: int = 8,
    seed: int = HELDOUT_SEED,
    factors: dict[str, Assessor] | None = None,
) -> Job[dict[str, object]]:
    """The evidence job; its result is the evidence dict (:func:`attach_evidence` stores it in the direction).

    GAN: ``num_samples`` fresh latents from ``seed`` (the training z distribution). Photo editing: every
    photo the editor holds (give it photos that were not trained on). ``alphas`` None →
    :func:`default_test_alphas`. ``factors`` None loads the available image-factor assessors, ``{}`` none.
    """
    alphas = [float(a) for a in (default_test_alphas(direction) if alphas is None else alphas)]
    settings = direction.settings
    source = LatentSource(
        generator,
        direction.space,
        z_bound=settings.get("z_bound") if "z_bound" in settings else 2.0,
        classes=settings.get("classes"),
    )
    if factors is None:
        factors = load_factor_assessors(module_device(generator))
    total = source.count(num_samples)
    rows: list[torch.Tensor] = []
    factor_rows: dict[str, list[torch.Tensor]] = {name: [] for name in factors}
    done = 0
    for renderer, latent in source.batches(num_samples, batch_size, seed):
        per_alpha = []
        per_factor: dict[str, list[torch.Tensor]] = {name: [] for name in factors}
        with torch.no_grad():
            for alpha in alphas:
                images = renderer.render(apply_directions(latent, [(direction, alpha)]))
                per_alpha.append(assessor.score(images).double())
                for name, factor in factors.items():
                    per_factor[name].append(factor.score(images).double())
        rows.append(torch.stack(per_alpha, dim=1))
        for name in factors:
            factor_rows[name].append(torch.stack(per_factor[name], dim=1))
        done += latent.values.shape[0]
        yield Progress(done / total, f"evidence on {done}/{total} held-out samples")

    scores = torch.cat(rows).numpy()
    fit = slope_fit(alphas, scores)
    evidence: dict[str, object] = {
        "alphas": alphas,
        "mean_score": scores.mean(0).tolist(),
        "sem": (scores.std(0, ddof=1) / math.sqrt(len(scores))).tolist() if len(scores) > 1 else [0.0] * len(alphas),
        "beta": fit.beta,
        "ci95": [fit.ci_low, fit.ci_high],
        "se": fit.se,
        "r2": fit.r2,
        "df": fit.df,
        "p_value": fit.p_value,
        "num_samples": int(len(scores)),
        "heldout": "photos given for evaluation" if source.is_photo else {"seed": seed},
        "assessor": assessor.describe(),
        "generator": generator.describe(),
    }
    factor_evidence = {}
    for name, chunks in factor_rows.items():
        values = torch.cat(chunks).numpy()
        factor_fit = slope_fit(alphas, values)
        # Fig. 3B normalises each factor before averaging, so factors of different units share one plot.
        z = (values - values.mean()) / (values.std() or 1.0)
        factor_evidence[name] = {
            "mean": values.mean(0).tolist(),
            "normalized_mean": z.mean(0).tolist(),
            "beta": factor_fit.beta,
            "ci95": [factor_fit.ci_low, factor_fit.ci_high],
        }
    evidence["factors"] = factor_evidence
    return evidence


def attach_evidence(direction: Direction, evidence: dict[str, object]) -> Direction:
    """The direction with ``evidence`` merged in (other analyses kept) and β/R² copied into its metrics."""
    merged = dict(direction.evidence)
    merged.update(evidence)
    metrics = dict(direction.metrics)
    metrics.update(beta=evidence["beta"], beta_ci95=evidence["ci95"], r2=evidence["r2"])
    return replace(direction, evidence=merged, metrics=metrics)


def slope_summary(fit: SlopeFit) -> str:
    """One line for the CLI and the note: β [CI], R²."""
    values = asdict(fit)
    return "β = {beta:.3f} (95% CI [{ci_low:.3f}, {ci_high:.3f}]), R² = {r2:.3f}".format(**values)
