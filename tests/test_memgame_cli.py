"""``memstudio memgame build | validate | play | score`` end to end: a strip's versions built into a design,
one sequence played in the runner (offscreen, synthetic keys), the responses scored back by the CLI."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from memstudio.cli import main  # noqa: E402
from memstudio.core.experiments.responses import write_responses  # noqa: E402
from memstudio.core.experiments.sequence_io import read_sequence  # noqa: E402
from memstudio.core.experiments.simulate import simulate_responses  # noqa: E402

ALPHAS = (-0.2, -0.1, 0.0, 0.1, 0.2)
SMALL = [
    "--length",
    "24",
    "--targets-per-sequence",
    "4",
    "--vigilance-per-sequence",
    "2",
    "--target-span",
    "4",
    "12",
    "--vigilance-span",
    "0",
    "2",
]


@pytest.fixture()
def strip(tmp_path: Path) -> tuple[Path, Path]:
    """Per-α panels of 5 seeds listed in a manifest (image, seed_id, alpha), and a folder of fillers."""
    panels = tmp_path / "strip"
    panels.mkdir()
    items = []
    for s in range(5):
        for i, a in enumerate(ALPHAS):
            name = f"panel_{s}_{i}.png"
            Image.new("RGB", (16, 16), (40 * s, 50 * i, 100)).save(panels / name)
            items.append({"image": name, "seed_id": f"seed{s:04d}", "alpha": a})
    (panels / "panels.json").write_text(json.dumps({"images": items}))
    fillers = tmp_path / "fillers"
    fillers.mkdir()
    for i in range(20):
        Image.new("RGB", (16, 16), (250, 10 * i, 0)).save(fillers / f"f{i:02d}.png")
    return panels / "panels.json", fillers


def _play_with_keys(qtbot, sequence: Path, extra: list[str]) -> int:
    """Run ``memgame play`` while a timer finds the runner window and presses Space on every repeat."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from memstudio.ui.features.memgame.runner import MemoryGameWindow

    def drive() -> None:
        (win,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, MemoryGameWindow)]
        win.trial_started.connect(
            lambda i: qtbot.keyClick(win, Qt.Key.Key_Space) if win.sequence.trials[i].is_repeat else None
        )
        qtbot.keyClick(win, Qt.Key.Key_Space)

    QTimer.singleShot(0, drive)
    return main(
        ["memgame", "play", str(sequence), "--image-ms", "30", "--blank-ms", "30", "--windowed", *extra]
    )


def _cli(*args: object) -> int:
    return main([str(a) for a in args])


def test_build_play_score_round_trip(qtbot, strip, tmp_path: Path, capsys) -> None:
    manifest, fillers = strip
    out = tmp_path / "game"
    assert (
        _cli(
            "memgame",
            "build",
            manifest,
            "--fillers",
            fillers,
            "--participants",
            40,
            "--seed",
            3,
            *SMALL,
            "-o",
            out,
        )
        == 0
    )
    assert "5 seeds with 25 versions; all constraints hold" in capsys.readouterr().out
    assert _cli("memgame", "validate", out) == 0
    assert "40 sequences, 0 violated constraint(s)" in capsys.readouterr().out

    assert _play_with_keys(qtbot, out / "sequences" / "P001.csv", []) == 0
    played = out / "responses" / "P001.csv"
    with played.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24
    assert {r["outcome"] for r in rows if r["kind"].endswith("repeat")} == {"hit"}
    # Playing again would overwrite a participant's data: refused.
    assert _cli("memgame", "play", out / "sequences" / "P001.csv") == 2
    assert "already exists" in capsys.readouterr().err

    # 39 more participants, simulated on their real sequences, remembering high-α versions better.
    sequences = [read_sequence(out / "sequences" / f"P{i:03d}.json") for i in range(2, 41)]
    m_T = {t.image: 0.5 + t.alpha for s in sequences for t in s.trials if t.kind == "target_first"}
    others = out / "responses" / "others.csv"
    write_responses(others, simulate_responses(sequences, m_T, -0.1, 8.0, p_vigilance_hit=1.0, seed=1))
    scores = tmp_path / "scores.csv"
    assert _cli("memgame", "score", played, others, "-o", scores, "--consistency", 5) == 0
    printed = capsys.readouterr().out
    assert "from 40/40 participants" in printed and "coordinate-descent iterations, converged" in printed
    assert "split-half Spearman over 5 splits" in printed
    with scores.open() as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 25 and sum(int(r["n_repeats"]) for r in table) == 40 * 4
    summary = json.loads((tmp_path / "scores.summary.json").read_text())
    assert summary["decay"]["converged"] and summary["consistency"]["splits"] == 5
    curve = {v["alpha"]: v["hit_rate"] for v in summary["versions"]}
    assert sorted(curve) == sorted(ALPHAS)
    assert curve[0.2] > curve[-0.2]  # 0.7 vs 0.3 expected, ~32 repeats each: a 3σ margin


