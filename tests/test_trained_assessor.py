"""An assessor trained from ratings on ResMem's real trunk, on a property with a known answer.

The ratings are the Hasler–Süsstrunk colourfulness of each image plus noise. The images are real photos —
the six built-in samples and matplotlib's Grace Hopper portrait (matplotlib is a dependency) — each cut into
ten augmented 227-px crops (random crop, flip and saturation, so colourfulness varies within a photo too).
Every fold is split by source photo, never by crop, so a held-out crop never has a sibling in training.
Trunk features are extracted once for the module (and cached on disk by the trunk, so the CLI run below
reuses them).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from memstudio.core.assessors.factors import ColorfulnessAssessor
from memstudio.core.assessors.resmem import load_resmem
from memstudio.core.assessors.training import cross_validate
from memstudio.core.assessors.trunk import FEATURE_BLOCKS, FEATURE_DIM, ResMemTrunk, file_features_job
from memstudio.core.checkpoints import sha256_file
from memstudio.core.imaging import pil_to_tensor
from memstudio.core.jobs import run_to_end

pytestmark = pytest.mark.slow

CROPS_PER_PHOTO = 10
NOISE = 0.1  # × the standard deviation of the true colourfulness


def _source_photos(photos_dir: Path) -> list[Path]:
    from matplotlib import cbook

    built_in = sorted(p for p in photos_dir.iterdir() if p.suffix in {".png", ".jpg"})
    return [*built_in, Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict:
    photos_dir = Path(__file__).resolve().parents[1] / "assets" / "photos"
    folder = tmp_path_factory.mktemp("ratings")
    rng = np.random.default_rng(0)
    colourfulness = ColorfulnessAssessor()
    paths, sources, truth = [], [], []
    for photo in _source_photos(photos_dir):
        image = Image.open(photo).convert("RGB")
        w, h = image.size
        for k in range(CROPS_PER_PHOTO):
            f = rng.uniform(0.5, 0.9)
            cw, ch = int(w * f), int(h * f)
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            crop = image.crop((x0, y0, x0 + cw, y0 + ch)).resize((227, 227), Image.Resampling.LANCZOS)
            if rng.random() < 0.5:
                crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            crop = ImageEnhance.Color(crop).enhance(rng.uniform(0.0, 1.8))
            path = folder / "crops" / f"{photo.stem}-{k}.png"
            path.parent.mkdir(exist_ok=True)
            crop.save(path)
            paths.append(path)
            sources.append(photo.stem)
            truth.append(float(colourfulness(pil_to_tensor(Image.open(path)))[0]))
    truth = np.array(truth)
    ratings = truth + NOISE * truth.std() * rng.normal(size=len(truth))
    trunk = ResMemTrunk(load_resmem("cpu"))
    features = run_to_end(file_features_job(paths, trunk))
    csv_path = folder / "ratings.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "rating", "source"])
        for path, rating, source in zip(paths, ratings, sources, strict=True):
            writer.writerow([path.relative_to(folder).as_posix(), f"{rating:.4f}", source])
    return {
        "paths": paths,
        "sources": sources,
        "truth": truth,
        "ratings": ratings,
        "features": features,
        "csv": csv_path,
        "folder": folder,
    }


def test_held_out_spearman_on_a_known_property(dataset: dict) -> None:
    assert len(dataset["paths"]) >= 60 and len(set(dataset["sources"])) == 7
    assert dataset["features"].shape == (len(dataset["paths"]), FEATURE_DIM)
    sources = dataset["sources"]
    evidence, predicted, _ = cross_validate(
        dataset["features"], dataset["ratings"], units=sources, folds=7, seed=0, blocks=FEATURE_BLOCKS
    )
    print(f"colourfulness: held-out ρ = {evidence.spearman_rho:.3f}, 95% CI {evidence.ci95}, α {evidence.alpha}")
    assert evidence.unit == "source" and evidence.n_units == 7
    assert evidence.spearman_rho >= 0.85
    assert evidence.ci95[0] > 0.5
    shuffled_ratings = np.random.default_rng(1).permutation(dataset["ratings"])
    shuffled, *_ = cross_validate(
        dataset["features"], shuffled_ratings, units=sources, folds=7, seed=0, blocks=FEATURE_BLOCKS
    )
    print(f"shuffled: held-out ρ = {shuffled.spearman_rho:.3f}, 95% CI {shuffled.ci95}")
    assert abs(shuffled.spearman_rho) < 0.25
    assert shuffled.ci95[0] < 0 < shuffled.ci95[1]


@pytest.fixture
def private_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh model store that still sees the session's converted ResMem weights and cached features."""
    session = Path(os.environ["MEMSTUDIO_CACHE_DIR"])
    cache = tmp_path / "cache"
    cache.mkdir()
    for shared in ("weights", "features"):
        (session / shared).mkdir(exist_ok=True)
        (cache / shared).symlink_to(session / shared)
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(cache))
    return cache / "assessors"


