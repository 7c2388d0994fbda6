"""Assessors from ratings, without the trunk: the CSV's checks, the statistics of the evidence, the store.

Everything here runs on small synthetic feature matrices and tiny files (no ResMem); the real trunk and the
known-answer experiment are in tests/test_trained_assessor.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memstudio.core.assessors import trained
from memstudio.core.assessors.from_ratings import train_job
from memstudio.core.assessors.ratings import MIN_IMAGES, RatingsError, read_ratings
from memstudio.core.assessors.training import (
    MlpHead,
    RidgeHead,
    cross_validate,
    fit_mlp,
    fit_ridge,
    fold_assignment,
    spearman,
    split_half_ceiling,
)
from memstudio.core.checkpoints import models_dir
from memstudio.core.generators import store


@pytest.fixture
def private_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(cache))
    models_dir()  # generators' store, to show trained assessors stay out of it
    return trained.assessors_dir()


def _images(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        name = f"img{i:02d}.png"
        Image.new("RGB", (8, 8), (i * 10 % 256, 50, 90)).save(folder / name)
        names.append(name)
    return names


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_header_and_headerless_layouts_relative_to_the_csv(tmp_path: Path) -> None:
    names = _images(tmp_path / "pics", 12)
    with_header = _csv(tmp_path / "a.csv", ["image,score"] + [f"pics/{n},{i}" for i, n in enumerate(names)])
    plain = _csv(tmp_path / "b.csv", [f"pics/{n},{i * 2}" for i, n in enumerate(names)])
    a, b = read_ratings(with_header), read_ratings(plain)
    assert a.images == b.images == [(tmp_path / "pics" / n).resolve() for n in names]
    np.testing.assert_array_equal(a.mean_rating * 2, b.mean_rating)
    assert a.rows[0] == 2 and b.rows[0] == 1  # line numbers as an editor shows them
    assert a.rating_group is None and a.sources is None
    assert a.csv_sha256 != b.csv_sha256


def test_group_column_gives_mean_ratings_per_image(tmp_path: Path) -> None:
    names = _images(tmp_path, 10)
    lines = ["path,rating,rater"]
    for i, n in enumerate(names):
        lines += [f"{n},{i},alice", f"{n},{i + 2},bob"]
    r = read_ratings(_csv(tmp_path / "r.csv", lines))
    np.testing.assert_allclose(r.mean_rating, np.arange(10) + 1.0)
    assert len(r.rating_value) == 20 and sorted(set(r.rating_group)) == ["alice", "bob"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d, n: [f"{x},1" for x in n] + ["gone.png,2"], "row 13: image 'gone.png' not found"),
        (lambda d, n: [f"{x},{i}" for i, x in enumerate(n[:-1])] + [f"{n[-1]},high"], "row 12: rating 'high' is not"),
        (lambda d, n: [f"{x},{i}" for i, x in enumerate(n)] + [f"{n[3]},9"], "row 13: duplicate rating of 'img03.png'"),
        (lambda d, n: [f"{x},{i}" for i, x in enumerate(n[:9])], "9 rated image(s); training and cross-v"),
        (lambda d, n: [f"{x},{i}" for i, x in enumerate(n)] + [f"{n[0]},nan"], "row 13: rating 'nan' is not a finite"),
        (lambda d, n: [""], "is empty"),
        (lambda d, n: ["path,rater"] + [f"{x},a" for x in n], "has no rating/score column"),
        (lambda d, n: [f"{x}" for x in n], "row 1: 1 column(s), expected at least 2"),
    ],
    ids=["missing-file", "non-numeric", "duplicate", "too-few", "nan", "empty", "no-rating-column", "one-column"],
)  # fmt: skip
def test_bad_csv_names_the_row(tmp_path: Path, make, message: str) -> None:
    assert MIN_IMAGES == 10  # the "too-few" case writes 9 rows
    names = _images(tmp_path, 12)
    path = _csv(tmp_path / "bad.csv", make(tmp_path, names))
    with pytest.raises(RatingsError, match=None) as info:
        read_ratings(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_duplicates_are_allowed_across_raters_but_not_within_one(tmp_path: Path) -> None:
    names = _images(tmp_path, 10)
    lines = ["path,rating,group"] + [f"{n},{i},a" for i, n in enumerate(names)] + [f"{names[0]},3,b"]
    assert len(read_ratings(_csv(tmp_path / "ok.csv", lines)).rating_value) == 11
    with pytest.raises(RatingsError, match=r"row 13: duplicate rating of 'img00.png' by the same rater 'b'"):
        read_ratings(_csv(tmp_path / "dup.csv", lines + [f"{names[0]},4,b"]))


def test_unreadable_csv_files(tmp_path: Path) -> None:
    binary = tmp_path / "ratings.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00garbage")
    with pytest.raises(RatingsError, match="not a UTF-8 text file"):
        read_ratings(binary)
    with pytest.raises(RatingsError, match="no such file"):
        read_ratings(tmp_path / "absent.csv")
    with pytest.raises(RatingsError, match="is a folder"):
        read_ratings(tmp_path)


def test_several_bad_rows_are_all_listed(tmp_path: Path) -> None:
    names = _images(tmp_path, 12)
    lines = [f"{n},x" for n in names]
    with pytest.raises(RatingsError) as info:
        read_ratings(_csv(tmp_path / "r.csv", lines))
    text = str(info.value)
    assert "12 bad row(s)" in text and "row 1:" in text and "… and 4 more" in text


def test_train_job_rejects_a_bad_csv_before_loading_anything(private_store: Path, tmp_path: Path) -> None:
    names = _images(tmp_path, 12)
    path = _csv(tmp_path / "r.csv", [f"{n},{i}" for i, n in enumerate(names)] + ["lost.jpg,1"])
    job = train_job(path, "aesthetics-lab")
    with pytest.raises(RatingsError, match="row 13: image 'lost.jpg' not found"):
        next(job)
    assert list(private_store.iterdir()) == []


# --- statistics ---------------------------------------------------------------------------------------------


def _linear_problem(n: int, d: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features that mix a few latent factors (as a trunk's channels do), a rating linear in those factors."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 8))
    x = latent @ rng.normal(size=(8, d)) + 0.5 * rng.normal(size=(n, d))
    x *= rng.uniform(0.1, 10, size=d)  # unequal scales: standardising must cope
    y = latent @ rng.normal(size=8)
    return x, y + noise * y.std() * rng.normal(size=n)


def test_ridge_recovers_a_linear_property_and_shuffled_ratings_give_nothing() -> None:
    x, y = _linear_problem(80, 300, noise=0.2, seed=1)
    evidence, predicted, _ = cross_validate(x, y, folds=5, seed=0)
    assert evidence.spearman_rho > 0.85 and evidence.ci95[0] > 0.7
    assert evidence.spearman_rho == pytest.approx(spearman(predicted, y))
    shuffled, *_ = cross_validate(x, np.random.default_rng(2).permutation(y), folds=5, seed=0)
    assert abs(shuffled.spearman_rho) < 0.3
    assert shuffled.ci95[0] < 0 < shuffled.ci95[1]


def test_mlp_head_learns_what_a_linear_head_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rating that is the square of a latent factor: no linear read-out ranks it, one hidden layer does."""
    from memstudio.core.assessors import training

    rng = np.random.default_rng(8)
    latent = rng.normal(size=(160, 3))
    x = latent @ rng.normal(size=(3, 30)) + 0.05 * rng.normal(size=(160, 30))
    y = latent[:, 0] ** 2
    train, test = slice(0, 120), slice(120, 160)
    mlp = fit_mlp(x[train], y[train], alpha=1e-3)
    ridge = fit_ridge(x[train], y[train], alpha=1e-3)
    assert spearman(mlp.predict(x[test]), y[test]) > 0.8
    assert abs(spearman(ridge.predict(x[test]), y[test])) < 0.4
    # The cross-validated path with the MLP head (one decay on the grid keeps this test fast).
    monkeypatch.setattr(training, "DECAY_GRID", (1e-3,))
    evidence, _, head = cross_validate(x, y, folds=3, seed=0, head="mlp")
    assert evidence.head == "mlp" and evidence.alpha == 1e-3 and isinstance(head, MlpHead)
    assert evidence.spearman_rho > 0.8


