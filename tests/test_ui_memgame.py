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
