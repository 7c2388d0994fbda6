"""A ratings CSV, read strictly: every problem is reported with its row before any model is touched.

Format (UTF-8, comma-separated): one row per rating. With a header, the columns are found by name —
``path`` (or ``image``/``file``), ``rating`` (or ``score``), and optionally ``group`` (or ``rater``) naming
who gave the rating, and ``source`` naming the original photo an image was cut from (images of one source
always stay in the same cross-validation fold). Without a header the columns are ``path, rating[, group]``.
Paths are relative to the CSV's folder (absolute paths work too). Without a group column each image appears
once; with one, once per rater, and the model learns each image's mean rating.
"""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memstudio.core.errors import MemstudioError

MIN_IMAGES = 10
_MAX_LISTED = 8
_COLUMNS = {
    "path": ("path", "image", "file", "filename", "image_path"),
    "rating": ("rating", "score", "value"),
    "group": ("group", "rater", "participant", "subject"),
    "source": ("source", "photo", "source_photo"),
}


class RatingsError(MemstudioError):
    """A ratings CSV that cannot be trained on: unreadable, too short, or with bad rows (each named)."""


@dataclass(frozen=True)
class Ratings:
    """The images of a ratings CSV (each once) with their mean rating, plus every single rating."""

    csv_path: Path
    csv_sha256: str
    images: list[Path]
    mean_rating: np.ndarray  # [n_images]
    sources: list[str] | None  # source photo of each image, when the CSV says
    rows: list[int]  # first CSV row (1-based line number) of each image, for messages
    rating_image: np.ndarray  # [n_ratings] index into images
    rating_value: np.ndarray  # [n_ratings]
    rating_group: list[str] | None  # rater of each rating, when the CSV says


def read_ratings(csv_path: str | Path) -> Ratings:
    """Parse and check ``csv_path``; raises :class:`RatingsError` listing the bad rows."""
    csv_path = Path(csv_path)
    raw = _read_bytes(csv_path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RatingsError(
            f"{csv_path}: not a UTF-8 text file (byte {exc.start}); save the ratings as UTF-8 CSV"
        ) from exc
    if "\x00" in text:
        raise RatingsError(f"{csv_path}: contains NUL bytes; not a CSV text file")
    try:
        lines = [(i + 1, row) for i, row in enumerate(csv.reader(text.splitlines()))]
    except csv.Error as exc:
        raise RatingsError(f"{csv_path}: not a readable CSV ({exc})") from exc
    lines = [(n, [c.strip() for c in row]) for n, row in lines if any(c.strip() for c in row)]
    if not lines:
        raise RatingsError(f"{csv_path}: is empty; expected rows of 'path,rating[,group]'")
    columns, lines = _columns(csv_path, lines)
    folder = csv_path.resolve().parent
    problems: list[str] = []
    first_row: dict[tuple[Path, str], int] = {}
    entries: list[tuple[int, Path, float, str | None, str | None]] = []
    for number, row in lines:
        need = max(columns["path"], columns["rating"]) + 1
        if len(row) < need:
            problems.append(f"row {number}: {len(row)} column(s), expected at least {need}")
            continue
        name, value = row[columns["path"]], row[columns["rating"]]
        group = _cell(row, columns.get("group"))
        source = _cell(row, columns.get("source"))
        if not name:
            problems.append(f"row {number}: the image path is empty")
            continue
        path = Path(name) if Path(name).is_absolute() else folder / name
        try:
            rating = float(value)
        except ValueError:
            problems.append(f"row {number}: rating {value!r} is not a number")
            continue
        if not math.isfinite(rating):
            problems.append(f"row {number}: rating {value!r} is not a finite number")
            continue
        if not path.is_file():
            problems.append(f"row {number}: image {name!r} not found (looked for {path})")
            continue
        if "group" in columns and not group:
            problems.append(f"row {number}: the {columns_label('group')} cell is empty")
            continue
        key = (path.resolve(), group or "")
        if key in first_row:
            who = f" by the same rater {group!r}" if group else ""
            problems.append(f"row {number}: duplicate rating of {name!r}{who} (first at row {first_row[key]})")
            continue
        first_row[key] = number
        entries.append((number, key[0], rating, group, source))
    if problems:
        shown = "\n  ".join(problems[:_MAX_LISTED])
        more = f"\n  … and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise RatingsError(f"{csv_path}: {len(problems)} bad row(s):\n  {shown}{more}")
    return _assemble(csv_path, hashlib.sha256(raw).hexdigest(), entries, "group" in columns)


def columns_label(kind: str) -> str:
    return "/".join(_COLUMNS[kind][:2])


def _read_bytes(csv_path: Path) -> bytes:
    if not csv_path.exists():
        raise RatingsError(f"{csv_path}: no such file")
    if csv_path.is_dir():
        raise RatingsError(f"{csv_path}: is a folder, not a ratings CSV")
    try:
        return csv_path.read_bytes()
    except OSError as exc:
        raise RatingsError(f"{csv_path}: cannot be read ({exc.strerror or exc})") from exc


def _columns(csv_path: Path, lines: list[tuple[int, list[str]]]) -> tuple[dict[str, int], list]:
    """Column indices from the header, or the positional layout when the first row is data."""
    header = [c.lower() for c in lines[0][1]]
    found = {kind: next((i for i, c in enumerate(header) if c in names), None) for kind, names in _COLUMNS.items()}
    if found["path"] is not None or found["rating"] is not None:
        for kind in ("path", "rating"):
            if found[kind] is None:
                raise RatingsError(
                    f"{csv_path}: row 1 looks like a header ({', '.join(lines[0][1])}) "
                    f"but has no {columns_label(kind)} column"
                )
        return {k: v for k, v in found.items() if v is not None}, lines[1:]
    positional = {"path": 0, "rating": 1}
    if len(lines[0][1]) >= 3:
        positional["group"] = 2
    return positional, lines


def _cell(row: list[str], index: int | None) -> str | None:
    if index is None:
        return None
    return row[index] if index < len(row) else ""


def _assemble(
    csv_path: Path, digest: str, entries: list[tuple[int, Path, float, str | None, str | None]], grouped: bool
) -> Ratings:
    index: dict[Path, int] = {}
    rows: list[int] = []
    sources: list[str] = []
    for number, path, _, _, source in entries:
        if path not in index:
            index[path] = len(index)
            rows.append(number)
            sources.append(source or "")
    if len(index) < MIN_IMAGES:
        raise RatingsError(
            f"{csv_path}: {len(index)} rated image(s); training and cross-validating an assessor "
            f"needs at least {MIN_IMAGES}"
        )
    rating_image = np.array([index[e[1]] for e in entries])
    rating_value = np.array([e[2] for e in entries], dtype=np.float64)
    mean = np.bincount(rating_image, rating_value) / np.bincount(rating_image)
    has_sources = any(sources)
    if has_sources and not all(sources):
        missing = rows[sources.index("")]
        raise RatingsError(f"{csv_path}: row {missing}: the source cell is empty (give every image its source)")
    return Ratings(
        csv_path=csv_path,
        csv_sha256=digest,
        images=list(index),
        mean_rating=mean,
        sources=sources if has_sources else None,
        rows=rows,
        rating_image=rating_image,
        rating_value=rating_value,
        rating_group=[e[3] or "" for e in entries] if grouped else None,
    )
