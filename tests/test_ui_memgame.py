"""Tools ▸ Memory game ▸ Export for the web… in the studio: the same site as the CLI, errors in the status
bar, the window responsive meanwhile (the copy runs on the engine thread)."""

from __future__ import annotations

import filecmp
from pathlib import Path

from test_memgame_web import _build_game

from memstudio.cli import main


def test_studio_exports_the_cli_site_and_reports_refusals(qtbot, window, tmp_path: Path) -> None:
    feature = window.features["memgame"]
    assert feature.export_action in feature.menu.actions()
    assert feature.menu.menuAction() in window.tools_menu.actions()
    game = _build_game(tmp_path / "made", participants=2)
    site = tmp_path / "studio-site"
    with qtbot.waitSignal(feature.exported, timeout=30_000) as done:
        feature.export(game, site)
    result = done.args[0]
    assert result.site == site and (result.sequences, result.images) == (2, len(list(site.glob("images/*/*"))))
    assert "index.html?participant=P001" in window.statusBar().currentMessage()
    cli_site = tmp_path / "cli-site"
    assert main(["memgame", "export-web", str(game), "-o", str(cli_site)]) == 0
    # The same files as the CLI writes (the sequence scripts, the images, the page, the vendored jsPsych).
    compared = filecmp.dircmp(site, cli_site)
    assert not compared.left_only and not compared.right_only and not compared.diff_files
    for sub in ("sequences", "jspsych", "images/targets", "images/fillers"):
        names = sorted(p.name for p in (site / sub).iterdir())
        assert filecmp.cmpfiles(site / sub, cli_site / sub, names, shallow=False)[0] == names
    # A second export into the same folder is refused; the message reaches the status bar, nothing changes.
    with qtbot.waitSignal(feature.exported, timeout=30_000) as again:
        feature.export(game, site)
    assert isinstance(again.args[0], str) and "already exists" in again.args[0]
    assert "already exists" in window.statusBar().currentMessage()


SMALL = ["--length", "24", "--targets-per-sequence", "4", "--vigilance-per-sequence", "2"]
SPANS = ["--target-span", "4", "12", "--vigilance-span", "0", "2"]


def _panels_and_fillers(root: Path) -> tuple[Path, Path]:
    """A strip's panels folder as the export dialog writes it (images + manifest.json), and fillers."""
    import json

    from PIL import Image

    panels, fillers = root / "strip_panels", root / "fillers"
    panels.mkdir(parents=True)
    fillers.mkdir()
    items = []
    for s in range(5):
        for i, a in enumerate((-0.2, -0.1, 0.0, 0.1, 0.2)):
            Image.new("RGB", (24, 24), (40 * s, 50 * i, 100)).save(panels / f"p{s}_{i}.png")
            items.append({"image": f"p{s}_{i}.png", "seed_id": f"seed{s:04d}", "alpha": a})
    (panels / "manifest.json").write_text(json.dumps({"images": items}))
    for i in range(20):
        Image.new("RGB", (24, 24), (250, 10 * i, 0)).save(fillers / f"f{i:02d}.png")
    return panels, fillers


def test_studio_builds_plays_and_scores_games_as_the_cli(qtbot, window, tmp_path: Path) -> None:
    import csv

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from memstudio.core.experiments.responses import write_responses
    from memstudio.core.experiments.sequence_io import read_sequence
    from memstudio.core.experiments.simulate import simulate_responses
    from memstudio.core.experiments.stimuli import GameConfig
    from memstudio.ui.features.memgame.runner import MemoryGameWindow

    feature = window.features["memgame"]
    for action in (feature.build_action, feature.play_action, feature.export_action, feature.score_action):
        assert action in feature.menu.actions()
    panels, fillers = _panels_and_fillers(tmp_path)
    config = GameConfig(length=24, targets_per_sequence=4, vigilance_per_sequence=2, target_span=(4, 12),
                        vigilance_span=(0, 2))
    game = tmp_path / "studio-game"
    with qtbot.waitSignal(feature.built, timeout=30_000) as built:
        feature.build(panels, fillers, 30, game, config)
    assert built.args[0].path == game and "5 seeds with 25 versions" in window.statusBar().currentMessage()
    cli_game = tmp_path / "cli-game"
    args = [str(panels / "manifest.json"), "--fillers", str(fillers), "--participants", "30", *SMALL, *SPANS]
    assert main(["memgame", "build", *args, "-o", str(cli_game)]) == 0
    names = sorted(p.name for p in (game / "sequences").iterdir())
    assert names and filecmp.cmpfiles(game / "sequences", cli_game / "sequences", names, shallow=False)[0] == names

    # Play P001 here, pressing Space on every repeat: the local runner writes the game's responses.
    def drive() -> None:
        (win,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, MemoryGameWindow)]
        win.trial_started.connect(
            lambda i: qtbot.keyClick(win, Qt.Key.Key_Space) if win.sequence.trials[i].is_repeat else None
        )
        qtbot.keyClick(win, Qt.Key.Key_Space)

    QTimer.singleShot(0, drive)
    written = feature.play(game / "sequences" / "P001.csv", full_screen=False, image_ms=30, blank_ms=30)
    assert written == game / "responses" / "P001.csv"
    with written.open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["outcome"] for r in rows if r["kind"].endswith("repeat")} == {"hit"}
    assert feature.play(game / "sequences" / "P001.csv", full_screen=False) is None  # never overwrites data
    assert "already exists" in window.statusBar().currentMessage()

    # The others simulated; the folder scored with the consistency report, exactly as the CLI scores it.
    sequences = [read_sequence(game / "sequences" / f"P{i:03d}.json") for i in range(2, 31)]
    m_T = {t.image: 0.5 + t.alpha for s in sequences for t in s.trials if t.kind == "target_first"}
    simulated = simulate_responses(sequences, m_T, -0.1, 8.0, p_vigilance_hit=1.0, seed=1)
    write_responses(game / "responses" / "others.csv", simulated)
    scores = tmp_path / "studio-scores.csv"
    with qtbot.waitSignal(feature.scored, timeout=60_000) as scored:
        feature.score(game / "responses", scores)
    result = scored.args[0]
    assert result.scores == scores and any("split-half Spearman over 25 splits" in line for line in result.lines)
    report = feature.report_box
    assert report is not None and report.isVisible()
    text = report.text()
    report.close()  # the report box does not block the studio: closed here, as a user would
    assert "from 30/30 participants" in text and "split-half Spearman" in text
    cli_scores = tmp_path / "cli-scores.csv"
    responses = [str(game / "responses" / n) for n in ("P001.csv", "others.csv")]
    assert main(["memgame", "score", *responses, "-o", str(cli_scores), "--consistency", "25"]) == 0
    assert scores.read_text() == cli_scores.read_text()
    with qtbot.waitSignal(feature.scored, timeout=30_000) as empty:
        feature.score(tmp_path / "fillers", tmp_path / "x.csv")
    assert isinstance(empty.args[0], str) and "no response .csv files" in empty.args[0]
