"""Which target images are versions of one seed: by file-name rule or by a manifest (CSV / JSON).

A GANalyze-style experiment edits one seed at several α; the game must never show a participant two of those
versions, so every target carries its seed id. Either file names say it (``seed0042_alpha-0.2.png``, rule
``DEFAULT_NAME_PATTERN``) or a manifest lists ``(image, seed_id, alpha)`` for each file.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from memstudio.core.experiments.errors import DesignError, format_problems
from memstudio.core.experiments.stimuli import TargetImage

#: Default rule that groups target files into versions of one seed: ``<seed>_alpha<α>`` (also ``-a``,
#: ``_alpha=``), e.g. ``seed0042_alpha-0.2.png`` → seed ``seed0042``, version ``-0.2``. A file whose stem does
#: not match is a seed of its own with a single version.
DEFAULT_NAME_PATTERN = r"^(?P<seed>.+?)[_-]+(?:alpha|a)[_=]?(?P<alpha>[+-]?\d+(?:\.\d+)?)$"

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def targets_from_paths(paths: Iterable[Path], pattern: str = DEFAULT_NAME_PATTERN) -> list[TargetImage]:
    """Group image files into seeds by their file names (``pattern`` has groups ``seed`` and ``alpha``)."""
    try:
        rule = re.compile(pattern)
    except re.error as exc:
        raise DesignError(f"naming rule {pattern!r} is not a regular expression: {exc}") from exc
    if "seed" not in rule.groupindex:
        raise DesignError(f"naming rule {pattern!r} needs a named group (?P<seed>...)")
    out = []
    for path in paths:
        m = rule.match(path.stem)
        if m is None:
            out.append(TargetImage(path, path.stem, "", None))
            continue
        alpha_text = m.groupdict().get("alpha")
        alpha = float(alpha_text) if alpha_text not in (None, "") else None
        version = alpha_text if alpha_text else path.stem
        out.append(TargetImage(path, m.group("seed"), version, alpha))
    return out


def targets_from_manifest(path: Path) -> list[TargetImage]:
    """Targets listed in a CSV (columns ``image, seed_id[, alpha][, version]``) or JSON manifest.

    JSON: a list of objects, or an object whose ``images`` (or ``targets``, ``panels``) is that list; each has
    ``image`` (or ``path``), ``seed_id`` (or ``seed``) and optionally ``alpha`` and ``version`` — the shape of
    the sidecar a figure/strip export writes. Relative image paths are relative to the manifest.
    """
    if not path.is_file():
        raise DesignError(f"{path}: no such manifest file")
    entries: list[tuple[str, dict[str, object]]] = []
    if path.suffix.lower() == ".csv":
        entries = _manifest_rows(path)
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise DesignError(f"{path}: not a readable JSON manifest: {exc}") from exc
        items = data
        if isinstance(data, dict):
            items = next((data[k] for k in ("images", "targets", "panels") if k in data), None)
            if (
                "spec" in data
                and isinstance(items, list)
                and not any(isinstance(i, dict) and ("image" in i or "path" in i) for i in items)
            ):
                raise DesignError(
                    f"{path}: a figure sidecar of a composite strip, whose panels carry score labels and "
                    "have no files of their own; list unlabelled per-α images in a manifest "
                    "(image, seed_id, alpha) instead"
                )
        if not isinstance(items, list):
            raise DesignError(f"{path}: expected a list of targets (or an object with 'images')")
        entries = [(f"{path}: entry {i}", item) for i, item in enumerate(items)]
    problems, out = [], []
    for where, item in entries:
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object with image and seed_id")
            continue
        image = item.get("image", item.get("path"))
        seed = item.get("seed_id", item.get("seed"))
        if image in (None, "") or seed in (None, ""):
            problems.append(f"{where}: image and seed_id are both required")
            continue
        alpha_raw = item.get("alpha")
        try:
            alpha = float(alpha_raw) if alpha_raw not in (None, "") else None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            problems.append(f"{where}: alpha {alpha_raw!r} is not a number")
            continue
        version_raw = item.get("version")
        version = (
            str(version_raw) if version_raw not in (None, "") else ("" if alpha is None else str(alpha_raw))
        )
        image_path = Path(str(image))
        out.append(
            TargetImage(
                image_path if image_path.is_absolute() else path.parent / image_path,
                str(seed),
                version,
                alpha,
            )
        )
    if problems:
        raise DesignError(format_problems(f"{path}: bad target manifest:", problems))
    return out


def _manifest_rows(path: Path) -> list[tuple[str, dict[str, object]]]:
    """The rows of a CSV manifest; undecodable text and over-long fields are errors naming the line."""
    entries: list[tuple[str, dict[str, object]]] = []
    line = 1
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = {f.strip() for f in reader.fieldnames or []}
            if "image" not in fields or not fields & {"seed_id", "seed"}:
                raise DesignError(f"{path}:1: a target manifest needs the columns image and seed_id")
            for row in reader:
                line = reader.line_num
                entries.append((f"{path}:{line}", {k.strip(): v for k, v in row.items() if k}))
    except UnicodeDecodeError as exc:
        raise DesignError(f"{path}: not UTF-8 text ({exc}); save the manifest as UTF-8 CSV") from exc
    except (OSError, csv.Error) as exc:
        # csv.Error covers fields over csv.field_size_limit() (128 KB), far beyond any file name.
        raise DesignError(f"{path}:{line + 1}: unreadable CSV row ({exc})") from exc
    return entries


def collect_targets(args: Sequence[str | Path], pattern: str = DEFAULT_NAME_PATTERN) -> list[TargetImage]:
    """Targets from command-line arguments: image files, folders of images, and CSV/JSON manifests."""
    targets: list[TargetImage] = []
    loose: list[Path] = []
    for arg in map(Path, args):
        if arg.suffix.lower() in (".csv", ".json"):
            targets.extend(targets_from_manifest(arg))
        elif arg.is_dir():
            loose.extend(_list_images(arg))
        else:
            loose.append(arg)
    targets.extend(targets_from_paths(loose, pattern))
    return targets


def collect_fillers(args: Sequence[str | Path]) -> list[Path]:
    """Filler images from files and folders of images (a folder that holds none is an error)."""
    out: list[Path] = []
    for arg in map(Path, args):
        if arg.is_dir():
            found = _list_images(arg)
            if not found:
                raise DesignError(f"{arg}: folder holds no images to use as fillers")
            out.extend(found)
        else:
            out.append(arg)
    return out


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
