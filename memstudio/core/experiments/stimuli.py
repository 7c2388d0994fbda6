"""Memory-game stimulus sequences: targets, fillers and vigilance repeats under the papers' constraints.

The game (000 §3.4, 004 §2.2): images are shown one at a time and participants press a key on repeats.
*Targets* are shown twice with a long, variable span of intervening images (000: 34–139, 004: 35–150);
*vigilance* images are shown twice within a few images (000: 0–3, 004: ≤ 7) to keep people attentive;
*fillers* are shown once and keep targets apart. A participant never sees two versions (e.g. two α) of one
seed, and versions are rotated across participants (Latin-square style) so every version of a seed is seen by
the same number of people (±1). Everything is drawn from one seeded generator, so a seed reproduces a design.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from memstudio.core.experiments.errors import DesignError, format_problems

#: Presentation kinds, as written in sequence and response files.
TARGET_FIRST = "target_first"
TARGET_REPEAT = "target_repeat"
VIGILANCE_FIRST = "vigilance_first"
VIGILANCE_REPEAT = "vigilance_repeat"
FILLER = "filler"
KINDS = (TARGET_FIRST, TARGET_REPEAT, VIGILANCE_FIRST, VIGILANCE_REPEAT, FILLER)
REPEAT_KINDS = (TARGET_REPEAT, VIGILANCE_REPEAT)


@dataclass(frozen=True)
class GameConfig:
    """Shape of one participant's sequence. Spans count *intervening* images, inclusive on both ends."""

    length: int = 215
    targets_per_sequence: int = 60
    vigilance_per_sequence: int = 12
    target_span: tuple[int, int] = (34, 139)
    vigilance_span: tuple[int, int] = (0, 3)

    @property
    def fillers_per_sequence(self) -> int:
        return self.length - 2 * self.targets_per_sequence - 2 * self.vigilance_per_sequence

    def check(self) -> None:
        """Refuse a shape that cannot hold its own trials, before any random drawing."""
        problems = []
        for name, (lo, hi) in (("target span", self.target_span), ("vigilance span", self.vigilance_span)):
            if lo < 0 or hi < lo:
                problems.append(f"{name} {lo}–{hi} must satisfy 0 ≤ min ≤ max")
        if self.targets_per_sequence < 1:
            problems.append("a sequence needs at least one target")
        if self.vigilance_per_sequence < 0:
            problems.append("the number of vigilance repeats cannot be negative")
        if self.fillers_per_sequence < 0:
            problems.append(
                f"length {self.length} is shorter than {self.targets_per_sequence} target pairs plus "
                f"{self.vigilance_per_sequence} vigilance pairs"
            )
        if self.target_span[0] + 2 > self.length:
            problems.append(f"length {self.length} cannot hold a target span of {self.target_span[0]}")
        if problems:
            raise DesignError(format_problems("impossible memory-game configuration:", problems))

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "fillers_per_sequence": self.fillers_per_sequence}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> GameConfig:
        return cls(
            length=int(data["length"]),
            targets_per_sequence=int(data["targets_per_sequence"]),
            vigilance_per_sequence=int(data["vigilance_per_sequence"]),
            target_span=tuple(int(v) for v in data["target_span"]),  # type: ignore[arg-type]
            vigilance_span=tuple(int(v) for v in data["vigilance_span"]),  # type: ignore[arg-type]
        )


#: 000 §3.4: 215 images, 60 targets repeated after 34–139 images, vigilance after 0–3 (count not given;
#: 004's 12 is used).
GANALYZE_GAME = GameConfig()
#: 004 §2.3: 186 images = 66 targets ×2 + 30 fillers + 12 vigilance ×2; targets after 35–150, vigilance ≤ 7.
LAMEM_GAME = GameConfig(
    length=186,
    targets_per_sequence=66,
    vigilance_per_sequence=12,
    target_span=(35, 150),
    vigilance_span=(0, 7),
)


@dataclass(frozen=True)
class TargetImage:
    """One target file and the seed it is a version of (e.g. one α of a GANalyze strip)."""

    path: Path
    seed_id: str
    version: str = ""
    alpha: float | None = None


@dataclass(frozen=True)
class Trial:
    """One presentation. ``image`` is the image id: its path relative to the design root."""

    position: int
    image: str
    kind: str
    seed_id: str = ""
    version: str = ""
    alpha: float | None = None
    #: Intervening images since the first presentation; repeats only. This is 004's delay t.
    delay: int | None = None

    @property
    def is_repeat(self) -> bool:
        return self.kind in REPEAT_KINDS


@dataclass(frozen=True)
class GameSequence:
    """Everything one participant sees, in order."""

    participant: str
    trials: tuple[Trial, ...]
    #: None when read back from a CSV sequence file, which carries trials only.
    config: GameConfig | None = None
    seed: int | None = None


