"""Fitting a head on trunk features and measuring, honestly, how well it predicts held-out ratings.

The default head is ridge regression on standardised features, solved in closed form (in the dual, because
there are far fewer rated images than features), with its strength λ chosen by an inner cross-validation on
the training folds only. Features come in blocks (one per trunk level); each block is scaled to the same total
variance, so the 2048 channels of the last stage do not outvote the 256 of the first, which carry colour and
contrast. An optional one-hidden-layer MLP head (weight decay by inner cross-validation) is there for
properties that are not linear in the features, when there are enough ratings to tell.

The evidence is k-fold cross-validated **Spearman ρ** between out-of-fold predictions and the ratings, with a
95 % **percentile bootstrap** interval (resampling the split units: whole source photos when the ratings say
which images share one, so crops of one photo never count as independent evidence). Folds are split by those
units too, never by image, so no fold is tested on a crop of a photo it was trained on. When each rating
names its rater, the **split-half ceiling** (random halves of the raters, Spearman ρ between the halves' mean
ratings, Spearman–Brown corrected; Isola et al. 2011) says how well any model could do on these ratings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import rankdata

from memstudio.core.errors import MemstudioError

#: λ relative to the mean squared norm of a standardised feature row (= the number of blocks), log-spaced.
LAMBDA_GRID = tuple(float(x) for x in np.logspace(-6, 3, 19))
#: Weight decay of the optional MLP head (on the standardised scale of features and ratings), log-spaced.
DECAY_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
MLP_HIDDEN = 64
MLP_INNER_FOLDS = 3
HEADS = ("ridge", "mlp")
BOOTSTRAP_SAMPLES = 2000
SPLIT_HALF_SAMPLES = 200


class TrainingError(MemstudioError):
    """The ratings cannot support the asked-for fit or evaluation (too few images or units, no variation)."""


@dataclass(frozen=True)
class RidgeHead:
    """``score = ((x − mean) / scale) · weight + bias``, in float64."""

    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: float
    alpha: float  # λ / number of blocks
    kind: str = "ridge"

    def predict(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale) @ self.weight + self.bias

    def tensors(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "weight": self.weight, "bias": np.array([self.bias])}


@dataclass(frozen=True)
class MlpHead:
    """``score = tanh(z · w1ᵀ + b1) · w2 + b2`` with ``z = (x − mean) / scale``: one hidden layer, float64."""

    mean: np.ndarray
    scale: np.ndarray
    w1: np.ndarray  # [hidden, features]
    b1: np.ndarray
    w2: np.ndarray  # [hidden]
    b2: float
    alpha: float  # weight decay
    kind: str = "mlp"

    def predict(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.scale
        return np.tanh(z @ self.w1.T + self.b1) @ self.w2 + self.b2

    def tensors(self) -> dict[str, np.ndarray]:
        out = {"mean": self.mean, "scale": self.scale, "w1": self.w1, "b1": self.b1, "w2": self.w2}
        return out | {"b2": np.array([self.b2])}


@dataclass
class Evidence:
    """What a trained assessor reports about itself (stored beside its weights, shown by ``models``)."""

    spearman_rho: float
    ci95: tuple[float, float]
    ci_method: str
    folds: int
    n_images: int
    n_units: int
    unit: str  # what a fold keeps together: "image" or "source"
    alpha: float  # regularisation of the final head (ridge λ/blocks or MLP weight decay; inner CV on all images)
    head: str = "ridge"
    fold_rho: list[float | None] = field(default_factory=list)  # None: a fold whose ratings are all equal
    ceiling: dict[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["ci95"] = list(self.ci95)
        return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman ρ (Pearson of average ranks); NaN when either side is constant."""
    ra, rb = rankdata(a), rankdata(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def fit_ridge(
    features: np.ndarray, ratings: np.ndarray, alpha: float, blocks: Sequence[int] | None = None
) -> RidgeHead:
    """Closed-form ridge on standardised features: w = Zᵀ (Z Zᵀ + λ I)⁻¹ (y − ȳ), λ = alpha · blocks."""
    mean, scale = _standardiser(features, blocks)
    z = (features - mean) / scale
    y = ratings - ratings.mean()
    lam = alpha * _n_blocks(features, blocks)
    dual = np.linalg.solve(z @ z.T + lam * np.eye(len(z)), y)
    return RidgeHead(mean, scale, z.T @ dual, float(ratings.mean()), alpha)


def choose_alpha(
    features: np.ndarray,
    ratings: np.ndarray,
    units: np.ndarray,
    folds: int,
    seed: int,
    blocks: Sequence[int] | None = None,
) -> float:
    """The grid value of alpha with the best inner cross-validated squared error (split by ``units``)."""
    assignment = fold_assignment(units, min(folds, len(np.unique(units))), seed)
    errors = np.zeros(len(LAMBDA_GRID))
    lam_unit = _n_blocks(features, blocks)
    for k in np.unique(assignment):
        test = assignment == k
        mean, scale = _standardiser(features[~test], blocks)
        z_train = (features[~test] - mean) / scale
        z_test = (features[test] - mean) / scale
        y = ratings[~test] - ratings[~test].mean()
        # One eigendecomposition of the training kernel serves every λ of the grid.
        s, u = np.linalg.eigh(z_train @ z_train.T)
        uty = u.T @ y
        cross = z_test @ z_train.T @ u
        for j, alpha in enumerate(LAMBDA_GRID):
            predicted = cross @ (uty / (np.clip(s, 0, None) + alpha * lam_unit)) + ratings[~test].mean()
            errors[j] += float(((predicted - ratings[test]) ** 2).sum())
    return LAMBDA_GRID[int(np.argmin(errors))]


def fit_mlp(
    features: np.ndarray,
    ratings: np.ndarray,
    alpha: float,
    blocks: Sequence[int] | None = None,
    seed: int = 0,
    hidden: int = MLP_HIDDEN,
) -> MlpHead:
    """One hidden tanh layer on the standardised features, full-batch L-BFGS on MSE + alpha · ‖weights‖².

    Ratings are standardised while fitting (so alpha means the same for any rating scale) and the output
    layer is scaled back afterwards. The gradient is written out and minimised with SciPy's L-BFGS-B: on
    small batches that is an order of magnitude faster than autograd's per-op overhead. For properties that
    are not linear in the features, with hundreds of ratings or more; with few, ridge is the safer head.
    """
    from scipy.optimize import minimize

    mean, scale = _standardiser(features, blocks)
    z = (features - mean) / scale
    y_mean, y_scale = float(ratings.mean()), float(ratings.std()) or 1.0
    y = (ratings - y_mean) / y_scale
    n, d = z.shape
    rng = np.random.default_rng(seed)
    width = np.sqrt(_n_blocks(features, blocks))  # rows of z have squared norm ≈ number of blocks
    start = np.concatenate(
        [rng.normal(size=hidden * d) / width, np.zeros(hidden), rng.normal(size=hidden) / np.sqrt(hidden), [0.0]]
    )

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        w1 = theta[: hidden * d].reshape(hidden, d)
        b1 = theta[hidden * d : hidden * d + hidden]
        w2 = theta[hidden * d + hidden : hidden * d + 2 * hidden]
        return w1, b1, w2, float(theta[-1])

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w1, b1, w2, b2 = unpack(theta)
        s = np.tanh(z @ w1.T + b1)
        residual = s @ w2 + b2 - y
        loss = float(residual @ residual) / n + alpha * (float((w1 * w1).sum()) + float(w2 @ w2))
        d_out = 2.0 * residual / n
        d_pre = np.outer(d_out, w2) * (1.0 - s * s)
        gradient = np.concatenate(
            [(d_pre.T @ z + 2 * alpha * w1).ravel(), d_pre.sum(axis=0), s.T @ d_out + 2 * alpha * w2, [d_out.sum()]]
        )
        return loss, gradient

    theta = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B", options={"maxiter": 300}).x
    w1, b1, w2, b2 = unpack(theta)
    return MlpHead(mean, scale, w1, b1, w2 * y_scale, b2 * y_scale + y_mean, alpha)


def choose_decay(
    features: np.ndarray,
    ratings: np.ndarray,
    units: np.ndarray,
    folds: int,
    seed: int,
    blocks: Sequence[int] | None = None,
) -> float:
    """The MLP weight decay of the grid with the best inner cross-validated squared error.

    At most :data:`MLP_INNER_FOLDS` inner folds: each costs one L-BFGS fit per grid value, unlike ridge's
    single eigendecomposition.
    """
    assignment = fold_assignment(units, min(folds, MLP_INNER_FOLDS, len(np.unique(units))), seed)
    errors = np.zeros(len(DECAY_GRID))
    for k in np.unique(assignment):
        test = assignment == k
        for j, decay in enumerate(DECAY_GRID):
            head = fit_mlp(features[~test], ratings[~test], decay, blocks, seed)
            errors[j] += float(((head.predict(features[test]) - ratings[test]) ** 2).sum())
    return DECAY_GRID[int(np.argmin(errors))]


def fit_head(
    kind: str,
    features: np.ndarray,
    ratings: np.ndarray,
    units: np.ndarray,
    folds: int,
    seed: int,
    blocks: Sequence[int] | None = None,
) -> RidgeHead | MlpHead:
    """A head of ``kind`` with its regularisation chosen by inner cross-validation (split by ``units``)."""
    if kind == "ridge":
        return fit_ridge(features, ratings, choose_alpha(features, ratings, units, folds, seed, blocks), blocks)
    if kind == "mlp":
        return fit_mlp(features, ratings, choose_decay(features, ratings, units, folds, seed, blocks), blocks, seed)
    raise TrainingError(f"unknown head {kind!r}; choose one of {', '.join(HEADS)}")


def fold_assignment(units: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold index of every image: whole units shuffled and dealt round-robin, so folds differ by ≤ 1 unit."""
    names = np.unique(units)
    order = np.random.default_rng(seed).permutation(len(names))
    fold_of = {names[i]: rank % folds for rank, i in enumerate(order)}
    return np.array([fold_of[u] for u in units])


def cross_validate(
    features: np.ndarray,
    ratings: np.ndarray,
    units: Sequence[object] | None = None,
    folds: int = 5,
    seed: int = 0,
    blocks: Sequence[int] | None = None,
    head: str = "ridge",
) -> tuple[Evidence, np.ndarray, RidgeHead | MlpHead]:
    """Out-of-fold predictions of heads of kind ``head``, the evidence they give, and the final head fitted on
    every image; the regularisation is chosen inside each training set by an inner cross-validation.

    ``units`` names what must stay together in one fold (the source photo of each crop); by default each
    image is its own unit.
    """
    features = np.asarray(features, dtype=np.float64)
    ratings = np.asarray(ratings, dtype=np.float64)
    unit_ids = _unit_ids(units, len(ratings))
    n_units = len(np.unique(unit_ids))
    if folds < 2:
        raise TrainingError(f"cross-validation needs at least 2 folds, not {folds}")
    if n_units < folds:
        raise TrainingError(
            f"{folds}-fold cross-validation needs at least {folds} separate units, the ratings have {n_units}"
        )
    if np.ptp(ratings) == 0:
        raise TrainingError("all ratings are equal; there is nothing to learn or to correlate with")
    assignment = fold_assignment(unit_ids, folds, seed)
    predicted = np.empty_like(ratings)
    fold_rho = []
    for k in range(folds):
        test = assignment == k
        fitted = fit_head(head, features[~test], ratings[~test], unit_ids[~test], folds, seed + 1 + k, blocks)
        # One intercept for every fold (the mean of all ratings, a constant that changes no ranking) instead of
        # each training fold's mean: that mean says nothing about the held-out images, and since it excludes
        # them it is anticorrelated with their mean, which would bias pooled ρ below 0 for shuffled ratings.
        predicted[test] = fitted.predict(features[test]) - ratings[~test].mean() + ratings.mean()
        fold_rho.append(spearman(predicted[test], ratings[test]))
    rho = spearman(predicted, ratings)
    low, high = bootstrap_ci(predicted, ratings, unit_ids, seed)
    final = fit_head(head, features, ratings, unit_ids, folds, seed, blocks)
    evidence = Evidence(
        spearman_rho=rho,
        ci95=(low, high),
        ci_method=f"percentile bootstrap over {'source photos' if units is not None else 'images'}, "
        f"{BOOTSTRAP_SAMPLES} resamples",
        folds=folds,
        n_images=len(ratings),
        n_units=n_units,
        unit="source" if units is not None else "image",
        alpha=final.alpha,
        head=head,
        fold_rho=[round(r, 4) if np.isfinite(r) else None for r in fold_rho],
    )
    return evidence, predicted, final


def bootstrap_ci(
    predicted: np.ndarray, ratings: np.ndarray, unit_ids: np.ndarray, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of Spearman ρ when whole units are resampled with replacement.

    A resample is a multiplicity per image (how often its unit was drawn), so ρ of all resamples is computed
    at once from multiplicity-weighted ranks, equal to ρ of the expanded samples with their ties.
    """
    rng = np.random.default_rng(seed + 10_000)
    names, inverse = np.unique(unit_ids, return_inverse=True)
    draws = []
    for start in range(0, BOOTSTRAP_SAMPLES, 250):
        count = min(250, BOOTSTRAP_SAMPLES - start)
        per_unit = rng.multinomial(len(names), np.full(len(names), 1.0 / len(names)), size=count)
        weights = per_unit[:, inverse].astype(np.float64)
        draws.append(_weighted_spearman(predicted, ratings, weights))
    rho = np.concatenate(draws)
    rho = rho[np.isfinite(rho)]
    if not len(rho):
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(rho, [tail, 100 - tail])
    return (float(low), float(high))


def _weighted_spearman(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spearman ρ of each row of ``weights`` [B, n], read as how many copies of each pair a sample holds."""
    ra, rb = _weighted_ranks(a, weights), _weighted_ranks(b, weights)
    total = weights.sum(axis=1, keepdims=True)
    ra = ra - (weights * ra).sum(axis=1, keepdims=True) / total
    rb = rb - (weights * rb).sum(axis=1, keepdims=True) / total
    cov = (weights * ra * rb).sum(axis=1)
    denom = np.sqrt((weights * ra * ra).sum(axis=1) * (weights * rb * rb).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, cov / denom, np.nan)


def _weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) each value would have among ``weights[k]`` copies of every value."""
    levels, level_of = np.unique(values, return_inverse=True)
    per_level = np.zeros((weights.shape[0], len(levels)))
    np.add.at(per_level.T, level_of, weights.T)
    below = np.cumsum(per_level, axis=1) - per_level
    return (below + (per_level + 1) / 2)[:, level_of]


def split_half_ceiling(
    image_index: np.ndarray, raters: Sequence[object], ratings: np.ndarray, seed: int = 0
) -> dict[str, object]:
    """Split-half consistency of the raters: how well one half's mean ratings rank the images like the other's.

    Each draw splits the raters at random into two halves, averages each half's ratings per image (images
    rated in both halves only), takes Spearman ρ between the halves and applies Spearman–Brown,
    2ρ / (1 + ρ), to estimate the consistency of the full panel: the ceiling for any model of these ratings.
    """
    image_index = np.asarray(image_index)
    ratings = np.asarray(ratings, dtype=np.float64)
    names, rater_ids = np.unique(np.asarray([str(r) for r in raters]), return_inverse=True)
    if len(names) < 2:
        return {"available": False, "reason": "only one rater: a split-half ceiling needs two or more"}
    rng = np.random.default_rng(seed + 20_000)
    n_images = int(image_index.max()) + 1
    draws = []
    for _ in range(SPLIT_HALF_SAMPLES):
        half = rng.permutation(len(names)) < len(names) // 2
        in_a = half[rater_ids]
        means = []
        for side in (in_a, ~in_a):
            total = np.bincount(image_index[side], ratings[side], minlength=n_images)
            count = np.bincount(image_index[side], minlength=n_images)
            means.append((total, count))
        both = (means[0][1] > 0) & (means[1][1] > 0)
        if both.sum() < 3:
            continue
        a = means[0][0][both] / means[0][1][both]
        b = means[1][0][both] / means[1][1][both]
        r = spearman(a, b)
        if np.isfinite(r):
            draws.append(2 * r / (1 + r) if r > -1 else -1.0)
    if not draws:
        return {"available": False, "reason": "no two halves of the raters rated at least 3 images in common"}
    low, high = np.percentile(draws, [2.5, 97.5])
    return {
        "available": True,
        "spearman_brown_rho": float(np.mean(draws)),
        "range95": [float(low), float(high)],
        "raters": len(names),
        "splits": len(draws),
    }


def _standardiser(features: np.ndarray, blocks: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale that give every feature unit variance and every block a total variance of one."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    # A feature constant over the training images carries nothing; scale 1 keeps it at 0 without dividing by 0.
    scale = np.where(scale > 1e-12, scale, 1.0)
    if blocks is not None:
        if sum(blocks) != features.shape[1]:
            raise TrainingError(f"feature blocks {tuple(blocks)} do not add up to {features.shape[1]} features")
        scale = scale * np.sqrt(np.repeat(np.asarray(blocks, dtype=np.float64), blocks))
    return mean, scale


def _n_blocks(features: np.ndarray, blocks: Sequence[int] | None) -> int:
    return len(blocks) if blocks is not None else features.shape[1]


def _unit_ids(units: Sequence[object] | None, n: int) -> np.ndarray:
    if units is None:
        return np.arange(n)
    if len(units) != n:
        raise TrainingError(f"{len(units)} units given for {n} images")
    _, ids = np.unique(np.asarray([str(u) for u in units]), return_inverse=True)
    return ids
