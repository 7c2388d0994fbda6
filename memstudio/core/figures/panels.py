"""A figure's images one by one, unlabelled, with a manifest a memory game is built from (papers 000 §3.4).

A strip shows one seed at several α with scores printed on the images; a memory-game experiment needs the
same images without the labels, one file each, and must know which files are versions of one seed so that no
participant sees two of them. :class:`PanelWriter` receives each row's panels while the figure renders (no
second render) and writes ``<seed_id>_alpha<α>.png`` per panel; when the figure is saved it writes
``manifest.json``::

    {"format": "memstudio-panels", "images": [{"image", "seed_id", "alpha", "scores", "figure"}, ...],
     "figure": "<the figure's JSON sidecar>"}

which ``memstudio memgame build --fillers … DIR/manifest.json`` reads as its targets. A render that is
cancelled or fails removes the panel files it wrote, so a folder never holds a half set without a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image

from memstudio.core.atomic import write_text_atomic, write_with
from memstudio.core.figures.render import Panel
from memstudio.core.figures.spec import FigureSpecError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "memstudio-panels"

#: ``sink(seed_index, panels)``, called with each rendered row; ``seed_index``: the seed's place in the spec.
PanelSink = Callable[[int, list[Panel]], None]


def seed_id(seed: int | str, index: int) -> str:
    """``seed0042`` for a GAN seed, ``003_beach`` for the fourth photo (the index keeps equal stems apart).

    The same names as a batch export's files, so a panel and its strip are easy to pair by eye.
    """
    if isinstance(seed, str):
        return f"{index:03d}_{Path(seed).stem}"
    return f"seed{int(seed):04d}"


def alpha_name(alpha: float) -> str:
    """α as the memory game's file names read it: fixed point, no exponent (``-0.2``, ``0``, ``0.05``)."""
    text = f"{float(alpha):.6f}".rstrip("0").rstrip(".")
    return "0" if float(text) == 0.0 else text  # never "-0"


def panel_file_name(seed_name: str, alpha: float, layer: int | None = None) -> str:
    """``seed0042_alpha-0.2.png``; a layerwise grid's panel also names its W+ layer."""
    layer_part = "" if layer is None else f"_layer{int(layer)}"
    return f"{seed_name}{layer_part}_alpha{alpha_name(alpha)}.png"


class PanelWriter:
    """Writes panels as they are rendered and the manifest once the figure they belong to is saved."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise FigureSpecError(f"{self.out_dir}: panels need a folder, and this is a file")
        self._made_dir = False  # created with the first panel, so a render that fails early leaves nothing
        self.entries: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []  # entries whose figure is not saved yet
        self._written: list[Path] = []
        self.finished = False

    def add(self, seed_index: int, panels: list[Panel]) -> None:
        """Save one row's panels (the unlabelled pixels at output size) and remember their entries."""
        if not self.out_dir.is_dir():
            self.out_dir.mkdir(parents=True)
            self._made_dir = True
        for panel in panels:
            name = seed_id(panel.seed, seed_index)
            path = self.out_dir / panel_file_name(name, panel.alpha, panel.layer)
            image = Image.fromarray(panel.pixels)
            write_with(path, lambda tmp, image=image: image.save(tmp, format="PNG"))
            self._written.append(path)
            entry: dict[str, Any] = {
                "image": path.name,
                "seed_id": name,
                "seed": panel.seed,
                "alpha": float(panel.alpha),
                "scores": dict(panel.scores),
            }
            if panel.layer is not None:
                entry["layer"] = int(panel.layer)
                entry["version"] = f"layer{int(panel.layer)}_alpha{alpha_name(panel.alpha)}"
            self._pending.append(entry)

    def figure_saved(self, sidecar: str | Path) -> None:
        """The panels added since the last call belong to the figure described by ``sidecar``."""
        for entry in self._pending:
            entry["figure"] = str(Path(sidecar).resolve())
        self.entries.extend(self._pending)
        self._pending = []

    def finish(self, sidecar: str | Path | None = None) -> Path:
        """Write ``manifest.json`` (atomically); ``sidecar`` is the figure description when there is one."""
        if sidecar is not None:
            self.figure_saved(sidecar)
        self.entries.extend(self._pending)
        self._pending = []
        if not self.entries:
            raise FigureSpecError(f"{self.out_dir}: no panels were rendered, so there is nothing to list")
        figures = sorted({e["figure"] for e in self.entries if "figure" in e})
        manifest: dict[str, Any] = {"format": MANIFEST_FORMAT, "format_version": 1, "images": self.entries}
        if len(figures) == 1:
            manifest["figure"] = figures[0]
        else:
            manifest["figures"] = figures
        path = write_text_atomic(self.out_dir / MANIFEST_NAME, json.dumps(manifest, indent=2))
        self.finished = True
        return path

    def discard(self) -> None:
        """Remove what this writer wrote (a cancelled or failed export leaves nothing behind)."""
        for path in self._written:
            path.unlink(missing_ok=True)
        self._written.clear()
        if self._made_dir and self.out_dir.is_dir() and not any(self.out_dir.iterdir()):
            self.out_dir.rmdir()
        self.entries.clear()
        self._pending.clear()


@contextmanager
def panel_writer(out_dir: str | Path | None) -> Iterator[PanelWriter | None]:
    """A writer for ``out_dir`` (None: no panels) that discards its files unless ``finish`` was reached.

    Used inside jobs: closing a job generator raises ``GeneratorExit`` at its ``yield``, which passes
    through here and cleans up.
    """
    writer = PanelWriter(out_dir) if out_dir is not None else None
    try:
        yield writer
    finally:
        if writer is not None and not writer.finished:
            writer.discard()


def read_manifest(path: str | Path) -> dict[str, Any]:
    """A panels manifest, checked just enough to say what is wrong with a file that is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FigureSpecError(f"{path}: not a readable panels manifest ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise FigureSpecError(f"{path}: not a memstudio panels manifest")
    return data
