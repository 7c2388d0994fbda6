"""The response CSV: one row per presentation, written by the game runner and read by the scorer.

Columns (``RESPONSE_COLUMNS``; the first four and ``response`` are required, the rest optional):

- ``participant``: who played; ``position``: 0-based trial index in their sequence;
- ``image``: the image id (path relative to the design root); ``kind``: one of ``KINDS``;
- ``seed_id``, ``version``, ``alpha``: which version of which seed a target is (empty otherwise);
- ``delay``: intervening images since the first presentation (004's t), required on repeats;
- ``response``: 1 if the key was pressed during the trial (image + blank), else 0;
- ``rt_ms``: milliseconds from image onset to the key press (empty without one);
- ``outcome``: ``hit`` / ``miss`` on repeats, ``false_alarm`` / ``correct_rejection`` otherwise. When present
  it must agree with ``kind`` and ``response``, which catches hand-edited files.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from memstudio.core.atomic import write_text_atomic
from memstudio.core.experiments.errors import ResponseFormatError, format_problems
from memstudio.core.experiments.stimuli import KINDS, REPEAT_KINDS, TARGET_REPEAT

RESPONSE_COLUMNS = (
    "participant",
    "position",
    "image",
    "kind",
    "seed_id",
    "version",
    "alpha",
    "delay",
    "response",
    "rt_ms",
    "outcome",
)
REQUIRED_COLUMNS = ("participant", "image", "kind", "response")
OUTCOMES = ("hit", "miss", "false_alarm", "correct_rejection")


@dataclass(frozen=True)
class ResponseRow:
    """One presentation and what the participant did; ``source`` is ``file:line`` for error messages."""

    participant: str
    image: str
    kind: str
    response: bool
    delay: int | None = None
    position: int | None = None
    rt_ms: float | None = None
    seed_id: str = ""
    version: str = ""
    alpha: float | None = None
    source: str = ""

    @property
    def outcome(self) -> str:
        return outcome_of(self.kind, self.response)


def outcome_of(kind: str, response: bool) -> str:
    """Signal-detection name of a trial: a press on a repeat is a hit, on anything new a false alarm."""
    if kind in REPEAT_KINDS:
        return "hit" if response else "miss"
    return "false_alarm" if response else "correct_rejection"


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


def responses_to_csv(rows: Iterable[ResponseRow]) -> str:
    """CSV text for ``rows``: the Qt runner (QSaveFile) and the core (os.replace) write identical files."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RESPONSE_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.participant,
                _fmt(r.position),
                r.image,
                r.kind,
                r.seed_id,
                r.version,
                "" if r.alpha is None else repr(r.alpha),
                _fmt(r.delay),
                _fmt(r.response),
                _fmt(r.rt_ms),
                r.outcome,
            ]
        )
    return buf.getvalue()


def write_responses(path: str | Path, rows: Iterable[ResponseRow]) -> Path:
    """Write a response CSV atomically (a crash leaves the old file or none, never half a file)."""
    return write_text_atomic(path, responses_to_csv(rows))


