"""Exported memory-game designs on disk: images, per-participant sequence files (CSV, JSON), design.json.

Layout of an exported design (the *design root*)::

    OUTDIR/design.json              seed, configuration, every image (id, role, seed, version, α, source)
    OUTDIR/images/targets/...       target images, named <seed>__<version>.<ext>
    OUTDIR/images/fillers/...       filler and vigilance images
    OUTDIR/sequences/P001.csv|json  one participant's trials, in order

An image id is the image's path relative to the design root; sequence and response files refer to images by
id. The whole folder is written under a temporary name and renamed into place, so a failed build leaves
nothing behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

from memstudio.core.atomic import atomic_directory, write_text_atomic
from memstudio.core.experiments.errors import DesignError, format_problems
from memstudio.core.experiments.stimuli import KINDS, REPEAT_KINDS, Design, GameConfig, GameSequence, Trial
from memstudio.core.experiments.validate import validate_design

DESIGN_FILE = "design.json"
SEQUENCE_COLUMNS = ("participant", "position", "image", "kind", "seed_id", "version", "alpha", "delay")
LINK_MODES = ("copy", "symlink", "hardlink")


def _opt(value: object) -> str:
    return "" if value is None else str(value)


def sequence_to_csv(seq: GameSequence) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SEQUENCE_COLUMNS)
    for t in seq.trials:
        writer.writerow(
            [seq.participant, t.position, t.image, t.kind, t.seed_id, t.version, _opt(t.alpha), _opt(t.delay)]
        )
    return buf.getvalue()


def sequence_to_json(seq: GameSequence) -> str:
    data = {
        "format": "memstudio-memgame-sequence",
        "format_version": 1,
        "participant": seq.participant,
        "seed": seq.seed,
        "config": seq.config.to_dict() if seq.config else None,
        "trials": [
            {
                "position": t.position,
                "image": t.image,
                "kind": t.kind,
                "seed_id": t.seed_id,
                "version": t.version,
                "alpha": t.alpha,
                "delay": t.delay,
            }
            for t in seq.trials
        ],
    }
    return json.dumps(data, indent=1) + "\n"


def _parse_trial(raw: dict[str, object], where: str, problems: list[str]) -> Trial | None:
    try:
        position = int(str(raw.get("position", "")))
    except ValueError:
        problems.append(f"{where}: position {raw.get('position')!r} is not an integer")
        return None
    image = str(raw.get("image") or "")
    kind = str(raw.get("kind") or "")
    if not image:
        problems.append(f"{where}: the image is empty")
        return None
    if kind not in KINDS:
        problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        return None
    alpha_raw, delay_raw = raw.get("alpha"), raw.get("delay")
    try:
        alpha = float(alpha_raw) if alpha_raw not in (None, "") else None  # type: ignore[arg-type]
        delay = int(str(delay_raw)) if delay_raw not in (None, "") else None
    except ValueError:
        problems.append(f"{where}: alpha {alpha_raw!r} or delay {delay_raw!r} is not a number")
        return None
    if kind in REPEAT_KINDS and delay is None:
        problems.append(f"{where}: a {kind} needs its delay")
        return None
    return Trial(
        position, image, kind, str(raw.get("seed_id") or ""), str(raw.get("version") or ""), alpha, delay
    )


def read_sequence(path: str | Path) -> GameSequence:
    """Read a sequence file (``.csv`` or ``.json``); every malformed row is reported with its line."""
    path = Path(path)
    if not path.is_file():
        raise DesignError(f"{path}: no such sequence file")
    problems: list[str] = []
    trials: list[Trial] = []
    participants: set[str] = set()
    config, seed = None, None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("trials"), list):
                raise DesignError(f"{path}: not a memstudio sequence (no 'trials' list)")
            participants.add(str(data.get("participant") or ""))
            config = GameConfig.from_dict(data["config"]) if data.get("config") else None
            seed = data.get("seed")
            for i, raw in enumerate(data["trials"]):
                t = _parse_trial(raw if isinstance(raw, dict) else {}, f"{path}: trial {i}", problems)
                if t:
                    trials.append(t)
        else:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                missing = {"participant", "position", "image", "kind"} - set(reader.fieldnames or [])
                if missing:
                    raise DesignError(f"{path}:1: missing column(s) {', '.join(sorted(missing))}")
                for row in reader:
                    participants.add(row.get("participant") or "")
                    t = _parse_trial(row, f"{path}:{reader.line_num}", problems)
                    if t:
                        trials.append(t)
    except (
        OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error, RecursionError, KeyError, TypeError, ValueError
    ) as exc:
        raise DesignError(f"{path}: unreadable sequence file: {exc}") from exc
    if len(participants) != 1 or "" in participants:
        problems.append(
            f"{path}: a sequence file holds exactly one participant, found {sorted(participants)}"
        )
    if not trials and not problems:
        problems.append(f"{path}: the sequence has no trials")
    if problems:
        raise DesignError(format_problems(f"{path}: bad sequence file:", problems))
    trials.sort(key=lambda t: t.position)
    return GameSequence(participants.pop(), tuple(trials), config, seed)


def find_design_root(path: str | Path, levels: int = 3) -> Path | None:
    """The nearest folder at or above ``path`` holding ``design.json`` (sequence and response files live
    below their design root)."""
    here = Path(path).resolve()
    here = here if here.is_dir() else here.parent
    for folder in [here, *here.parents][: levels + 1]:
        if (folder / DESIGN_FILE).is_file():
            return folder
    return None


def read_design_images(root: str | Path) -> dict[str, dict[str, object]]:
    """Image id → its record in ``design.json`` (role, seed_id, version, alpha)."""
    path = Path(root) / DESIGN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(rec["id"]): rec for rec in data["images"]}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, KeyError, TypeError) as exc:
        raise DesignError(f"{path}: not a readable memstudio design file: {exc}") from exc


def _place_file(src: Path, dst: Path, mode: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "symlink":
        os.symlink(src.resolve(), dst)
    elif mode == "hardlink":
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


def export_design(design: Design, outdir: str | Path, mode: str = "copy") -> Path:
    """Write images (copied or linked), per-participant sequence files and ``design.json`` atomically.

    The design is validated first; a design that violates its constraints is never written.
    """
    if mode not in LINK_MODES:
        raise DesignError(f"unknown image export mode {mode!r}; use one of {', '.join(LINK_MODES)}")
    versions = {s: [t.version for t in v] for s, v in design.stimuli.seeds().items()}
    violations = validate_design(design.sequences, design.config, versions)
    if violations:
        raise DesignError(
            format_problems("the built design violates its constraints:", [str(v) for v in violations])
        )
    outdir = Path(outdir)
    with atomic_directory(outdir, error=DesignError) as tmp:
        for image_id, src in design.stimuli.sources().items():
            try:
                _place_file(src, tmp / image_id, mode)
            except OSError as exc:
                raise DesignError(f"{src}: cannot {mode} into the design: {exc}") from exc
        for seq in design.sequences:
            write_text_atomic(tmp / "sequences" / f"{seq.participant}.csv", sequence_to_csv(seq))
            write_text_atomic(tmp / "sequences" / f"{seq.participant}.json", sequence_to_json(seq))
        images = [
            {
                "id": i,
                "role": "target",
                "seed_id": t.seed_id,
                "version": t.version,
                "alpha": t.alpha,
                "source": str(t.path),
            }
            for t, i in design.stimuli.target_ids.items()
        ] + [{"id": i, "role": "filler", "source": str(p)} for p, i in design.stimuli.filler_ids.items()]
        meta = {
            "format": "memstudio-memgame-design",
            "format_version": 1,
            "seed": design.seed,
            "config": design.config.to_dict(),
            "image_export": mode,
            "participants": [s.participant for s in design.sequences],
            "images": images,
        }
        write_text_atomic(tmp / DESIGN_FILE, json.dumps(meta, indent=1) + "\n")
    return outdir


def load_design(root: str | Path) -> tuple[dict[str, object], list[GameSequence], list[str]]:
    """A built design read back: its ``design.json``, every participant's sequence, and the constraints the
    sequences violate (empty for a design as ``export_design`` wrote it)."""
    root = Path(root)
    try:
        meta = json.loads((root / DESIGN_FILE).read_text(encoding="utf-8"))
        config = GameConfig.from_dict(meta["config"])
        participants = [str(p) for p in meta.get("participants", [])]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DesignError(f"{root / DESIGN_FILE}: not a readable memstudio design: {exc}") from exc
    versions: dict[str, list[str]] = {}
    for rec in meta.get("images", []):
        if rec.get("role") == "target":
            versions.setdefault(str(rec["seed_id"]), []).append(str(rec.get("version") or ""))
    sequences = [read_sequence(root / "sequences" / f"{pid}.json") for pid in participants]
    return meta, sequences, [str(v) for v in validate_design(sequences, config, versions)]