def test_ridge_closed_form_solves_the_normal_equations() -> None:
    x, y = _linear_problem(30, 50, noise=0.5, seed=3)
    head = fit_ridge(x, y, alpha=0.1)
    z = (x - head.mean) / head.scale
    gradient = z.T @ (z @ head.weight + head.bias - y) + 0.1 * x.shape[1] * head.weight
    np.testing.assert_allclose(gradient, 0, atol=1e-8)
    assert head.bias == pytest.approx(y.mean())


def test_blocks_get_equal_total_variance() -> None:
    x, y = _linear_problem(40, 30, noise=0.1, seed=4)
    head = fit_ridge(x, y, alpha=1.0, blocks=(10, 20))
    z = (x - head.mean) / head.scale
    assert (z[:, :10] ** 2).sum(axis=1).mean() == pytest.approx(1.0)
    assert (z[:, 10:] ** 2).sum(axis=1).mean() == pytest.approx(1.0)


def test_folds_keep_every_source_together() -> None:
    units = np.repeat(np.arange(7), 9)
    folds = fold_assignment(units, 5, seed=3)
    for u in range(7):
        assert len(set(folds[units == u])) == 1
    assert sorted(np.bincount([folds[units == u][0] for u in range(7)])) == [1, 1, 1, 2, 2]