@dataclass
class StimulusSet:
    """Targets and fillers with the ids they get in an exported design."""

    targets: list[TargetImage]
    fillers: list[Path]
    target_ids: dict[TargetImage, str] = field(init=False)
    filler_ids: dict[Path, str] = field(init=False)

    def __post_init__(self) -> None:
        self.target_ids = {
            t: f"images/targets/{_safe(t.seed_id)}__{_safe(t.version or 'v')}{_suffix(t.path)}"
            for t in self.targets
        }
        self.filler_ids = {}
        taken: set[str] = set()
        for p in self.fillers:
            stem, n = _safe(p.stem), 1
            name = f"images/fillers/{stem}{_suffix(p)}"
            while name in taken:  # fillers from different folders may share a file name
                n += 1
                name = f"images/fillers/{stem}__{n}{_suffix(p)}"
            taken.add(name)
            self.filler_ids[p] = name

    def sources(self) -> dict[str, Path]:
        """Image id → source file, for export."""
        out = {i: t.path for t, i in self.target_ids.items()}
        out.update({i: p for p, i in self.filler_ids.items()})
        return out

    def seeds(self) -> dict[str, list[TargetImage]]:
        """Seed id → its versions, both in a stable (sorted) order so a seed reproduces the design."""
        groups: dict[str, list[TargetImage]] = {}
        for t in sorted(self.targets, key=lambda t: (t.seed_id, _version_key(t))):
            groups.setdefault(t.seed_id, []).append(t)
        return groups


@dataclass(frozen=True)
class Design:
    """All participants' sequences plus what is needed to export and later score them."""

    sequences: tuple[GameSequence, ...]
    stimuli: StimulusSet
    config: GameConfig
    seed: int


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "x"


def _suffix(path: Path) -> str:
    return path.suffix.lower() or ".png"


def _version_key(t: TargetImage) -> tuple[float, str]:
    return (t.alpha if t.alpha is not None else math.inf, t.version)


