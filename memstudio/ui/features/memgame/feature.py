"""Tools ▸ Memory game: the studio side of ``memstudio memgame build | play | export-web | score``.

Build a game from a strip's panels (the export dialog's "unlabelled panels + manifest") or a folder of
targets, play one of its sequences here in the local runner, export it as a static web experiment
(core/experiments/web_export.py), and score a folder of response CSVs with the consistency report. Each runs
the core function the CLI runs (:mod:`memstudio.core.experiments.session`, the runner's ``play_sequence``);
building, exporting and scoring are commands of :mod:`memstudio.core.session.memgame` run on the engine
thread, so a large game never freezes the window. Results or the reason they failed go to the status bar and
to the feature's signals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from memstudio.core.errors import MemstudioError
from memstudio.core.experiments.protocol import BLANK_MS, IMAGE_MS
from memstudio.core.experiments.session import BuiltGame, ScoredGame
from memstudio.core.experiments.stimuli import GANALYZE_GAME
from memstudio.core.session.memgame import BuildGame, ExportWebGame, ScoreGame
from memstudio.engine import Command, Failure, RequestHandle
from memstudio.ui.studio_context import StudioContext


def install(studio: StudioContext) -> MemoryGameFeature:
    return MemoryGameFeature(studio)


class MemoryGameFeature(QObject):
    """The memory-game menu; one per window."""

    #: An export ended: the ``WebExport`` on success, else the error message (a str).
    exported = Signal(object)
    #: A build ended: the ``BuiltGame``, else the error message.
    built = Signal(object)
    #: Scoring ended: the ``ScoredGame``, else the error message.
    scored = Signal(object)
    #: A local game ended: the response file, None when the player aborted, else the error message.
    played = Signal(object)

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.menu = studio.tools_menu.addMenu("&Memory game")
        self.build_action = QAction("&Build a game from a strip or folder…", studio)
        self.build_action.setObjectName("memgameBuildAction")
        self.build_action.setToolTip(
            "Targets: a strip's panels folder (its manifest groups the α versions of a seed) or images named "
            "<seed>_alpha<α>; fillers: any folder of images. As 'memstudio memgame build'"
        )
        self.build_action.triggered.connect(self.choose_and_build)
        self.menu.addAction(self.build_action)
        self.play_action = QAction("&Play a game here…", studio)
        self.play_action.setObjectName("memgamePlayAction")
        self.play_action.setToolTip("One sequence of a built game in the local runner, as 'memstudio memgame play'")
        self.play_action.triggered.connect(self.choose_and_play)
        self.menu.addAction(self.play_action)
        self.export_action = QAction("Export a game for the &web…", studio)
        self.export_action.setObjectName("memgameExportWebAction")
        self.export_action.setToolTip(
            "A folder from 'memgame build' as a static site: open index.html?participant=P001, or host it"
        )
        self.export_action.triggered.connect(self.choose_and_export)
        self.menu.addAction(self.export_action)
        self.score_action = QAction("&Score a folder of responses…", studio)
        self.score_action.setObjectName("memgameScoreAction")
        self.score_action.setToolTip(
            "Hit rates, false alarms, m_T and split-half consistency of every response CSV in a folder (local "
            "or web), as 'memstudio memgame score --consistency 25'"
        )
        self.score_action.triggered.connect(self.choose_and_score)
        self.menu.addAction(self.score_action)
        self.last_report: str = ""
        self.report_box: QMessageBox | None = None

    # ----- build ----------------------------------------------------------------------------------------
    def choose_and_build(self) -> None:
        targets = QFileDialog.getExistingDirectory(
            self.studio, "Targets: a strip's panels folder, or images named <seed>_alpha<α>"
        )
        if not targets:
            return
        fillers = QFileDialog.getExistingDirectory(self.studio, "Fillers: a folder of other images")
        if not fillers:
            return
        participants, ok = QInputDialog.getInt(self.studio, "Memory game", "Participants (one sequence each)", 20, 1)
        if not ok:
            return
        output, _ = QFileDialog.getSaveFileName(self.studio, "New folder for the game", f"{targets}-game")
        if output:
            self.build(Path(targets), Path(fillers), participants, Path(output))

    def build(
        self, targets: Path, fillers: Path, participants: int, output: Path, config: Any = None
    ) -> RequestHandle:
        """Build the game on the engine thread (a strip's panels folder is read through its manifest)."""
        command = BuildGame(Path(targets), Path(fillers), participants, Path(output), config or GANALYZE_GAME)
        self.studio.statusBar().showMessage(f"building a memory game from {Path(targets).name}…")
        return self._request(command, self.built, self._built)

    def _built(self, built: BuiltGame) -> None:
        self.studio.statusBar().showMessage(built.summary, 15_000)
        self.built.emit(built)

    # ----- play -----------------------------------------------------------------------------------------
    def choose_and_play(self) -> None:
        sequence, _ = QFileDialog.getOpenFileName(
            self.studio, "A sequence of a built game", "", "Sequences (*.csv *.json);;All files (*)"
        )
        if not sequence:
            return
        participant, ok = QInputDialog.getText(self.studio, "Memory game", "Participant ID (empty: the sequence's)")
        if ok:
            self.play(Path(sequence), participant.strip() or None)

    def play(
        self,
        sequence_path: Path,
        participant: str | None = None,
        full_screen: bool = True,
        image_ms: int = IMAGE_MS,
        blank_ms: int = BLANK_MS,
    ) -> Path | None:
        """Play one sequence in the local runner (its own event loop, as ``memgame play``); the responses go
        to the game's ``responses/<participant>.csv``. Returns the file, or None when aborted."""
        from memstudio.core.experiments.sequence_io import find_design_root, read_sequence
        from memstudio.ui.features.memgame.runner import play_sequence

        try:
            sequence = read_sequence(sequence_path)
            root = find_design_root(sequence_path) or sequence_path.resolve().parent
            who = participant or sequence.participant
            output = root / "responses" / f"{who}.csv"
            if output.exists():
                raise MemstudioError(f"{output}: already exists; choose another participant ID")
            written = play_sequence(sequence, root, output, who, image_ms, blank_ms, full_screen=full_screen)
        except MemstudioError as exc:
            self.studio.statusBar().showMessage(str(exc), 15_000)
            self.played.emit(str(exc))
            return None
        message = f"{written}: responses of {who}" if written else "memory game aborted; no responses written"
        self.studio.statusBar().showMessage(message, 15_000)
        self.played.emit(written)
        return written

    # ----- score ----------------------------------------------------------------------------------------
    def choose_and_score(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.studio, "A folder of response CSVs (local or web)")
        if not folder:
            return
        output, _ = QFileDialog.getSaveFileName(
            self.studio, "Per-image scores", str(Path(folder) / "scores.csv"), "CSV (*.csv)"
        )
        if output:
            self.score(Path(folder), Path(output))

    def score(self, folder: Path, output: Path, settings: Any = None) -> RequestHandle:
        """Score every response CSV in ``folder`` on the engine thread, with the consistency report."""
        command = ScoreGame(Path(folder), Path(output), settings) if settings else ScoreGame(Path(folder), Path(output))
        self.studio.statusBar().showMessage(f"scoring the responses in {Path(folder).name}…")
        return self._request(command, self.scored, self._scored)

    def _scored(self, scored: ScoredGame) -> None:
        self.last_report = "\n".join([*scored.lines, f"{scored.scores}: per-image scores"])
        self.studio.statusBar().showMessage(scored.lines[-1], 15_000)
        self._show_report(self.last_report)
        self.scored.emit(scored)

    def choose_and_export(self) -> None:
        design = QFileDialog.getExistingDirectory(self.studio, "Memory game to export (a 'memgame build' folder)")
        if not design:
            return
        site, _ = QFileDialog.getSaveFileName(self.studio, "New folder for the web game", f"{design}-web")
        if site:
            self.export(Path(design), Path(site))

    def export(self, design: Path, site: Path, options: Any = None) -> RequestHandle:
        """Write the site for ``design`` into the new folder ``site`` (on the engine thread)."""
        self.studio.statusBar().showMessage(f"exporting {Path(design).name} for the web…")
        return self._request(ExportWebGame(Path(design), Path(site), options), self.exported, self._exported)

    def _request(self, command: Command, signal: Any, done: Any) -> RequestHandle:
        """Send ``command``; ``done(result)`` on success, else the failure's message to the bar and ``signal``."""
        handle = self.studio.engine.request(command)
        handle.done.connect(done)
        handle.failed.connect(lambda failure: self._failed(failure, signal))
        return handle

    def _exported(self, result: Any) -> None:
        self.studio.statusBar().showMessage(
            f"{result.site}: web memory game, {result.sequences} sequences, {result.images} images; "
            f"open index.html?participant={result.first}",
            15_000,
        )
        self.exported.emit(result)

    def _show_report(self, text: str) -> None:
        """The report in a box that does not block (open(), not exec()): the studio keeps working."""
        box = QMessageBox(QMessageBox.Icon.Information, "Memory game scores", text, parent=self.studio)
        box.setObjectName("memgameReport")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.report_box = box

    def _failed(self, failure: Failure, signal: Any) -> None:
        self.studio.statusBar().showMessage(failure.message, 15_000)
        signal.emit(failure.message)