def test_bad_responses_exit_2_with_line_numbers_and_write_nothing(strip, tmp_path: Path, capsys) -> None:
    manifest, fillers = strip
    out = tmp_path / "game"
    assert (
        main(
            [
                "memgame",
                "build",
                str(manifest),
                "--fillers",
                str(fillers),
                "--participants",
                "2",
                *SMALL,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    seq = read_sequence(out / "sequences" / "P001.json")
    rows = simulate_responses([seq], {t.image: 0.6 for t in seq.trials}, 0.0, 8.0)
    good = write_responses(out / "responses" / "P001.csv", rows)
    lines = good.read_text().splitlines()
    lines[4] = lines[4].replace("images/", "elsewhere/")
    bad = out / "responses" / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    scores = tmp_path / "scores.csv"
    assert main(["memgame", "score", str(bad), "-o", str(scores)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5: unknown image 'elsewhere/" in err
    assert not scores.exists() and not (tmp_path / "scores.summary.json").exists()
    # A design folder that is not empty is never overwritten.
    assert (
        main(
            [
                "memgame",
                "build",
                str(manifest),
                "--fillers",
                str(fillers),
                "--participants",
                "2",
                *SMALL,
                "-o",
                str(out),
            ]
        )
        == 2
    )
    assert "already exists" in capsys.readouterr().err


def test_score_against_an_assessor(strip, tmp_path: Path, capsys) -> None:
    registry = pytest.importorskip(
        "memstudio.core.assessors.registry", reason="the assessor registry is not in this tree yet"
    )
    if "brightness" not in registry.assessor_names():
        pytest.skip("no 'brightness' assessor registered")
    manifest, fillers = strip
    out = tmp_path / "game"
    assert (
        main(
            [
                "memgame",
                "build",
                str(manifest),
                "--fillers",
                str(fillers),
                "--participants",
                "10",
                *SMALL,
                "-o",
                str(out),
            ]
        )
        == 0
    )
    seqs = [read_sequence(p) for p in sorted((out / "sequences").glob("*.json"))]
    images = {t.image for s in seqs for t in s.trials}
    write_responses(
        out / "responses" / "all.csv",
        simulate_responses(seqs, dict.fromkeys(images, 0.6), 0.0, 8.0, p_vigilance_hit=1.0),
    )
    scores = tmp_path / "scores.csv"
    assert (
        main(
            [
                "memgame",
                "score",
                str(out / "responses" / "all.csv"),
                "-o",
                str(scores),
                "--assessor",
                "brightness",
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "scores.summary.json").read_text())
    assert summary["assessor"]["name"] == "brightness" and summary["assessor"]["images"] >= 3
    assert -1.0 <= summary["assessor"]["spearman_m_T"] <= 1.0
    assert "brightness vs humans: Spearman" in capsys.readouterr().out


def test_a_layer_grids_panels_folder_builds_the_studios_game(tmp_path: Path, capsys) -> None:
    """``memgame build PANELS_DIR`` reads the folder's manifest, as the studio's Build a game does: a layer
    grid's files are named per layer (``seed0000_layer1_alpha0.2.png``), so by their names alone each layer
    would be a seed of its own and a participant could see two versions of one seed."""
    from memstudio.core.experiments.stimuli import GameConfig
    from memstudio.core.figures.panels import MANIFEST_FORMAT, MANIFEST_NAME, panel_file_name
    from memstudio.core.session.memgame import BuildGame

    panels = tmp_path / "panels"
    panels.mkdir()
    items = []
    for s in range(5):
        for layer in (0, 1):
            for i, alpha in enumerate((-0.2, 0.2)):
                name = panel_file_name(f"seed{s:04d}", alpha, layer)
                Image.new("RGB", (16, 16), (40 * s, 100 * layer, 100 * i)).save(panels / name)
                version = f"layer{layer}_alpha{alpha:g}"
                items.append({"image": name, "seed_id": f"seed{s:04d}", "alpha": alpha, "version": version})
    (panels / MANIFEST_NAME).write_text(json.dumps({"format": MANIFEST_FORMAT, "images": items}))
    fillers = tmp_path / "fillers"
    fillers.mkdir()
    for i in range(20):
        Image.new("RGB", (16, 16), (250, 10 * i, 0)).save(fillers / f"f{i:02d}.png")

    cli = tmp_path / "cli-game"
    assert _cli("memgame", "build", panels, "--fillers", fillers, "--participants", 6, *SMALL, "-o", cli) == 0
    assert "5 seeds with 20 versions" in capsys.readouterr().out
    config = GameConfig(
        length=24, targets_per_sequence=4, vigilance_per_sequence=2, target_span=(4, 12), vigilance_span=(0, 2)
    )
    studio = BuildGame(panels, fillers, 6, tmp_path / "studio-game", config).run(None).path
    for sequence in sorted((studio / "sequences").iterdir()):
        assert (cli / "sequences" / sequence.name).read_bytes() == sequence.read_bytes()
