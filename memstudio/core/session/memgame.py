"""The memory game's commands: build a game, export it for the web, score its responses.

Each runs the function ``memstudio memgame build | export-web | score`` runs
(:mod:`memstudio.core.experiments.session`, :mod:`memstudio.core.experiments.web_export`), so a game made in
the studio is the CLI's, file for file. They need no model; they run on the engine thread so a large game
never freezes the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.experiments.session import BuiltGame, ScoredGame, ScoreSettings
from memstudio.core.experiments.stimuli import GANALYZE_GAME, GameConfig

if TYPE_CHECKING:
    from memstudio.core.experiments.web_export import WebExport, WebOptions
    from memstudio.core.pipeline import Pipeline

#: Split-half consistency splits in the studio's report (paper 004 uses 25).
STUDIO_SPLITS = 25


def game_targets(targets: Path) -> Path:
    """What a targets folder stands for: a strip's panels folder is read through its manifest (which groups
    the α versions of a seed); any other folder by its file names."""
    manifest = targets / "manifest.json"
    return manifest if targets.is_dir() and manifest.is_file() else targets


@dataclass(frozen=True)
class BuildGame:
    """Counterbalanced sequences for ``participants`` from a targets folder (or a strip's panels) and fillers."""

    targets: Path
    fillers: Path
    participants: int
    output: Path
    config: GameConfig = GANALYZE_GAME

    def run(self, pipeline: Pipeline | None) -> BuiltGame:
        from memstudio.core.experiments.session import build_game

        return build_game([game_targets(self.targets)], [self.fillers], self.participants, self.output, self.config)


@dataclass(frozen=True)
class ScoreGame:
    """Score every response CSV in ``folder`` into ``output``, with the consistency report."""

    folder: Path
    output: Path
    settings: ScoreSettings = field(default_factory=lambda: ScoreSettings(consistency=STUDIO_SPLITS))

    def run(self, pipeline: Pipeline | None) -> ScoredGame:
        from memstudio.core.experiments.session import response_files, score_game

        return score_game(response_files(self.folder), self.output, self.settings)


@dataclass(frozen=True)
class ExportWebGame:
    """Write the static web experiment of the built game ``design`` into the new folder ``site``."""

    design: Path
    site: Path
    options: WebOptions | None = None

    def run(self, pipeline: Pipeline | None) -> WebExport:
        from memstudio.core.experiments.web_export import export_web

        return export_web(self.design, self.site, self.options)
