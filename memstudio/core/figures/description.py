"""Reading a figure's description back: its JSON sidecar, or the text chunk of a memstudio PNG.

Apart from :mod:`export` (which writes figures and needs the spec) so that :meth:`FigureSpec.load` can read a
description without importing the writer: the figures package stays free of import cycles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from memstudio.core.errors import MemstudioError
from memstudio.core.jsonfile import read_json

#: The PNG text chunk that carries the figure's full description.
PNG_KEY = "memstudio"
#: A sidecar holds the spec and per-panel numbers: far below this even for a 100 × 100 grid.
MAX_DESCRIPTION_BYTES = 64 << 20


class FigureSpecError(MemstudioError):
    """A figure description is malformed, or the files it names no longer match their recorded hashes."""


def sidecar_path(path: str | Path) -> Path:
    """``fig.png`` → ``fig.png.json``: one description per file, so formats and inputs never collide."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def description_file(path: str | Path) -> Path:
    """The JSON that describes ``path``: itself if it is JSON, else its sidecar (new name, then old)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return path
    for candidate in (sidecar_path(path), path.with_suffix(".json")):
        if candidate.is_file():
            return candidate
    raise FigureSpecError(f"{path}: no figure description beside it ({sidecar_path(path).name} is missing)")


def read_description(path: str | Path) -> dict[str, Any]:
    """The figure description of a sidecar, a memstudio PNG, or a PDF/SVG with its sidecar beside it."""
    path = Path(path)
    if not path.is_file():
        raise FigureSpecError(f"{path}: no such figure description")
    if path.suffix.lower() == ".png":
        return read_png_metadata(path)
    source = description_file(path)
    try:
        data = read_json(source, MAX_DESCRIPTION_BYTES, "figure description", FigureSpecError)
    except FileNotFoundError as exc:
        raise FigureSpecError(f"{source}: no such figure description") from exc
    if not isinstance(data, dict):
        raise FigureSpecError(f"{source}: not a figure description (expected a JSON object)")
    return data


def read_png_metadata(path: str | Path) -> dict[str, Any]:
    """The description a memstudio PNG carries, or an error saying the PNG has none."""
    # Only the chunks before the pixels are read (``info``, not ``text``, which would decode the image), so
    # a header claiming 100 000² pixels costs nothing; Pillow caps each text chunk at MAX_TEXT_CHUNK (1 MB).
    try:
        with Image.open(path, formats=["PNG"]) as im:
            text = im.info.get(PNG_KEY)
    except Image.DecompressionBombError as exc:
        raise FigureSpecError(f"{path}: the PNG claims an implausibly large image ({exc})") from exc
    except ValueError as exc:  # a text chunk that inflates past Pillow's limit
        raise FigureSpecError(f"{path}: a text chunk of this PNG is too large to read ({exc})") from exc
    except (OSError, SyntaxError) as exc:
        raise FigureSpecError(f"{path}: not a readable PNG ({exc})") from exc
    if not isinstance(text, str):
        raise FigureSpecError(f"{path}: this PNG carries no memstudio figure description")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FigureSpecError(f"{path}: the embedded figure description is damaged ({exc})") from exc
    if not isinstance(data, dict):
        raise FigureSpecError(f"{path}: the embedded figure description is not a JSON object")
    return data
