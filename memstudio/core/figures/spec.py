"""What a figure is, as data: enough to render it again, pixel for pixel, on the same machine.

A :class:`FigureSpec` names the generator (or photos), the directions and assessors with the SHA-256 of the
files they came from, the seeds, the α values, truncation, class, label style and output options. It is
written next to every exported figure (JSON sidecar) and inside it (PNG text chunk, PDF/SVG metadata), and
``memstudio strip --from FIG.json`` reads it back.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from memstudio.core.figures.description import FigureSpecError, read_description
from memstudio.core.figures.fonts import FONT_NAMES

SPEC_FORMAT = "memstudio-figure"
SPEC_VERSION = 1
KINDS = ("strip", "grid", "layer_grid", "plot")
#: The test α of paper 000 (§2.2): −0.2 … 0.2 in steps of 0.1, the original in the middle.
DEFAULT_ALPHAS = (-0.2, -0.1, 0.0, 0.1, 0.2)
LABEL_MODES = ("box", "outline", "plain")


@dataclass
class LabelStyle:
    """How scores are printed in each image's top-left corner.

    ``mode`` keeps labels legible on any image: ``box`` puts the text on a translucent box, ``outline``
    strokes it in ``outline_color``; ``plain`` is for figures where the user knows the background.
    Sizes are in output pixels so a label covers the same share of a panel in PNG, PDF and SVG.
    """

    font: str = "DejaVu Sans"
    bold: bool = False
    size_px: float = 14.0
    decimals: int | None = None  # None: each assessor's own ``decimals``
    text_color: str = "#ffffff"
    box_color: str = "#000000"
    box_opacity: float = 0.55
    outline_color: str = "#000000"
    outline_px: int = 2
    mode: str = "box"
    padding_px: int = 3
    margin_px: int = 4
    #: None: each score behind its assessor's tag (``Mem 0.774``), the tags explained by the figure's legend
    #: line; True: behind the assessor's name; False: the bare score.
    show_names: bool | None = None
    #: False in descriptions written before tags existed: names only when several assessors are shown.
    tags: bool = True


@dataclass
class OutputOptions:
    """Pixel geometry and resolution of the exported figure.

    ``panel_px`` None keeps each image at its native resolution (the generator's output size); ``dpi`` sets
    the physical size of PDF/SVG (inches = pixels / dpi) and the PNG's pHYs chunk.
    """

    panel_px: int | None = None
    dpi: float = 150.0
    gap_px: int = 6
    header_px: int | None = None  # room for column labels; None: from the font size
    row_label_px: int | None = None  # room for row labels; None: from the longest label
    column_labels: bool = True
    row_labels: bool = True
    mark_original: bool = True
    original_color: str = "#e8a33d"
    background: str = "#ffffff"
    foreground: str = "#000000"
    title: str = ""
    #: A second header line under the title, e.g. what the direction is (see ``figure_caption``).
    caption: str = ""
    #: Physical width in inches. When set, the figure is laid out at this width: ``dpi`` is the raster
    #: resolution of the panels, text is ``font_pt`` points, gaps ``gap_pt`` and the original's frame
    #: ``line_pt``, and ``label`` sizes in pixels are ignored. None: pixel layout (native panels).
    width_in: float | None = None
    font_pt: float = 7.0
    gap_pt: float = 2.0
    line_pt: float = 1.0


@dataclass
class FigureSpec:
    """Everything a figure depends on. ``seeds`` are GAN seeds (ints) or photo paths (strings)."""

    kind: str = "strip"
    generator: dict[str, Any] = field(default_factory=dict)
    assessors: list[dict[str, Any]] = field(default_factory=list)
    directions: list[dict[str, Any]] = field(default_factory=list)
    seeds: list[int | str] = field(default_factory=list)
    photos: list[dict[str, Any]] = field(default_factory=list)
    alphas: list[float] = field(default_factory=lambda: list(DEFAULT_ALPHAS))
    truncation: float = 1.0
    class_index: int | None = None
    layers: list[int] = field(default_factory=list)
    heatmap: dict[str, Any] | None = None
    photo_max_side: int = 512
    label: LabelStyle = field(default_factory=LabelStyle)
    output: OutputOptions = field(default_factory=OutputOptions)
    plot: dict[str, Any] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FigureSpecError(f"unknown figure kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.label.mode not in LABEL_MODES:
            raise FigureSpecError(f"unknown label mode {self.label.mode!r}; expected one of {LABEL_MODES}")
        if self.label.font not in FONT_NAMES:
            raise FigureSpecError(
                f"label font {self.label.font!r} is not bundled; choose one of {', '.join(FONT_NAMES)}"
            )
        if self.label.decimals is not None and not 0 <= self.label.decimals <= 8:
            raise FigureSpecError(f"label decimals must be between 0 and 8, got {self.label.decimals}")
        if self.output.dpi <= 0:
            raise FigureSpecError(f"dpi must be positive, got {self.output.dpi}")
        if self.output.panel_px is not None and self.output.panel_px < 8:
            raise FigureSpecError(f"panel size must be at least 8 px, got {self.output.panel_px}")
        out = self.output
        if out.width_in is not None:
            if out.width_in <= 0:
                raise FigureSpecError(f"figure width must be positive, got {out.width_in} in")
            if out.panel_px is not None:
                raise FigureSpecError("give a physical width or a panel size in pixels, not both")
            if out.font_pt < 4 or out.gap_pt < 0 or out.line_pt < 0:
                raise FigureSpecError(
                    f"font {out.font_pt} pt must be ≥ 4 pt, gap {out.gap_pt} pt and line {out.line_pt} pt ≥ 0"
                )
        self.alphas = [float(a) for a in self.alphas]
        if not self.software:
            self.software = software_versions()

    @property
    def is_photo(self) -> bool:
        """Photo figures edit real photos with the built-in editor; their seeds are file paths."""
        return self.generator.get("name") == "photo"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"format": SPEC_FORMAT, "format_version": SPEC_VERSION, **data}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "figure description") -> FigureSpec:
        """Rebuild a spec; unknown or mistyped fields are named in the error instead of being dropped."""
        if not isinstance(data, dict):
            raise FigureSpecError(f"{source}: expected a JSON object")
        data = dict(data)
        if "spec" in data and "format" not in data:  # a sidecar: the spec plus what was rendered
            data = dict(data["spec"])
        fmt = data.pop("format", SPEC_FORMAT)
        version = data.pop("format_version", SPEC_VERSION)
        if fmt != SPEC_FORMAT:
            raise FigureSpecError(f"{source}: not a memstudio figure description (format {fmt!r})")
        if version > SPEC_VERSION:
            raise FigureSpecError(f"{source}: written by a newer memstudio (figure format {version})")
        try:
            label_data = data.pop("label", {})
            if isinstance(label_data, dict) and "tags" not in label_data:
                # Written before labels had tags: draw it as it was drawn then (names only when ambiguous).
                label_data = {**label_data, "tags": False}
            label = _sub(LabelStyle, label_data, source, "label")
            output = _sub(OutputOptions, data.pop("output", {}), source, "output")
            _check_keys(cls, data, source, "")
            return cls(label=label, output=output, **data)
        except TypeError as exc:
            raise FigureSpecError(f"{source}: {exc}") from exc

    @classmethod
    def from_json(cls, text: str, source: str = "figure description") -> FigureSpec:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FigureSpecError(f"{source}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | Path) -> FigureSpec:
        """Read a spec from a JSON sidecar, the text chunk of a memstudio PNG, or a PDF/SVG's sidecar."""
        return cls.from_dict(read_description(path), str(path))


def _sub(kind: type, data: Any, source: str, name: str) -> Any:
    if not isinstance(data, dict):
        raise FigureSpecError(f"{source}: field {name!r} must be an object")
    _check_keys(kind, data, source, f"{name}.")
    return kind(**data)


def _check_keys(kind: type, data: dict[str, Any], source: str, prefix: str) -> None:
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise FigureSpecError(f"{source}: unknown field(s) {', '.join(prefix + k for k in unknown)}")


def software_versions() -> dict[str, str]:
    """Versions that can change pixels: memstudio itself, the tensor and imaging stack, the font renderer."""
    import matplotlib
    import numpy
    import PIL
    import torch

    from memstudio import __version__

    return {
        "memstudio": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "matplotlib": matplotlib.__version__,
    }


def ordered_alphas(alphas: list[float] | tuple[float, ...], include_original: bool = True) -> list[float]:
    """Sorted α with 0 included, so the original sits between the less and the more edited images."""
    values = {round(float(a), 10) for a in alphas}
    if include_original:
        values.add(0.0)
    if not values:
        raise FigureSpecError("a figure needs at least one α value")
    return sorted(values)


def parse_seeds(texts: Sequence[str]) -> list[int]:
    """``["3", "10-12", "20,21"]`` → ``[3, 10, 11, 12, 20, 21]``: ranges keep 100-seed batches typeable."""
    seeds: list[int] = []
    for text in texts:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                if "-" in part:
                    first, last = (int(v) for v in part.split("-", 1))
                    if last < first:
                        raise FigureSpecError(f"seed range {part!r} runs backwards")
                    seeds.extend(range(first, last + 1))
                else:
                    seeds.append(int(part))
            except ValueError as exc:
                raise FigureSpecError(
                    f"{part!r} is not a seed (a whole number ≥ 0 or a range like 0-99)"
                ) from exc
    return seeds
