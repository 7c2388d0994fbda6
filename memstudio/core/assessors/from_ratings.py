"""Training an assessor from a ratings CSV, and checking any assessor against one: the jobs behind
``memstudio assessor train|eval`` and the studio's "Train assessor from ratings…".

Training reads and checks the CSV first (bad rows are reported before any model loads), extracts trunk
features (ResMem's or an imported NIMA's; cached), cross-validates the ridge head for the evidence, fits the
final head on every image and writes the assessor to the assessor store in one atomic step at the very end:
cancelling (Ctrl-C, the studio's Cancel) at any point before leaves the store as it was.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.assessors.ratings import Ratings, read_ratings
from memstudio.core.assessors.registry import check_trained_name
from memstudio.core.assessors.trained import TrainedRecord, save_trained
from memstudio.core.assessors.training import (
    HEADS,
    TrainingError,
    bootstrap_ci,
    cross_validate,
    spearman,
    split_half_ceiling,
)
from memstudio.core.assessors.trunk import DEFAULT_TRUNK, Trunk, file_features_job, load_trunk, parse_trunk
from memstudio.core.atomic import write_text_atomic
from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import Job, Progress, scaled


@dataclass(frozen=True)
class TrainResult:
    """The stored assessor and the out-of-fold predictions its evidence was computed from."""

    record: TrainedRecord
    ratings: Ratings
    out_of_fold: np.ndarray


def train_job(
    csv_path: str | Path,
    name: str,
    property_name: str = "rating",
    folds: int = 5,
    seed: int = 0,
    replace: bool = False,
    device: torch.device | str = "cpu",
    report: str | Path | None = None,
    head: str = "ridge",
    trunk: str = DEFAULT_TRUNK,
) -> Job[TrainResult]:
    """Train, cross-validate and store the assessor ``name`` from the ratings in ``csv_path``.

    ``trunk`` is ``resmem`` or ``nima:NAME`` (an imported NIMA). ``report``, if given, receives a CSV of every
    image's rating and out-of-fold prediction.
    """
    check_trained_name(name, replace)
    if head not in HEADS:
        raise TrainingError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")
    parse_trunk(trunk)
    ratings = read_ratings(csv_path)
    yield Progress(0.01, f"loading the {trunk} trunk")
    features_of = load_trunk(trunk, device)
    features = yield from scaled(
        file_features_job(ratings.images, features_of, name_of=lambda i: _row_label(ratings, i)), 0.02, 0.9
    )
    yield Progress(0.9, "cross-validating")
    evidence, out_of_fold, fitted = cross_validate(
        features, ratings.mean_rating, ratings.sources, folds, seed, features_of.feature_blocks, head
    )
    if ratings.rating_group is not None:
        evidence.ceiling = split_half_ceiling(ratings.rating_image, ratings.rating_group, ratings.rating_value, seed)
    config = _config(ratings, features_of, evidence.to_json(), property_name)
    if report is not None:
        write_text_atomic(report, _report_csv(ratings, out_of_fold))
    record = save_trained(name, fitted, config, replace=replace)
    return TrainResult(record, ratings, out_of_fold)


def evaluate_job(
    assessor: Assessor, csv_path: str | Path, batch_size: int = 8, device: torch.device | str = "cpu"
) -> Job[dict[str, object]]:
    """Spearman ρ (95 % percentile bootstrap CI) of any assessor's scores against a ratings CSV."""
    from memstudio.core.scoring import ScoreFailure, score_paths

    ratings = read_ratings(csv_path)
    scores = np.empty(len(ratings.images))
    results = score_paths(ratings.images, {assessor.name: assessor}, batch_size=batch_size, device=device)
    for i, result in enumerate(results):
        if isinstance(result, ScoreFailure):
            raise MemstudioError(f"{_row_label(ratings, i)}: {result.message}")
        scores[i] = result.values[assessor.name]
        yield Progress((i + 1) / len(scores), f"scored {i + 1}/{len(scores)}")
    units = _unit_ids(ratings)
    low, high = bootstrap_ci(scores, ratings.mean_rating, units, seed=0)
    out: dict[str, object] = {
        "assessor": assessor.name,
        "ratings_csv": str(ratings.csv_path),
        "n_images": len(scores),
        "spearman_rho": spearman(scores, ratings.mean_rating),
        "ci95": [low, high],
        "ci_method": "percentile bootstrap over " + ("source photos" if ratings.sources else "images"),
    }
    if ratings.rating_group is not None:
        out["ceiling"] = split_half_ceiling(ratings.rating_image, ratings.rating_group, ratings.rating_value)
    return out


def _row_label(ratings: Ratings, index: int) -> str:
    return f"{ratings.csv_path}: row {ratings.rows[index]}"


def _unit_ids(ratings: Ratings) -> np.ndarray:
    keys: Sequence[str] = ratings.sources or [str(p) for p in ratings.images]
    return np.unique(np.asarray(keys), return_inverse=True)[1]


def _decimals(values: np.ndarray) -> int:
    """Decimals worth showing: about three significant digits of the ratings' spread."""
    spread = float(np.ptp(values))
    return int(min(max(2 - math.floor(math.log10(spread)), 0), 6)) if spread > 0 else 3


def _images_sha256(images: Sequence[Path]) -> str:
    """One hash of every image's content, in the CSV's order: a retrain on other pixels is a new dataset."""
    total = hashlib.sha256()
    for path in images:
        total.update(hashlib.sha256(path.read_bytes()).hexdigest().encode())
    return total.hexdigest()


def _config(ratings: Ratings, trunk: Trunk, evidence: dict[str, object], property_name: str) -> dict:
    from memstudio import __version__

    groups = ratings.rating_group
    return {
        "property": property_name,
        "score_range": [float(ratings.mean_rating.min()), float(ratings.mean_rating.max())],
        "decimals": _decimals(ratings.mean_rating),
        "head": {"type": evidence["head"], "alpha": evidence["alpha"], "feature_blocks": list(trunk.feature_blocks)},
        "trunk": {"name": trunk.name, "feature_layer": trunk.feature_layer, "sha256": trunk.checkpoint_hash},
        "evidence": evidence,
        "data": {
            "ratings_csv": str(ratings.csv_path.resolve()),
            "ratings_sha256": ratings.csv_sha256,
            "images_sha256": _images_sha256(ratings.images),
            "n_images": len(ratings.images),
            "n_ratings": len(ratings.rating_value),
            "raters": len(set(groups)) if groups is not None else None,
            "sources": len(set(ratings.sources)) if ratings.sources else None,
        },
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "memstudio_version": __version__,
    }


def _report_csv(ratings: Ratings, out_of_fold: np.ndarray) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "rating", "predicted_out_of_fold", "source"])
    for i, path in enumerate(ratings.images):
        source = ratings.sources[i] if ratings.sources else ""
        writer.writerow([str(path), f"{ratings.mean_rating[i]:.6g}", f"{out_of_fold[i]:.6g}", source])
    return buffer.getvalue()