def test_grouped_cv_does_not_leak_between_crops_of_one_photo() -> None:
    """Ratings that are pure per-photo noise, with near-identical features within a photo: splitting by image
    would let each crop's twins predict it (high ρ); splitting by source must find nothing."""
    rng = np.random.default_rng(5)
    photo_features = rng.normal(size=(12, 200))
    units = np.repeat(np.arange(12), 6)
    x = photo_features[units] + 0.01 * rng.normal(size=(72, 200))
    y = rng.normal(size=12)[units] + 0.01 * rng.normal(size=72)
    leaky, *_ = cross_validate(x, y, folds=6, seed=0)
    honest, *_ = cross_validate(x, y, units=units.tolist(), folds=6, seed=0)
    assert leaky.spearman_rho > 0.9
    assert honest.ci95[0] < 0.3 and honest.unit == "source" and honest.n_units == 12


def test_split_half_ceiling_tracks_rater_agreement() -> None:
    rng = np.random.default_rng(6)
    truth = rng.normal(size=40)
    image = np.tile(np.arange(40), 10)
    rater = np.repeat([f"r{i}" for i in range(10)], 40)
    consistent = split_half_ceiling(image, rater, truth[image] + 0.3 * rng.normal(size=400))
    random = split_half_ceiling(image, rater, rng.normal(size=400))
    assert consistent["available"] and consistent["spearman_brown_rho"] > 0.95
    assert abs(random["spearman_brown_rho"]) < 0.35
    lonely = split_half_ceiling(np.arange(40), ["solo"] * 40, truth)
    assert not lonely["available"] and "one rater" in lonely["reason"]


# --- the model store ----------------------------------------------------------------------------------------


def _head(d: int = 4096) -> RidgeHead:
    return RidgeHead(np.zeros(d), np.ones(d), np.full(d, 0.01), 2.0, 0.1)


def _config() -> dict:
    evidence = {"spearman_rho": 0.9, "ci95": [0.8, 0.95], "folds": 5, "unit": "image", "alpha": 0.1}
    return {
        "property": "aesthetics",
        "score_range": [1.0, 9.0],
        "decimals": 2,
        "trunk": {"name": "resmem", "feature_layer": "resmem-mlsp-v1", "sha256": "ab" * 32},
        "evidence": evidence,
        "data": {"n_images": 12, "ratings_sha256": "cd" * 32},
    }


