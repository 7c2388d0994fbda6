"""The export dialog's commands: its live preview, what the pipeline offers, direction files, the exports.

The dialog builds a :class:`~memstudio.core.figures.request.FigureRequest` on the GUI thread; these commands
run it on the engine thread through :mod:`memstudio.core.figures.request`, the core's one resolution of a
request into the CLI's spec and sources, so an exported figure equals ``memstudio strip | grid | plot``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.errors import MemstudioError
from memstudio.core.figures.request import FigureRequest
from memstudio.core.jobs import Progress

if TYPE_CHECKING:
    import numpy as np

    from memstudio.core.pipeline import Pipeline


@dataclass(frozen=True)
class Preview:
    """The preview area's content: the figure as its PNG would look (``[H, W, 3]`` uint8), or why there is
    none (``pixels`` None)."""

    pixels: np.ndarray | None
    message: str = ""


@dataclass(frozen=True)
class RenderPreview:
    """The figure of ``request`` as a picture. A user error (no generator, a direction of another space) is
    an answer for the preview area, not a problem report."""

    request: FigureRequest

    def run(self, pipeline: Pipeline) -> Preview:
        from memstudio.core.figures.request import preview_pixels

        try:
            return Preview(preview_pixels(pipeline, self.request))
        except MemstudioError as exc:
            return Preview(None, str(exc))


@dataclass(frozen=True)
class Inventory:
    """What the pipeline holds that a figure can use: the generator's name and W+ layers, the directions."""

    generator: str | None
    num_ws: int
    directions: tuple[tuple[str, str, str], ...]  # (id, name, space)


@dataclass(frozen=True)
class TakeInventory:
    """The pipeline's :class:`Inventory`, as plain values for the GUI thread."""

    def run(self, pipeline: Pipeline) -> Inventory:
        generator = pipeline.generator
        return Inventory(
            generator=generator.name if generator is not None else None,
            num_ws=int(generator.num_ws or 0) if generator is not None else 0,
            directions=tuple((ident, d.name, d.space) for ident, d in pipeline.directions.items()),
        )


@dataclass(frozen=True)
class DirectionChoice:
    """A direction file as the dialog offers it: its request key, a label and its latent space."""

    key: str
    label: str
    space: str


@dataclass(frozen=True)
class ReadDirectionFile:
    """Read (and so check) a direction file for the dialog's direction list."""

    path: str

    def run(self, pipeline: Pipeline) -> DirectionChoice:
        from memstudio.core.directions.base import Direction

        path = Path(self.path)
        direction = Direction.load(path)
        return DirectionChoice(
            f"file:{path.with_suffix('.json')}", f"{direction.name} ({direction.space}, {path.name})", direction.space
        )


@dataclass(frozen=True)
class ExportFigure:
    """Render and write the figure of ``request`` to ``path`` (and unlabelled panels); result: the path."""

    request: FigureRequest
    path: Path
    panels_dir: Path | None = None

    @property
    def title(self) -> str:
        return f"Export {self.path.name}"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        from memstudio.core.figures.request import export_job

        return export_job(pipeline, self.request, self.path, self.panels_dir)


@dataclass(frozen=True)
class BatchExport:
    """One strip per seed or photo of ``request.seeds`` into ``out_dir``; result: the paths written."""

    request: FigureRequest
    out_dir: Path
    fmt: str = "png"
    panels_dir: Path | None = None

    @property
    def title(self) -> str:
        return f"Batch export of {len(self.request.seeds)} strips → {self.out_dir.name}"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        from memstudio.core.figures.request import batch_job

        return batch_job(pipeline, self.request, self.out_dir, self.fmt, self.panels_dir)
