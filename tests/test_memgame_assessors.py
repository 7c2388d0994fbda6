"""`memgame score --assessor` with the assessors of issue 14: valence (faceless images are left out, counted and
explained, never scored as a number), an imported NIMA and an assessor trained from ratings on its trunk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from keras_files import nima_layers, write_keras_weights
from PIL import Image, ImageEnhance
from test_memgame_cli import SMALL

from memstudio.cli import main
from memstudio.core.assessors import imported, registry
from memstudio.core.assessors.from_ratings import train_job
from memstudio.core.experiments.responses import write_responses
from memstudio.core.experiments.sequence_io import read_sequence
from memstudio.core.experiments.simulate import simulate_responses
from memstudio.core.imaging import load_image, pil_to_tensor
from memstudio.core.jobs import run_to_end

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "photos"


@pytest.fixture
def game(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A played memory game whose panels are the astronaut (a face) at five brightnesses for three seeds and
    flat colours (no face) for two; responses simulated; a private store with a NIMA imported."""
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(registry, "_cache", {})
    imported.import_assessor(write_keras_weights(tmp_path / "idealo.hdf5", nima_layers(seed=2)), "nima")
    panels = tmp_path / "strip"
    panels.mkdir()
    with Image.open(PHOTOS / "astronaut.png") as im:
        face = im.convert("RGB").resize((160, 160))
    items = []
    for s in range(5):
        for i, alpha in enumerate((-0.2, -0.1, 0.0, 0.1, 0.2)):
            name = f"panel_{s}_{i}.png"
            if s < 3:
                ImageEnhance.Brightness(face).enhance(0.7 + 0.15 * i + 0.03 * s).save(panels / name)
            else:
                Image.new("RGB", (160, 160), (40 * s, 50 * i, 100)).save(panels / name)
            items.append({"image": name, "seed_id": f"seed{s:04d}", "alpha": alpha})
    (panels / "panels.json").write_text(json.dumps({"images": items}))
    fillers = tmp_path / "fillers"
    fillers.mkdir()
    for i in range(20):
        Image.new("RGB", (16, 16), (250, 10 * i, 0)).save(fillers / f"f{i:02d}.png")
    out = tmp_path / "game"
    args = ["memgame", "build", str(panels / "panels.json"), "--fillers", str(fillers), "--participants", "10"]
    assert main([*args, *SMALL, "-o", str(out)]) == 0
    seqs = [read_sequence(p) for p in sorted((out / "sequences").glob("*.json"))]
    images = {t.image for s in seqs for t in s.trials}
    rng = np.random.default_rng(0)
    rates = {image: float(rng.uniform(0.3, 0.9)) for image in sorted(images)}
    write_responses(out / "responses" / "all.csv", simulate_responses(seqs, rates, 0.0, 8.0, p_vigilance_hit=1.0))
    return out


def _score(game: Path, assessor: str, capsys) -> tuple[int, dict, str]:
    scores = game.parent / f"scores-{assessor}.csv"
    code = main(["memgame", "score", str(game / "responses" / "all.csv"), "-o", str(scores), "--assessor", assessor])
    captured = capsys.readouterr()
    summary_path = scores.with_name(f"{scores.stem}.summary.json")
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return code, summary, captured.out + captured.err


def test_valence_leaves_out_faceless_images_and_says_why(game: Path, capsys) -> None:
    code, summary, out = _score(game, "valence", capsys)
    assert code == 0, out
    result = summary["assessor"]
    faces = set(result["predictions"])
    seed = lambda image: Path(image).name.split("__")[0]  # noqa: E731 - the design names targets seedNNNN__α
    assert faces and {seed(i) for i in faces} <= {"seed0000", "seed0001", "seed0002"}
    assert result["unavailable"] and set(result["unavailable"].values()) == {"no face found"}
    assert {seed(i) for i in result["unavailable"]} <= {"seed0003", "seed0004"}
    assert result["images"] == len(faces) and all(-1.0 <= v <= 1.0 for v in result["predictions"].values())
    n = len(faces) + len(result["unavailable"])
    assert f"valence has no score for {len(result['unavailable'])} of {n} images (no face found); left out" in out


def test_nima_and_an_assessor_trained_on_its_trunk_correlate(game: Path, capsys) -> None:
    code, summary, out = _score(game, "nima", capsys)
    assert code == 0, out
    predictions = summary["assessor"]["predictions"]
    nima = registry.load_assessor("nima")
    for image, value in sorted(predictions.items())[::9]:
        path = game / image  # the design's copy, which the game showed
        assert value == pytest.approx(float(nima.score(pil_to_tensor(load_image(path).image))[0]), abs=1e-5)
    assert "unavailable" not in summary["assessor"] and "nima vs humans: Spearman" in out

    strip = sorted((game.parent / "strip").glob("*.png"))
    lines = ["path,rating", *(f"{p.name},{i % 7}" for i, p in enumerate(strip))]
    (game.parent / "strip" / "ratings.csv").write_text("\n".join(lines) + "\n")
    run_to_end(train_job(game.parent / "strip" / "ratings.csv", "lab", trunk="nima:nima"))
    code, summary, out = _score(game, "lab", capsys)
    assert code == 0, out
    assert summary["assessor"]["images"] == len(predictions) and "lab vs humans: Spearman" in out


def test_no_face_in_any_image_is_refused_with_the_reason(game: Path, capsys) -> None:
    # Every target without a face: valence has no number to correlate.
    targets = sorted((game / "images" / "targets").glob("*.png"))
    assert len(targets) == 25
    for target in targets:
        Image.new("RGB", (160, 160), (90, 90, 90)).save(target)
    code, summary, out = _score(game, "valence", capsys)
    assert code == 2 and not summary
    assert "cannot correlate with valence: only 0 of" in out and "(the others: no face found)" in out
