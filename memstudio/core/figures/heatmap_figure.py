"""A heatmap as a figure for a paper: the photo, the map over it at the chosen opacity, and a colour bar with
numbered ticks and a label in the map's units (:mod:`memstudio.core.maps.scale`).

Written as PNG, PDF or SVG at a physical width (default one journal column) with fonts in points, text kept as
text, plus the same kind of sidecar as strips (``map.pdf.json``; a PNG also carries it inside), which names the
photo (with its SHA-256), the method and every setting, so ``memstudio heatmap --from map.pdf`` draws the
same figure again. The bare map for data stays :func:`memstudio.core.maps.io.save_map` (.npy, .png).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memstudio.core.atomic import write_with
from memstudio.core.figures.description import read_description
from memstudio.core.figures.export import check_outputs, output_format, write_sidecar
from memstudio.core.figures.spec import FigureSpecError
from memstudio.core.jobs import Job, Progress
from memstudio.core.maps.scale import MapScale

KIND = "heatmap"
DEFAULT_WIDTH_IN = 3.5  # one journal column
#: Room right of the image for the bar, its tick labels and its rotated label, in inches (at 7 pt).
BAR_ROOM_IN = 0.95


@dataclass
class HeatmapFigureSpec:
    """Everything the figure is made of; stored in the sidecar as ``spec``."""

    photo: str
    photo_sha256: str
    method: str = "regions"
    assessor: str = "resmem"
    scales: list[float] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    vms_checkpoint: str | None = None
    max_side: int = 1024
    colormap: str = "jet"
    opacity: float = 0.5
    width_in: float = DEFAULT_WIDTH_IN
    font_pt: float = 7.0
    dpi: float = 300.0
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        from memstudio.core.figures.spec import software_versions

        data = asdict(self)
        # ``photos`` in the strip's shape, so the figure code refuses to write over the photo it was drawn from.
        data.update(kind=KIND, photos=[{"path": self.photo, "sha256": self.photo_sha256}])
        data["software"] = software_versions()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> HeatmapFigureSpec:
        if data.get("kind") != KIND:
            raise FigureSpecError(
                f"{source}: not a heatmap figure (kind {data.get('kind')!r}); strips and grids re-render with "
                "'memstudio strip --from' or 'grid --from'"
            )
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise FigureSpecError(f"{source}: the heatmap figure description is incomplete ({exc})") from exc


def load_figure_spec(path: str | Path) -> HeatmapFigureSpec:
    """The spec of a heatmap figure: its sidecar, a memstudio PNG, or a PDF/SVG with the sidecar beside it."""
    data = read_description(path)
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise FigureSpecError(f"{path}: the figure description has no 'spec' object")
    return HeatmapFigureSpec.from_dict(spec, str(path))


def heatmap_figure(photo: np.ndarray, map_: np.ndarray, scale: MapScale, spec: HeatmapFigureSpec) -> Any:
    """The matplotlib figure (no pyplot, no window): photo + overlay, and the numbered colour bar."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from memstudio.core.maps.colormap import overlay

    blended = overlay(photo, map_, spec.colormap, spec.opacity)
    height, width = blended.shape[:2]
    pt = spec.font_pt / 72.0
    bar_room = BAR_ROOM_IN * spec.font_pt / 7.0
    image_w = spec.width_in - bar_room - 2 * pt
    if image_w < 0.5:
        raise FigureSpecError(f"a {spec.width_in:g}-in figure leaves no room for the image beside the colour bar")
    image_h = image_w * height / width
    title_h = 2.2 * pt if spec.title else 0.0
    fig_h = image_h + title_h + 2 * pt
    fig = Figure(figsize=(spec.width_in, fig_h), dpi=spec.dpi)
    ax = fig.add_axes((pt / spec.width_in, pt / fig_h, image_w / spec.width_in, image_h / fig_h))
    ax.imshow(blended, interpolation="none")
    ax.set_axis_off()
    if spec.title:
        fig.text(0.5, 1 - 0.5 * pt / fig_h, spec.title, ha="center", va="top", fontsize=spec.font_pt)
    bar_left = (pt + image_w + 0.8 * pt) / spec.width_in
    cax = fig.add_axes((bar_left, pt / fig_h, 0.12 / spec.width_in, image_h / fig_h))
    low, high = scale.bounds()
    if high <= low:
        high = low + 1e-9  # a flat map: one colour, the bar still draws
    mappable = ScalarMappable(norm=Normalize(low, high), cmap=colormaps[spec.colormap])
    bar = fig.colorbar(mappable, cax=cax)
    ticks = scale.ticks()
    bar.set_ticks([scale.value(p) if scale.has_units else p for p, _ in ticks])
    bar.set_ticklabels([text for _, text in ticks])
    bar.ax.tick_params(labelsize=spec.font_pt, width=0.5, length=2)
    bar.outline.set_linewidth(0.5)
    bar.set_label(bar_label(scale), fontsize=spec.font_pt)
    return fig