def test_train_store_load_by_name_score_and_differentiate(dataset: dict, private_store: Path, capsys) -> None:
    from memstudio.cli import main
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.model_list import model_rows as rows

    report = dataset["folder"] / "oof.csv"
    code = main(
        ["assessor", "train", str(dataset["csv"]), "--name", "colour-lab", "--property", "colourfulness"]
        + ["--folds", "7", "-o", str(report), "--quiet"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "held-out Spearman ρ = " in out and "7-fold by source" in out
    assert len(report.read_text().splitlines()) == len(dataset["paths"]) + 1
    listed = [r for r in rows() if r["name"] == "colour-lab"]
    assert listed and listed[0]["kind"] == "assessor" and listed[0]["status"] == "available"
    assert "ρ = " in listed[0]["detail"] and "95% CI" in listed[0]["detail"]

    assessor = load_assessor("colour-lab")
    assert assessor.property == "colourfulness" and assessor.record.trunk_sha256 == load_resmem().checkpoint_hash
    assert assessor.checkpoint_hash == sha256_file(assessor.record.path / "weights.safetensors")
    images = torch.stack([pil_to_tensor(Image.open(p))[0] for p in dataset["paths"][::10]])
    scores = assessor.score(images)
    truth = dataset["truth"][::10]
    # In-sample (these crops were in training), the scores follow the property closely.
    assert np.corrcoef(scores.numpy(), truth)[0, 1] > 0.9

    # Differentiable end to end: the path direction training takes (tensor preprocessing, trunk, head).
    pixels = images[:2].clone().requires_grad_(True)
    assessor(pixels).sum().backward()
    grad = pixels.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    forward_scores = assessor(images[:2]).detach()
    torch.testing.assert_close(forward_scores.float(), scores[:2], atol=0.05, rtol=1e-3)

    assert main(["score", "-a", "colour-lab", str(dataset["paths"][0])]) == 0
    scored = capsys.readouterr().out
    assert "colour-lab" in scored and f"{float(scores[0]):.1f}" in scored


def test_an_undecodable_image_names_its_row_and_writes_nothing(dataset: dict, private_store: Path) -> None:
    from memstudio.core.assessors.from_ratings import train_job
    from memstudio.core.errors import ImageLoadError

    folder = dataset["folder"]
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    lines = dataset["csv"].read_text().splitlines()
    lines.insert(4, "broken.png,12.5,broken")
    bad = folder / "with-broken.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImageLoadError, match=r"with-broken.csv: row 5: .*broken.png"):
        run_to_end(train_job(bad, "colour-broken"))
    assert not (private_store / "colour-broken").exists()
    assert not [p for p in private_store.iterdir() if p.name.startswith(".")]


def test_cancelling_mid_training_leaves_the_store_as_it_was(dataset: dict, private_store: Path) -> None:
    from memstudio.core.assessors.from_ratings import train_job

    job = train_job(dataset["csv"], "colour-cancelled", folds=7)
    steps = [next(job) for _ in range(3)]  # the trunk loaded, features under way
    assert any(s.message.startswith("features") for s in steps)
    job.close()  # what the studio's Cancel and Ctrl-C do
    assert not [p for p in private_store.iterdir() if "colour-cancelled" in p.name]


def test_eval_of_a_trained_assessor_on_ratings(dataset: dict, private_store: Path, capsys) -> None:
    from memstudio.cli import main

    assert main(["assessor", "train", str(dataset["csv"]), "--name", "colour-eval", "--folds", "7", "--quiet"]) == 0
    capsys.readouterr()
    lines = dataset["csv"].read_text().splitlines()
    subset = dataset["folder"] / "subset.csv"  # two crops per photo: scoring all 70 would only cost time
    subset.write_text("\n".join([lines[0]] + [line for i, line in enumerate(lines[1:]) if i % 5 == 0]) + "\n")
    assert main(["assessor", "eval", "colour-eval", str(subset), "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_images"] == 14 and out["spearman_rho"] > 0.9  # in-sample: these crops were seen in training
    assert "source photos" in out["ci_method"]
    assert main(["assessor", "info", "colour-eval"]) == 0
    info = capsys.readouterr().out
    assert "per-fold ρ:" in info and "trunk sha256:" in info and "images sha256:" in info