def test_saved_assessor_is_listed_and_kept_apart_from_generators(private_store: Path) -> None:
    record = trained.save_trained("aesthetics-lab", _head(), _config())
    assert [r.name for r in trained.list_trained()] == ["aesthetics-lab"]
    assert store.list_models() == [] and list(models_dir().iterdir()) == []  # not a generator
    assert "ρ = 0.90 [95% CI 0.80, 0.95]" in record.summary()
    raw = json.loads((record.path / trained.CONFIG_FILE).read_text())
    assert raw["kind"] == "trained-assessor" and raw["trunk"]["sha256"] == "ab" * 32
    assert record.path.parent == private_store
    with pytest.raises(trained.TrainedError, match="already exists; use --replace"):
        trained.save_trained("aesthetics-lab", _head(), _config())
    from memstudio.core.assessors.registry import check_trained_name

    with pytest.raises(trained.TrainedError, match="built-in assessor"):
        check_trained_name("resmem")
    trained.remove_trained("aesthetics-lab")
    assert trained.list_trained() == []


def test_a_failed_write_leaves_nothing_in_the_store(private_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.torch

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing the weights

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(KeyboardInterrupt):
        trained.save_trained("aesthetics-lab", _head(), _config())
    assert list(private_store.iterdir()) == []


def test_stored_heads_compute_what_was_fitted(private_store: Path) -> None:
    """Both head types, through the store and back as modules, predict what the numpy heads predicted."""
    import torch
    from safetensors.torch import load_file

    rng = np.random.default_rng(9)
    x = rng.normal(size=(16, 4096))
    y = x[:, :10].sum(axis=1)
    w1, b1, w2 = rng.normal(size=(64, 4096)) / 64, rng.normal(size=64), rng.normal(size=64)
    mlp = MlpHead(x.mean(axis=0), x.std(axis=0), w1, b1, w2, 0.5, 0.0)
    for kind, head in (("ridge", fit_ridge(x, y, 0.1)), ("mlp", mlp)):
        config = _config() | {"head": {"type": kind}}
        record = trained.save_trained(f"lab-{kind}", head, config)
        assert record.head == kind
        state = load_file(str(record.path / trained.WEIGHTS_FILE))
        module = trained.head_module(kind, state, record.path)
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), head.predict(x), rtol=1e-10, atol=1e-10)
    state["w1"] = state["w1"][:, :100]
    with pytest.raises(trained.CheckpointError, match=r"tensor 'w1' of the mlp head should have shape \(64, 4096\)"):
        trained.head_module("mlp", state, record.path)


def test_a_corrupted_head_is_reported(private_store: Path) -> None:
    record = trained.save_trained("aesthetics-lab", _head(), _config())
    weights = record.path / trained.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(trained.CheckpointError, match="unreadable weights"):
        trained.load_trained("aesthetics-lab")


def test_eval_scores_any_assessor_against_ratings(tmp_path: Path, capsys) -> None:
    """``assessor eval`` with a built-in formula: ratings that are its scores plus a little noise rank alike."""
    from memstudio.cli import main
    from memstudio.core.assessors.factors import ColorfulnessAssessor
    from memstudio.core.imaging import pil_to_tensor

    rng = np.random.default_rng(7)
    lines = ["path,rating"]
    for i in range(14):
        pixels = rng.random((16, 16, 3)) * np.array([1.0, 1.0 - i / 14, 0.3 + i / 30])
        image = Image.fromarray((pixels * 255).astype(np.uint8))
        image.save(tmp_path / f"c{i}.png")
        value = float(ColorfulnessAssessor()(pil_to_tensor(image))[0])
        lines.append(f"c{i}.png,{value + rng.normal(0, 0.5):.3f}")
    _csv(tmp_path / "r.csv", lines)
    assert main(["assessor", "eval", "colorfulness", str(tmp_path / "r.csv"), "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_images"] == 14 and out["spearman_rho"] > 0.9 and out["ci95"][0] > 0.6