def bar_label(scale: MapScale) -> str:
    """Short enough for a column-wide figure: the quantity and whether the colours are normalised."""
    return f"{scale.quantity}\n(normalised per image)" if scale.normalised else scale.quantity


def save_heatmap_figure(fig: Any, path: str | Path, metadata: dict[str, Any], dpi: float) -> Path:
    """Write ``fig`` by suffix (PNG, PDF, SVG; text kept as text) and its sidecar; returns ``path``."""
    import matplotlib

    from memstudio.core.figures.plots import PLOT_RC

    path = Path(path)
    fmt = output_format(path)
    check_outputs([path], metadata)
    compact = json.dumps(metadata, separators=(",", ":"))
    meta = {
        "png": {"Software": "memstudio", "memstudio": compact},
        "pdf": {"Title": "memstudio heatmap", "Subject": compact, "CreationDate": None},
        "svg": {"Title": "memstudio heatmap", "Description": compact, "Date": None},
    }[fmt]
    with matplotlib.rc_context(PLOT_RC):
        write_with(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta))
    write_sidecar(path, metadata)
    return path


def figure_metadata(spec: HeatmapFigureSpec, scale: MapScale, outputs: Sequence[Path]) -> dict[str, Any]:
    """The sidecar: the spec, what the colours stand for, and every format this figure was written in."""
    return {
        "spec": spec.to_dict(),
        "map": scale.to_dict(),
        "formats": [{"path": str(p), "format": output_format(p)} for p in outputs],
    }


def write_heatmap_figures(
    photo: np.ndarray, map_: np.ndarray, scale: MapScale, spec: HeatmapFigureSpec, outputs: Sequence[str | Path]
) -> list[Path]:
    """Draw once, save in every requested format (each with its own sidecar naming all of them)."""
    paths = [Path(p) for p in outputs]
    for p in paths:
        output_format(p)
    if len(set(paths)) != len(paths):
        raise FigureSpecError("the same figure file is named twice")
    metadata = figure_metadata(spec, scale, paths)
    check_outputs(paths, metadata)
    fig = heatmap_figure(photo, map_, scale, spec)
    return [save_heatmap_figure(fig, p, metadata, spec.dpi) for p in paths]


def rerender_job(
    source: str | Path, outputs: Sequence[str | Path], device: Any, check_hashes: bool = True
) -> Job[list[Path]]:
    """``heatmap --from``: recompute the map its sidecar describes and draw the same figure again."""
    from memstudio.core.checkpoints import sha256_file

    spec = load_figure_spec(source)
    photo = Path(spec.photo)
    if not photo.is_file():
        raise FigureSpecError(f"{photo}: the photo this heatmap figure was made from is missing")
    if check_hashes and spec.photo_sha256 and sha256_file(photo) != spec.photo_sha256:
        raise FigureSpecError(
            f"{photo}: the photo changed since the figure was made; the identical figure cannot be drawn "
            "(--no-check-hashes draws it anyway)"
        )
    pixels, map_, scale = yield from compute_for_figure(spec, device)
    return write_heatmap_figures(pixels, map_, scale, spec, outputs)


def compute_for_figure(spec: HeatmapFigureSpec, device: Any) -> Iterator[Progress]:
    """Load the photo and compute its map as ``spec`` says; returns (photo pixels, map, scale)."""
    import torch

    from memstudio.core.imaging import load_image, pil_to_tensor, tensor_to_uint8
    from memstudio.core.maps.api import map_job
    from memstudio.core.maps.scale import SCALED_METHODS, scale_for

    image = pil_to_tensor(load_image(spec.photo, max_side=spec.max_side).image).to(torch.device(device))
    assessor = None
    if spec.method != "vms":
        from memstudio.core.assessors.registry import load_assessor

        assessor = load_assessor(spec.assessor, image.device)
    seen: list[tuple[float, float]] = []
    options = dict(spec.options)
    if spec.method in SCALED_METHODS:
        options["on_range"] = lambda low, high: seen.append((low, high))
    map_ = yield from map_job(image, assessor, spec.method, spec.scales, spec.vms_checkpoint, **options)
    scale = scale_for(spec.method, spec.assessor, assessor, seen[-1] if seen else None)
    return tensor_to_uint8(image)[0], np.asarray(map_), scale
