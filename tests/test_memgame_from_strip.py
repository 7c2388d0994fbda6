"""From strips to human scores (issue 8): strips of photos and GAN seeds exported with ``--panels``, a
memory game built from their manifests with fillers from other generated images, two sequences played in the
runner (offscreen, synthetic Space presses on repeats), and the recorded responses scored by the CLI."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image
from test_figures_support import MeanLuma, exposure_direction, make_photo, tiny_stylegan2

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from memstudio.cli import main  # noqa: E402
from memstudio.core.directions.base import Direction  # noqa: E402
from memstudio.core.experiments.sequence_io import read_sequence  # noqa: E402
from memstudio.core.experiments.stimuli import TARGET_REPEAT  # noqa: E402
from memstudio.core.experiments.targets import targets_from_manifest  # noqa: E402
from memstudio.core.figures.build import figure_job, make_spec  # noqa: E402
from memstudio.core.figures.panels import MANIFEST_NAME  # noqa: E402
from memstudio.core.figures.sources import FigureSources  # noqa: E402

ALPHAS = ["-0.2", "-0.1", "0", "0.1", "0.2"]
GAME = [
    "--length", "24", "--targets-per-sequence", "4", "--vigilance-per-sequence", "2",
    "--target-span", "4", "12", "--vigilance-span", "0", "2",
]  # fmt: skip


@pytest.fixture
def gan(tmp_path, monkeypatch):
    from memstudio.core.generators.store import save_model

    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    save_model(tiny_stylegan2(), "tiny-sg2", source_file=Path("tiny-made-by-test"), source_sha256="0" * 64)
    torch.manual_seed(5)
    direction = Direction(name="memo", property="memorability", space="w", vector=torch.randn(8))
    return "tiny-sg2", direction.save(tmp_path / "memo")


def test_strip_panels_build_play_and_score(qtbot, tmp_path, gan):
    generator, gan_direction = gan
    photos = [make_photo(tmp_path / f"photo{i}.png", size=(40, 32), seed=i) for i in range(3)]
    _, photo_direction = exposure_direction(tmp_path / "brighter")
    common = ["--assessor", "brightness", "--alphas", *ALPHAS]
    # Three photo strips and two seed strips, each with its unlabelled panels and one manifest per batch.
    out = ["--out-dir", str(tmp_path / "photo_strips"), "--panels", str(tmp_path / "photo_panels")]
    photo_args = ["--photo", *map(str, photos), "--direction", str(photo_direction)]
    assert main(["strip", *photo_args, *common, *out]) == 0
    gan_args = ["--generator", generator, "--direction", str(gan_direction), *common]
    for seed in (3, 7):
        out = ["-o", str(tmp_path / f"seed{seed}.png"), "--panels", str(tmp_path / f"seed{seed}_panels")]
        assert main(["strip", *gan_args, "--seed", str(seed), *out]) == 0
    # Fillers: other generated images, never versions of a target seed.
    (tmp_path / "fillers").mkdir()
    for i in range(16):
        make_photo(tmp_path / "fillers" / f"filler{i:02d}.png", size=(40, 32), seed=100 + i)

    manifests = [tmp_path / d / MANIFEST_NAME for d in ("photo_panels", "seed3_panels", "seed7_panels")]
    seed3 = json.loads(manifests[1].read_text())
    assert seed3["figure"] == str((tmp_path / "seed3.png.json").resolve())
    assert [e["image"] for e in seed3["images"]] == [f"seed0003_alpha{a}.png" for a in ALPHAS]
    targets = [t for m in manifests for t in targets_from_manifest(m)]
    assert len(targets) == 25 and len({t.seed_id for t in targets}) == 5
    # A panel is the strip's image without its label: same size as its box in the strip, same scores.
    strip_meta = json.loads((tmp_path / "seed3.png.json").read_text())
    assert [p["scores"] for p in strip_meta["panels"]] == [e["scores"] for e in seed3["images"]]
    for panel, entry in zip(strip_meta["panels"], seed3["images"], strict=True):
        assert Image.open(tmp_path / "seed3_panels" / entry["image"]).size == tuple(panel["box"][2:])

    design = tmp_path / "game"
    build = ["memgame", "build", *map(str, manifests), "--fillers", str(tmp_path / "fillers")]
    assert main([*build, "--participants", "5", "--seed", "1", *GAME, "-o", str(design)]) == 0
    meta = json.loads((design / "design.json").read_text())
    assert {r["seed_id"] for r in meta["images"] if r["role"] == "target"} == {t.seed_id for t in targets}

    responses = []
    for participant in ("P001", "P002"):
        responses.append(play(qtbot, design, participant, tmp_path / "responses" / f"{participant}.csv"))
    scores = tmp_path / "scores.csv"
    assert main(["memgame", "score", *map(str, responses), "--design", str(design), "-o", str(scores)]) == 0
    with scores.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    played = {
        t.image: t for p in ("P001", "P002") for t in read_sequence(design / "sequences" / f"{p}.json").trials
    }
    target_rows = [r for r in rows if r["seed_id"]]
    assert {r["image"] for r in target_rows} == {i for i, t in played.items() if t.kind == TARGET_REPEAT}
    by_seed = {t.seed_id: {float(u.alpha) for u in targets if u.seed_id == t.seed_id} for t in targets}
    for row in target_rows:
        assert float(row["alpha"]) in by_seed[row["seed_id"]]
        assert float(row["hit_rate"]) == 1.0  # every repeat was pressed
        assert float(row["false_alarm_rate"]) == 0.0  # and nothing else


def play(qtbot, design: Path, participant: str, out: Path) -> Path:
    """One sequence in the real runner at 30 ms per image, Space pressed on every repeat."""
    from memstudio.ui.features.memgame.runner import MemoryGameWindow

    sequence = read_sequence(design / "sequences" / f"{participant}.json")
    win = MemoryGameWindow(sequence, design, out, image_ms=30, blank_ms=30)
    qtbot.addWidget(win)
    win.show()
    trials = win.sequence.trials
    win.trial_started.connect(
        lambda i: qtbot.keyClick(win, Qt.Key.Key_Space) if trials[i].is_repeat else None
    )
    with qtbot.waitSignal(win.finished, timeout=30_000) as done:
        qtbot.keyClick(win, Qt.Key.Key_Space)  # leaves the instructions
    win.close()
    return Path(done.args[0])


def test_cancelled_strip_leaves_no_panels(tmp_path):
    photo = make_photo(tmp_path / "photo.png", size=(40, 32))
    direction, path = exposure_direction(tmp_path / "brighter")
    spec = make_spec("grid", directions=[(direction, path)], assessors=[MeanLuma()], seeds=[str(photo)] * 3)
    job = figure_job(spec, FigureSources([direction], [MeanLuma()]), tmp_path / "g.png", tmp_path / "panels")
    next(job)
    next(job)  # the first row's panels are on disk now
    assert len(list((tmp_path / "panels").glob("*.png"))) == 5
    job.close()
    assert not (tmp_path / "panels").exists() and not (tmp_path / "g.png").exists()
