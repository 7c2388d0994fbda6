"""Build a memory game and score its responses: what ``memstudio memgame build | score`` and the studio's
Tools ▸ Memory game menu both run, so a game built or scored in the studio is the CLI's, file for file.

Everything is computed before anything is written, and each file is replaced atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memstudio.core.atomic import write_text_atomic
from memstudio.core.errors import MemstudioError
from memstudio.core.experiments.errors import ResponseFormatError
from memstudio.core.experiments.stimuli import GameConfig


@dataclass(frozen=True)
class BuiltGame:
    path: Path
    summary: str


def build_game(
    targets: Sequence[str | Path],
    fillers: Sequence[str | Path],
    participants: int,
    output: str | Path,
    config: GameConfig,
    seed: int = 0,
    images: str = "copy",
    name_pattern: str | None = None,
) -> BuiltGame:
    """Counterbalanced sequences from targets (images, folders, or a strip's panel manifest) and fillers."""
    from memstudio.core.experiments.sequence_io import export_design
    from memstudio.core.experiments.stimuli import StimulusSet, build_design
    from memstudio.core.experiments.targets import DEFAULT_NAME_PATTERN, collect_fillers, collect_targets

    found = collect_targets(list(targets), name_pattern or DEFAULT_NAME_PATTERN)
    stimuli = StimulusSet(found, collect_fillers(list(fillers)))
    design = build_design(stimuli, participants, config, seed)
    out = export_design(design, output, images)
    cfg = design.config
    seeds = stimuli.seeds()
    summary = (
        f"{out}: {len(design.sequences)} sequences of {cfg.length} images "
        f"({cfg.targets_per_sequence} targets, {cfg.vigilance_per_sequence} vigilance, "
        f"{cfg.fillers_per_sequence} fillers); {len(seeds)} seeds with "
        f"{sum(len(v) for v in seeds.values())} versions; all constraints hold"
    )
    return BuiltGame(Path(out), summary)


@dataclass(frozen=True)
class ScoreSettings:
    """The choices of ``memgame score`` (see its ``--help``)."""

    design: str | None = None
    delay_T: float | None = None  # noqa: N815 - the paper's T
    exclusion: str = "lamem"
    max_vigilance_miss: float | None = None
    max_false_alarm_rate: float | None = None
    require_vigilance: bool = True
    consistency: int = 0
    assessor: str | None = None
    seed: int = 0


@dataclass
class ScoredGame:
    """The files written and the report's lines (what the CLI prints, what the studio shows)."""

    scores: Path
    summary_path: Path
    lines: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def response_files(folder: str | Path) -> list[Path]:
    """The response CSVs of a folder (the runners write one per participant), sorted; none is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ResponseFormatError(f"{folder}: not a folder of response files")
    found = sorted(p for p in folder.glob("*.csv") if p.is_file() and not p.name.startswith("."))
    if not found:
        raise ResponseFormatError(f"{folder}: no response .csv files in this folder")
    return found


def score_game(responses: Sequence[str | Path], output: str | Path, settings: ScoreSettings) -> ScoredGame:
    """Hit rates, false alarms and delay-corrected m_T per image, the vigilance exclusions, and optionally
    split-half consistency and the correlation with an assessor; writes ``output`` and its summary JSON."""
    from memstudio.core.experiments.responses import read_responses
    from memstudio.core.experiments.scoring import (
        GANALYZE_EXCLUSION,
        LAMEM_EXCLUSION,
        ExclusionRule,
        report_summary,
        score_responses,
        scores_to_csv,
    )
    from memstudio.core.experiments.sequence_io import find_design_root, read_design_images

    if not responses:
        raise ResponseFormatError("no response files to score")
    root = Path(settings.design) if settings.design else find_design_root(responses[0])
    known = read_design_images(root) if root is not None else None
    rows = read_responses(list(responses), known_images=known)
    preset = GANALYZE_EXCLUSION if settings.exclusion == "ganalyze" else LAMEM_EXCLUSION
    rule = ExclusionRule(
        settings.max_vigilance_miss if settings.max_vigilance_miss is not None else preset.max_vigilance_miss,
        settings.max_false_alarm_rate if settings.max_false_alarm_rate is not None else preset.max_false_alarm_rate,
    )
    report = score_responses(rows, rule, settings.delay_T, require_vigilance=settings.require_vigilance)
    summary = report_summary(report)
    d = report.decay
    lines = [
        f"{len(report.images)} images from {len(report.included)}/{len(report.participants)} participants "
        f"({len(report.participants) - len(report.included)} excluded by vigilance)",
        f"decay α = {d.alpha:+.4f} per log-delay unit at T = {d.T:.1f} intervening images "
        f"({d.iterations} coordinate-descent iterations, {'converged' if d.converged else 'NOT converged'})",
    ]
    lines += _consistency(report, settings, summary)
    if settings.assessor:
        image_root = root if root is not None else Path(responses[0]).resolve().parent
        lines += _against_assessor(report, settings.assessor, image_root, summary)
    out = Path(output)
    summary_path = out.with_name(f"{out.stem}.summary.json")
    write_text_atomic(summary_path, json.dumps(_json_safe(summary), indent=1) + "\n")
    write_text_atomic(out, scores_to_csv(report))
    return ScoredGame(out, summary_path, lines, summary)


def _consistency(report: Any, settings: ScoreSettings, summary: dict[str, Any]) -> list[str]:
    from memstudio.core.experiments.consistency import adversarial_split_consistency, split_half_consistency

    obs, d = report.observations, report.decay
    if settings.consistency <= 0:
        return []
    if len(obs.participants) < 2:
        return ["split-half consistency needs at least two participants; skipped"]
    plain = split_half_consistency(obs, settings.consistency, False, settings.seed, d.T)
    corr = split_half_consistency(obs, settings.consistency, True, settings.seed, d.T)
    adv = adversarial_split_consistency(obs, settings.seed, d.T)
    summary["consistency"] = {
        "splits": settings.consistency,
        "spearman_hit_rate": plain.mean_rho,
        "spearman_m_T": corr.mean_rho,
        "alpha_mean": sum(corr.alphas) / len(corr.alphas),
        "alpha_spread": max(corr.alphas) - min(corr.alphas),
        "adversarial_spearman_hit_rate": adv.rho_uncorrected,
        "adversarial_spearman_m_T": adv.rho_corrected,
    }
    if math.isnan(plain.mean_rho):
        return ["split-half consistency: too few images were rated in both halves; add participants"]
    return [
        f"split-half Spearman over {settings.consistency} splits: hit rate {plain.mean_rho:.3f}, "
        f"m_T {corr.mean_rho:.3f}; adversarial (low vs high delays): {adv.rho_uncorrected:.3f} → "
        f"{adv.rho_corrected:.3f}"
    ]


def _against_assessor(report: Any, name: str, image_root: Path, summary: dict[str, Any]) -> list[str]:
    from memstudio.core.experiments.consistency import assessor_correlation

    images = [s.image for s in report.images]
    predicted, missing = _assessor_scores(name, images, image_root)
    human_m = {s.image: s.m_T for s in report.images}
    human_h = {s.image: s.hit_rate for s in report.images}
    why = _reasons(missing)
    try:
        c_m, c_h = assessor_correlation(human_m, predicted), assessor_correlation(human_h, predicted)
    except ValueError as exc:
        if missing:
            raise MemstudioError(
                f"cannot correlate with {name}: only {len(predicted)} of {len(images)} images have a {name} score "
                f"(the others: {why}); at least 3 are needed"
            ) from exc
        raise MemstudioError(f"cannot correlate with {name}: {exc}") from exc
    summary["assessor"] = {
        "name": name,
        "spearman_m_T": c_m.rho,
        "p_m_T": c_m.p_value,
        "spearman_hit_rate": c_h.rho,
        "images": c_m.n,
        "predictions": predicted,
    }
    lines = [f"{name} vs humans: Spearman ρ = {c_m.rho:.3f} with m_T, {c_h.rho:.3f} with hit rate ({c_m.n} images)"]
    if missing:
        summary["assessor"]["unavailable"] = missing
        lines.append(f"{name} has no score for {len(missing)} of {len(images)} images ({why}); left out of ρ")
    return lines


def _assessor_scores(name: str, images: list[str], root: Path) -> tuple[dict[str, float], dict[str, str]]:
    """Each image's score, and for those without one (valence: no face) the reason; an unreadable image fails."""
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.scoring import ScoreFailure, score_paths
    from memstudio.core.unavailable import Unavailable

    assessor = load_assessor(name)
    scores: dict[str, float] = {}
    missing: dict[str, str] = {}
    for image, result in zip(images, score_paths([root / i for i in images], {name: assessor}), strict=True):
        if isinstance(result, ScoreFailure):
            raise MemstudioError(f"cannot score {image} with {name}: {result.message}")
        value = result.values[name]
        if isinstance(value, Unavailable):
            missing[image] = value.reason
        else:
            scores[image] = float(value)
    return scores, missing


def _reasons(missing: dict[str, str]) -> str:
    """``no face found`` (or several reasons with their counts), for one line of the report."""
    counts: dict[str, int] = {}
    for reason in missing.values():
        counts[reason] = counts.get(reason, 0) + 1
    return "; ".join(reason if len(counts) == 1 else f"{reason}: {n}" for reason, n in counts.items())


def _json_safe(value: object) -> object:
    """NaN (a split with too few shared images) becomes null: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
