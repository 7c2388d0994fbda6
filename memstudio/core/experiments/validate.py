"""The constraint validator: every way a memory-game design departs from its configuration, all reported.

Checked per sequence: positions 0..n-1 in order; the counts of targets, vigilance pairs and fillers; every
target and vigilance image shown exactly twice (first, then repeat) with the recorded delay equal to the real
number of intervening images and inside its span; fillers shown once; no image in two roles; at most one
version per seed. Across sequences: unique participants, no participant seeing two versions of a seed, and
every seed's versions shown to equally many participants (±1, the counterbalancing).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from memstudio.core.experiments.stimuli import (
    FILLER,
    TARGET_FIRST,
    TARGET_REPEAT,
    VIGILANCE_FIRST,
    VIGILANCE_REPEAT,
    GameConfig,
    GameSequence,
    Trial,
)


@dataclass(frozen=True)
class Violation:
    """One broken constraint; ``rule`` is a stable key for tests and tools, ``message`` is for people."""

    rule: str
    message: str
    participant: str | None = None
    position: int | None = None

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (self.participant, None if self.position is None else f"position {self.position}")
            if part
        )
        return f"{where}: {self.message}" if where else self.message


def _check_pair(
    seq: GameSequence,
    image: str,
    trials: list[Trial],
    first: str,
    repeat: str,
    span: tuple[int, int] | None,
    out: list[Violation],
) -> None:
    kinds = [t.kind for t in trials]
    pid = seq.participant
    if kinds != [first, repeat]:
        out.append(
            Violation(
                "pair", f"{image} is shown as {kinds}; expected [{first}, {repeat}]", pid, trials[0].position
            )
        )
        return
    p, q = trials[0].position, trials[1].position
    gap = q - p - 1
    if trials[1].delay != gap:
        out.append(
            Violation(
                "delay", f"{image}: recorded delay {trials[1].delay} but {gap} images intervene", pid, q
            )
        )
    if span is not None and not span[0] <= gap <= span[1]:
        out.append(
            Violation(
                f"{first.split('_')[0]}_span",
                f"{image}: repeated after {gap} intervening images; allowed {span[0]}–{span[1]}",
                pid,
                q,
            )
        )


def validate_sequence(seq: GameSequence, config: GameConfig | None = None) -> list[Violation]:
    """Violations within one participant's sequence (``config`` defaults to the sequence's own)."""
    config = config or seq.config
    out: list[Violation] = []
    pid = seq.participant
    positions = [t.position for t in seq.trials]
    if positions != list(range(len(positions))):
        out.append(Violation("positions", "positions are not 0, 1, 2, ... in order", pid))
    by_image: dict[str, list[Trial]] = defaultdict(list)
    for t in seq.trials:
        by_image[t.image].append(t)
    kinds = Counter(t.kind for t in seq.trials)
    if config is not None:
        if len(seq.trials) != config.length:
            out.append(
                Violation("length", f"{len(seq.trials)} trials; the configuration says {config.length}", pid)
            )
        expected = {
            TARGET_FIRST: config.targets_per_sequence,
            VIGILANCE_FIRST: config.vigilance_per_sequence,
            FILLER: config.fillers_per_sequence,
        }
        for kind, n in expected.items():
            if kinds[kind] != n:
                out.append(
                    Violation("counts", f"{kinds[kind]} {kind} trials; the configuration says {n}", pid)
                )
    for image, trials in by_image.items():
        roles = {t.kind.split("_")[0] for t in trials}
        if len(roles) > 1:
            out.append(
                Violation(
                    "roles", f"{image} is used in several roles: {sorted(roles)}", pid, trials[0].position
                )
            )
        elif roles == {"target"}:
            span = config.target_span if config else None
            _check_pair(seq, image, trials, TARGET_FIRST, TARGET_REPEAT, span, out)
        elif roles == {"vigilance"}:
            span = config.vigilance_span if config else None
            _check_pair(seq, image, trials, VIGILANCE_FIRST, VIGILANCE_REPEAT, span, out)
        elif len(trials) != 1:
            out.append(
                Violation(
                    "filler_once", f"filler {image} is shown {len(trials)} times", pid, trials[1].position
                )
            )
    versions_of_seed: dict[str, set[str]] = defaultdict(set)
    for t in seq.trials:
        if t.kind == TARGET_FIRST:
            versions_of_seed[t.seed_id].add(t.image)
    for seed_id, images in versions_of_seed.items():
        if len(images) > 1:
            out.append(
                Violation(
                    "one_version",
                    f"sees {len(images)} versions of seed {seed_id!r}: {', '.join(sorted(images))}",
                    pid,
                )
            )
    return out


def validate_design(
    sequences: Iterable[GameSequence],
    config: GameConfig | None = None,
    versions: Mapping[str, Iterable[str]] | None = None,
) -> list[Violation]:
    """Violations of every sequence plus the across-participant constraints.

    ``versions`` (seed id → all its version labels) lets the counterbalance check see versions nobody got.
    """
    sequences = list(sequences)
    out: list[Violation] = []
    for seq in sequences:
        out.extend(validate_sequence(seq, config))
    ids = Counter(s.participant for s in sequences)
    out.extend(
        Violation("participants", f"participant {p!r} has {n} sequences", p) for p, n in ids.items() if n > 1
    )
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for seeds, all_versions in (versions or {}).items():
        for v in all_versions:
            counts[seeds][v] += 0
    for seq in sequences:
        for t in seq.trials:
            if t.kind == TARGET_FIRST:
                counts[t.seed_id][t.version] += 1
    for seed_id, per_version in sorted(counts.items()):
        if per_version and max(per_version.values()) - min(per_version.values()) > 1:
            shown = ", ".join(f"{v or '(single)'}: {n}" for v, n in sorted(per_version.items()))
            out.append(
                Violation(
                    "counterbalance",
                    f"seed {seed_id!r} versions are not balanced across participants ({shown})",
                )
            )
    return out
