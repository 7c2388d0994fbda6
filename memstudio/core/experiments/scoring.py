"""Memorability scores from memory-game responses, as LaMem computes them (004 §2.2).

Per image: the hit rate on its repeats (Isola et al.'s score), the false-alarm rate on its first
presentations, the false-alarm-corrected score (hit rate − false-alarm rate), and the delay-corrected
memorability m_T. Repeats come at variable delays t (intervening images), and memorability falls
log-linearly with delay: m_t = m_T + α·log(t/T) (eq. 2). m_T for every image and the shared decay α minimise
eq. 3–4, by coordinate descent with the closed-form updates of eq. 5 (α) and eq. 6 (m_T), starting from the
mean hit rates. Eq. 5 weighs each image's terms by 1/n⁽ⁱ⁾; we follow it as written, which makes every step
an exact minimiser of the per-image-normalised error Σᵢ (1/n⁽ⁱ⁾) Σⱼ (xⱼ⁽ⁱ⁾ − m_tⱼ⁽ⁱ⁾)², so that error never
rises. Participants who miss too many vigilance repeats (or false-alarm too often) are excluded first.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from memstudio.core.atomic import write_text_atomic
from memstudio.core.experiments.errors import ResponseFormatError, format_problems
from memstudio.core.experiments.responses import ResponseRow
from memstudio.core.experiments.stimuli import TARGET_FIRST, TARGET_REPEAT, VIGILANCE_REPEAT


@dataclass(frozen=True)
class ExclusionRule:
    """Thresholds above which a participant's data are discarded (rates in [0, 1]; None = no limit)."""

    max_vigilance_miss: float | None = 0.25
    max_false_alarm_rate: float | None = None


#: 004 §2.3: workers who failed more than 25% of the vigilance repeats were discarded.
LAMEM_EXCLUSION = ExclusionRule(0.25, None)
#: 000 §3.4: series with more than 55% vigilance misses or more than 30% false positives were excluded.
GANALYZE_EXCLUSION = ExclusionRule(0.55, 0.30)


@dataclass(frozen=True)
class ParticipantSummary:
    participant: str
    n_trials: int
    vigilance_repeats: int
    vigilance_hits: int
    new_presentations: int
    false_alarms: int
    excluded: bool
    reason: str = ""

    @property
    def vigilance_miss_rate(self) -> float:
        return 1.0 - self.vigilance_hits / self.vigilance_repeats if self.vigilance_repeats else math.nan

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.new_presentations if self.new_presentations else math.nan


@dataclass(frozen=True)
class DecayFit:
    """Result of the coordinate descent: m_T per image (``images`` order), the shared α, how it went."""

    m_T: np.ndarray
    alpha: float
    T: float
    iterations: int
    converged: bool
    #: Per-image-normalised squared error after each iteration (non-increasing).
    errors: tuple[float, ...]


@dataclass(frozen=True)
class TargetObservations:
    """Every scored target repeat as flat arrays: which image, hit or not, at which delay, by whom."""

    images: tuple[str, ...]
    image_index: np.ndarray
    hits: np.ndarray
    delays: np.ndarray
    participants: tuple[str, ...]
    participant_index: np.ndarray

    def subset(self, mask: np.ndarray) -> TargetObservations:
        return TargetObservations(
            self.images,
            self.image_index[mask],
            self.hits[mask],
            self.delays[mask],
            self.participants,
            self.participant_index[mask],
        )


@dataclass(frozen=True)
class ImageScore:
    image: str
    seed_id: str
    version: str
    alpha: float | None
    n_repeats: int
    hit_rate: float
    n_first: int
    false_alarm_rate: float
    #: Hit rate − false-alarm rate: familiar-looking images that draw false alarms are not memorable.
    corrected_hit_rate: float
    m_T: float
    m_T_corrected: float
    mean_delay: float


@dataclass(frozen=True)
class ScoreReport:
    images: tuple[ImageScore, ...]
    participants: tuple[ParticipantSummary, ...]
    decay: DecayFit
    observations: TargetObservations
    exclusion: ExclusionRule

    @property
    def included(self) -> list[str]:
        return [p.participant for p in self.participants if not p.excluded]


def default_T(delays: np.ndarray) -> float:
    """The geometric mean delay: log(t/T) is then centred, so m_T stays close to the plain hit rate."""
    return float(np.exp(np.mean(np.log(delays)))) if len(delays) else 1.0