def _parse_row(raw: dict[str, str], where: str, problems: list[str]) -> ResponseRow | None:
    def text(name: str) -> str:
        return (raw.get(name) or "").strip()

    bad: list[str] = []
    participant, image, kind = text("participant"), text("image"), text("kind")
    if not participant:
        bad.append("participant is empty")
    if not image:
        bad.append("image is empty")
    if kind not in KINDS:
        bad.append(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    response_text = text("response").lower()
    response = response_text in ("1", "true", "yes")
    if response_text not in ("0", "1", "true", "false", "yes", "no"):
        bad.append(f"response {raw.get('response')!r} is not 0 or 1")
    numbers: dict[str, float | int | None] = {}
    for name, cast in (("delay", int), ("position", int), ("rt_ms", float), ("alpha", float)):
        value = text(name)
        try:
            numbers[name] = cast(value) if value else None
        except ValueError:
            bad.append(f"{name} {value!r} is not a number")
            numbers[name] = None
    delay = numbers["delay"]
    if kind in REPEAT_KINDS and delay is None and f"delay {text('delay')!r} is not a number" not in bad:
        bad.append(f"a {kind} row needs its delay (intervening images)")
    if kind == TARGET_REPEAT and delay is not None and delay < 1:
        # m_t = m_T + α log(t/T) is undefined at t = 0.
        bad.append(f"target repeat delay {delay} must be at least 1 for the log-delay model")
    if delay is not None and delay < 0:
        bad.append(f"delay {delay} is negative")
    outcome = text("outcome")
    if outcome and kind in KINDS and not bad and outcome != outcome_of(kind, response):
        bad.append(f"outcome {outcome!r} contradicts kind {kind} with response {int(response)}")
    if bad:
        problems.append(f"{where}: " + "; ".join(bad))
        return None
    return ResponseRow(
        participant,
        image,
        kind,
        response,
        delay,  # type: ignore[arg-type]
        numbers["position"],
        numbers["rt_ms"],
        text("seed_id"),
        text("version"),
        numbers["alpha"],
        where,  # type: ignore[arg-type]
    )


def _check_order(rows: list[ResponseRow], problems: list[str]) -> None:
    """A repeat must follow its image's first presentation, for the same participant, exactly once."""
    by_participant: dict[str, list[ResponseRow]] = {}
    for r in rows:
        by_participant.setdefault(r.participant, []).append(r)
    for pid, prs in by_participant.items():
        positions = [r.position for r in prs if r.position is not None]
        if len(positions) != len(set(positions)):
            dup = sorted({p for p in positions if positions.count(p) > 1})
            problems.append(f"participant {pid}: position(s) {dup[:5]} appear more than once")
        ordered = sorted(prs, key=lambda r: r.position) if len(positions) == len(prs) else prs
        firsts: dict[str, ResponseRow] = {}
        repeats: set[str] = set()
        for r in ordered:
            if r.kind in REPEAT_KINDS:
                first = firsts.get(r.image)
                if first is None or first.kind.split("_")[0] != r.kind.split("_")[0]:
                    problems.append(
                        f"{r.source}: {r.kind} of {r.image} for {pid} has no earlier first presentation"
                    )
                elif r.image in repeats:
                    problems.append(f"{r.source}: {r.image} is repeated twice for {pid}")
                repeats.add(r.image)
            elif r.image in firsts:
                problems.append(
                    f"{r.source}: {r.image} is shown new to {pid} twice (also {firsts[r.image].source})"
                )
            else:
                firsts[r.image] = r


def read_responses(
    paths: Sequence[str | Path], known_images: Iterable[str] | None = None
) -> list[ResponseRow]:
    """Rows of one or more response CSVs; every problem is collected and reported with ``file:line``.

    ``known_images`` (ids from the design) turns images outside the design into errors.
    """
    known = set(known_images) if known_images is not None else None
    rows: list[ResponseRow] = []
    problems: list[str] = []
    for path in map(Path, paths):
        if not path.is_file():
            problems.append(f"{path}: no such response file")
            continue
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                fields = [f.strip() for f in reader.fieldnames or []]
                missing = [c for c in REQUIRED_COLUMNS if c not in fields]
                if missing:
                    problems.append(f"{path}:1: missing column(s) {', '.join(missing)}")
                    continue
                if "delay" not in fields:
                    problems.append(f"{path}:1: missing column delay (needed on repeat rows)")
                    continue
                reader.fieldnames = fields
                n_before = len(rows)
                for raw in reader:
                    where = f"{path}:{reader.line_num}"
                    if None in raw:
                        problems.append(
                            f"{where}: {len(fields) + len(raw[None])} fields, the header has {len(fields)}"
                        )
                        continue
                    if any(v is None for v in raw.values()):
                        n = sum(v is not None for v in raw.values())
                        problems.append(f"{where}: {n} fields, the header has {len(fields)}")
                        continue
                    row = _parse_row(raw, where, problems)
                    if row is None:
                        continue
                    if known is not None and row.image not in known:
                        problems.append(f"{where}: unknown image {row.image!r} (not in the design)")
                        continue
                    rows.append(row)
                if len(rows) == n_before and not problems:
                    problems.append(f"{path}: no response rows")
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            problems.append(f"{path}: unreadable CSV: {exc}")
    if not problems:
        _check_order(rows, problems)
    if problems:
        raise ResponseFormatError(format_problems("cannot score these responses:", problems))
    return rows