def _image_problem(role: str, path: Path) -> str | None:
    """Why ``path`` cannot be shown, if so; only the header is read, so this stays fast for 40k files."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return f"{path}: {role} image does not exist"
    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 (reading the header is the check)
    except (OSError, UnidentifiedImageError) as exc:
        return f"{path}: {role} is not a readable image ({exc})"
    return None


def check_stimuli(stimuli: StimulusSet) -> None:
    """Refuse missing files, duplicate (seed, version) pairs and files used both as target and filler."""
    problems = [
        problem
        for role, path in [("target", t.path) for t in stimuli.targets]
        + [("filler", p) for p in stimuli.fillers]
        if (problem := _image_problem(role, path))
    ]
    seen: dict[tuple[str, str], Path] = {}
    exported: dict[str, Path] = {}
    for t in stimuli.targets:
        key, image_id = (t.seed_id, t.version), stimuli.target_ids[t]
        if key in seen:
            problems.append(f"{t.path}: same seed {t.seed_id!r} and version {t.version!r} as {seen[key]}")
        elif image_id in exported:
            problems.append(f"{t.path}: its exported name {image_id} clashes with {exported[image_id]}")
        seen[key] = exported[image_id] = t.path
    both = {t.path.resolve() for t in stimuli.targets} & {p.resolve() for p in stimuli.fillers}
    problems.extend(f"{p}: used both as a target and as a filler" for p in sorted(both))
    if not stimuli.targets:
        problems.append("no target images were given")
    if problems:
        raise DesignError(format_problems("cannot build a memory game from these stimuli:", problems))


def _assign_targets(
    seeds: dict[str, list[TargetImage]], n_participants: int, per_sequence: int, rng: np.random.Generator
) -> list[list[TargetImage]]:
    """Which version of which seeds each participant sees.

    Seeds are dealt in a random cyclic order, ``per_sequence`` at a time, so every seed is shown equally
    often; each seed rotates through its versions from a random offset, so its versions are seen equally
    often (±1). When every seed fits in one sequence this is a Latin square: participant p sees version
    (offset_s + p) mod k_s of seed s.
    """
    names = list(seeds)
    order = rng.permutation(len(names))
    offsets = {s: int(rng.integers(len(v))) for s, v in seeds.items()}
    shown = dict.fromkeys(names, 0)
    n_t = min(per_sequence, len(names))
    out = []
    for p in range(n_participants):
        chosen = []
        for j in range(n_t):
            s = names[order[(p * n_t + j) % len(names)]]
            versions = seeds[s]
            chosen.append(versions[(offsets[s] + shown[s]) % len(versions)])
            shown[s] += 1
        out.append(chosen)
    return out


def _place_pairs(
    free: np.ndarray, count: int, span: tuple[int, int], rng: np.random.Generator
) -> list[tuple[int, int]] | None:
    """Put ``count`` (first, repeat) pairs into free slots, each pair uniform over all feasible placements.

    Returns None when the slots left cannot take another pair; the caller starts over.
    """
    length = free.size
    lo, hi = span
    gaps = np.arange(lo, min(hi, length - 2) + 1)
    if gaps.size == 0:
        return None
    first = np.arange(length)[None, :]
    repeat = first + gaps[:, None] + 1
    inside = repeat < length
    ok = inside & free[first] & free[np.where(inside, repeat, 0)]
    rows = np.arange(gaps.size)
    pairs = []
    for _ in range(count):
        flat = np.flatnonzero(ok)
        if flat.size == 0:
            return None
        g, p = divmod(int(flat[rng.integers(flat.size)]), length)
        q = p + int(gaps[g]) + 1
        free[p] = free[q] = False
        for slot in (p, q):
            # Retire every placement that would use this slot, as a first or as a repeat.
            ok[:, slot] = False
            starts = slot - gaps - 1
            valid = starts >= 0
            ok[rows[valid], starts[valid]] = False
        pairs.append((p, q))
    return pairs


def build_sequence(
    participant: str,
    targets: list[TargetImage],
    fillers: list[Path],
    stimuli: StimulusSet,
    config: GameConfig,
    seed: int,
    rng: np.random.Generator,
    attempts: int = 200,
) -> GameSequence:
    """One participant's sequence: place target and vigilance pairs, fill the rest with fillers."""
    n_t, n_v = len(targets), config.vigilance_per_sequence
    length = 2 * n_t + 2 * n_v + config.fillers_per_sequence
    for _ in range(attempts):
        free = np.ones(length, dtype=bool)
        t_pairs = _place_pairs(free, n_t, config.target_span, rng)
        v_pairs = _place_pairs(free, n_v, config.vigilance_span, rng) if t_pairs is not None else None
        if t_pairs is not None and v_pairs is not None:
            break
    else:
        raise DesignError(
            f"could not place {n_t} targets (span {config.target_span}) and {n_v} vigilance repeats "
            f"(span {config.vigilance_span}) in {length} images after {attempts} tries; "
            "lengthen the sequence or widen the spans"
        )
    needed = n_v + config.fillers_per_sequence
    picked = [fillers[i] for i in rng.permutation(len(fillers))[:needed]]
    slots: list[Trial | None] = [None] * length
    for (p, q), t in zip(t_pairs, (targets[i] for i in rng.permutation(n_t)), strict=True):
        image = stimuli.target_ids[t]
        slots[p] = Trial(p, image, TARGET_FIRST, t.seed_id, t.version, t.alpha)
        slots[q] = Trial(q, image, TARGET_REPEAT, t.seed_id, t.version, t.alpha, delay=q - p - 1)
    for (p, q), f in zip(v_pairs, picked[:n_v], strict=True):
        image = stimuli.filler_ids[f]
        slots[p] = Trial(p, image, VIGILANCE_FIRST)
        slots[q] = Trial(q, image, VIGILANCE_REPEAT, delay=q - p - 1)
    rest = iter(picked[n_v:])
    for i in range(length):
        if slots[i] is None:
            slots[i] = Trial(i, stimuli.filler_ids[next(rest)], FILLER)
    return GameSequence(participant, tuple(s for s in slots if s is not None), config, seed)


def participant_ids(n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"P{i + 1:0{width}d}" for i in range(n)]


def build_design(stimuli: StimulusSet, n_participants: int, config: GameConfig, seed: int = 0) -> Design:
    """Sequences for ``n_participants``, counterbalanced across versions; same inputs + seed → same design."""
    config.check()
    check_stimuli(stimuli)
    if n_participants < 1:
        raise DesignError("at least one participant is needed")
    seeds = stimuli.seeds()
    n_t = min(config.targets_per_sequence, len(seeds))
    # The sequence keeps its filler count when there are fewer seeds than target slots.
    config_used = GameConfig(
        length=config.length - 2 * (config.targets_per_sequence - n_t),
        targets_per_sequence=n_t,
        vigilance_per_sequence=config.vigilance_per_sequence,
        target_span=config.target_span,
        vigilance_span=config.vigilance_span,
    )
    config_used.check()
    needed = config_used.vigilance_per_sequence + config_used.fillers_per_sequence
    if len(stimuli.fillers) < needed:
        raise DesignError(
            f"each sequence needs {needed} distinct filler images "
            f"({config_used.fillers_per_sequence} fillers + "
            f"{config_used.vigilance_per_sequence} vigilance), but only {len(stimuli.fillers)} were given; "
            "add fillers or shorten the sequence"
        )
    rng = np.random.default_rng(seed)
    assignment = _assign_targets(seeds, n_participants, n_t, rng)
    sequences = []
    for p, (pid, targets) in enumerate(zip(participant_ids(n_participants), assignment, strict=True)):
        # One stream per participant: participant p's sequence does not depend on later participants.
        prng = np.random.default_rng([seed, p])
        sequences.append(build_sequence(pid, targets, stimuli.fillers, stimuli, config_used, seed, prng))
    return Design(tuple(sequences), stimuli, config_used, seed)