def fit_delay_decay(
    image_index: np.ndarray,
    hits: np.ndarray,
    delays: np.ndarray,
    T: float | None = None,
    n_images: int | None = None,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> DecayFit:
    """Coordinate descent of 004 eq. 5–6 from m_T = mean hit rate; stops when no parameter moves by ``tol``.

    Images without observations get m_T = NaN. Every step works on per-image sums (one ``bincount`` each),
    so an iteration costs O(images) once the sums are formed.
    """
    image_index = np.asarray(image_index, dtype=np.int64)
    x = np.asarray(hits, dtype=np.float64)
    t = np.asarray(delays, dtype=np.float64)
    if np.any(t <= 0):
        raise ValueError("delays must be positive for the log-delay model")
    n_images = int(image_index.max()) + 1 if n_images is None else n_images
    T = default_T(t) if T is None else float(T)
    if T <= 0:
        raise ValueError(f"T must be positive, got {T}")
    L = np.log(t / T)
    n = np.bincount(image_index, minlength=n_images).astype(np.float64)
    seen = n > 0
    w = np.zeros(n_images)
    w[seen] = 1.0 / n[seen]  # the 1/n^(i) of eq. 5
    sum_x = np.bincount(image_index, x, n_images)
    sum_L = np.bincount(image_index, L, n_images)
    sum_L2 = np.bincount(image_index, L * L, n_images)
    sum_xL = np.bincount(image_index, x * L, n_images)
    sum_x2 = sum_x  # x ∈ {0, 1}, so x² = x
    denom = float(np.sum(w * sum_L2))

    def error(m: np.ndarray, a: float) -> float:
        # Σ_j (x − m − aL)² expanded into the per-image sums.
        per = sum_x2 - 2 * m * sum_x - 2 * a * sum_xL + n * m * m + 2 * a * m * sum_L + a * a * sum_L2
        return float(np.sum(w * per))

    m = np.where(seen, sum_x / np.maximum(n, 1), 0.0)
    alpha = 0.0
    errors = []
    converged = False
    while len(errors) < max_iter:
        new_alpha = float(np.sum(w * (sum_xL - m * sum_L)) / denom) if denom > 0 else 0.0  # eq. 5
        new_m = np.where(seen, (sum_x - new_alpha * sum_L) / np.maximum(n, 1), 0.0)  # eq. 6
        step = max(abs(new_alpha - alpha), float(np.max(np.abs(new_m - m))) if n_images else 0.0)
        m, alpha = new_m, new_alpha
        errors.append(error(m, alpha))
        if step <= tol:
            converged = True
            break
    return DecayFit(np.where(seen, m, np.nan), alpha, T, len(errors), converged, tuple(errors))


def summarize_participants(
    rows: Sequence[ResponseRow], rule: ExclusionRule = LAMEM_EXCLUSION, require_vigilance: bool = True
) -> list[ParticipantSummary]:
    """Vigilance and false-alarm tallies per participant, and whether ``rule`` excludes them.

    Without vigilance repeats attention cannot be judged, so that is an error unless ``require_vigilance``
    is False (then such participants are kept and the message is not raised).
    """
    by_p: dict[str, list[ResponseRow]] = defaultdict(list)
    for r in rows:
        by_p[r.participant].append(r)
    out, problems = [], []
    for pid, prs in by_p.items():
        vig = [r for r in prs if r.kind == VIGILANCE_REPEAT]
        new = [r for r in prs if r.kind not in (TARGET_REPEAT, VIGILANCE_REPEAT)]
        if not vig and require_vigilance and rule.max_vigilance_miss is not None:
            problems.append(
                f"participant {pid} ({prs[0].source} to {prs[-1].source}) has no vigilance repeats, so the "
                "vigilance exclusion cannot be applied; score without it explicitly if that is intended"
            )
            continue
        s = ParticipantSummary(
            pid,
            len(prs),
            len(vig),
            sum(r.response for r in vig),
            len(new),
            sum(r.response for r in new),
            False,
        )
        reasons = []
        if rule.max_vigilance_miss is not None and vig and s.vigilance_miss_rate > rule.max_vigilance_miss:
            reasons.append(
                f"missed {s.vigilance_miss_rate:.0%} of vigilance repeats (> {rule.max_vigilance_miss:.0%})"
            )
        if rule.max_false_alarm_rate is not None and new and s.false_alarm_rate > rule.max_false_alarm_rate:
            reasons.append(f"{s.false_alarm_rate:.0%} false alarms (> {rule.max_false_alarm_rate:.0%})")
        out.append(replace(s, excluded=bool(reasons), reason="; ".join(reasons)))
    if problems:
        raise ResponseFormatError(format_problems("cannot apply the vigilance exclusion:", problems))
    return out


def target_observations(rows: Sequence[ResponseRow]) -> TargetObservations:
    """The target-repeat rows as arrays (images and participants in first-seen order)."""
    images: dict[str, int] = {}
    participants: dict[str, int] = {}
    ii, pp, xs, ts = [], [], [], []
    for r in rows:
        if r.kind != TARGET_REPEAT:
            continue
        ii.append(images.setdefault(r.image, len(images)))
        pp.append(participants.setdefault(r.participant, len(participants)))
        xs.append(r.response)
        ts.append(r.delay)
    return TargetObservations(
        tuple(images),
        np.array(ii, dtype=np.int64),
        np.array(xs, dtype=np.float64),
        np.array(ts, dtype=np.float64),
        tuple(participants),
        np.array(pp, dtype=np.int64),
    )


def score_responses(
    rows: Sequence[ResponseRow],
    rule: ExclusionRule = LAMEM_EXCLUSION,
    T: float | None = None,
    require_vigilance: bool = True,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> ScoreReport:
    """Exclude inattentive participants, then score every target image (hit rate, FA, m_T, α)."""
    participants = summarize_participants(rows, rule, require_vigilance)
    keep = {p.participant for p in participants if not p.excluded}
    kept = [r for r in rows if r.participant in keep]
    obs = target_observations(kept)
    if not obs.images:
        raise ResponseFormatError(
            f"no target repeats left to score ({len(participants) - len(keep)} of {len(participants)} "
            "participants excluded)"
        )
    fit = fit_delay_decay(obs.image_index, obs.hits, obs.delays, T, len(obs.images), tol, max_iter)
    n = np.bincount(obs.image_index, minlength=len(obs.images))
    hits = np.bincount(obs.image_index, obs.hits, len(obs.images))
    delay_sum = np.bincount(obs.image_index, obs.delays, len(obs.images))
    first_n: dict[str, int] = defaultdict(int)
    first_fa: dict[str, int] = defaultdict(int)
    info: dict[str, ResponseRow] = {}
    for r in kept:
        if r.kind == TARGET_FIRST:
            first_n[r.image] += 1
            first_fa[r.image] += r.response
        elif r.kind == TARGET_REPEAT:
            info.setdefault(r.image, r)
    scores = []
    for i, image in enumerate(obs.images):
        hit_rate = hits[i] / n[i]
        fa = first_fa[image] / first_n[image] if first_n[image] else 0.0
        r = info[image]
        scores.append(
            ImageScore(
                image,
                r.seed_id,
                r.version,
                r.alpha,
                int(n[i]),
                float(hit_rate),
                first_n[image],
                float(fa),
                float(hit_rate - fa),
                float(fit.m_T[i]),
                float(fit.m_T[i] - fa),
                float(delay_sum[i] / n[i]),
            )
        )
    return ScoreReport(tuple(scores), tuple(participants), fit, obs, rule)


def version_summary(report: ScoreReport) -> list[dict[str, object]]:
    """Mean scores per target version (e.g. per α), the curve of 000 Fig. 7."""
    groups: dict[tuple[float, str], list[ImageScore]] = defaultdict(list)
    for s in report.images:
        groups[(s.alpha if s.alpha is not None else math.inf, s.version)].append(s)
    out = []
    for (_, version), items in sorted(groups.items()):
        reps = sum(s.n_repeats for s in items)
        out.append(
            {
                "version": version,
                "alpha": items[0].alpha,
                "images": len(items),
                "repeats": reps,
                "hit_rate": sum(s.hit_rate * s.n_repeats for s in items) / reps,
                "mean_m_T": float(np.mean([s.m_T for s in items])),
            }
        )
    return out


SCORE_COLUMNS = (
    "image",
    "seed_id",
    "version",
    "alpha",
    "n_repeats",
    "hit_rate",
    "n_first",
    "false_alarm_rate",
    "corrected_hit_rate",
    "m_T",
    "m_T_corrected",
    "mean_delay",
)


def scores_to_csv(report: ScoreReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SCORE_COLUMNS)
    for s in report.images:
        writer.writerow(
            [
                s.image,
                s.seed_id,
                s.version,
                "" if s.alpha is None else repr(s.alpha),
                s.n_repeats,
                f"{s.hit_rate:.6f}",
                s.n_first,
                f"{s.false_alarm_rate:.6f}",
                f"{s.corrected_hit_rate:.6f}",
                f"{s.m_T:.6f}",
                f"{s.m_T_corrected:.6f}",
                f"{s.mean_delay:.3f}",
            ]
        )
    return buf.getvalue()


def report_summary(report: ScoreReport) -> dict[str, object]:
    """What the per-image table cannot hold: the decay fit, exclusions and the per-version curve."""
    d = report.decay
    return {
        "decay": {
            "alpha": d.alpha,
            "T": d.T,
            "iterations": d.iterations,
            "converged": d.converged,
            "final_error": d.errors[-1] if d.errors else None,
        },
        "exclusion": {
            "max_vigilance_miss": report.exclusion.max_vigilance_miss,
            "max_false_alarm_rate": report.exclusion.max_false_alarm_rate,
        },
        "participants": [
            {
                "participant": p.participant,
                "trials": p.n_trials,
                "vigilance_repeats": p.vigilance_repeats,
                "vigilance_hits": p.vigilance_hits,
                "false_alarms": p.false_alarms,
                "new_presentations": p.new_presentations,
                "excluded": p.excluded,
                "reason": p.reason,
            }
            for p in report.participants
        ],
        "images": len(report.images),
        "versions": version_summary(report),
    }


def write_scores(path: str | Path, report: ScoreReport) -> Path:
    """Write the per-image scores CSV atomically."""
    return write_text_atomic(path, scores_to_csv(report))
