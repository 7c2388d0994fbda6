"""Writing a figure to PNG, PDF or SVG with its metadata inside and a JSON sidecar beside it.

Metadata goes where each format keeps it: PNG text chunks (``memstudio`` holds the whole description), the PDF
Info dictionary (``Subject``) and SVG's RDF ``Description``. Creation dates are left out so that the same
figure gives the same file.

The sidecar of ``fig.png`` is ``fig.png.json`` (one per file written), so the PNG and PDF of one figure never
overwrite each other's sidecar and a figure named like its direction (``bright.png`` beside ``bright.json``)
never replaces the direction. Each sidecar also names every file that figure was written to (``formats``);
the copy inside the file leaves that list out, so a figure's bytes depend on what it shows, not on its name.
Sidecars of older versions (``fig.json``) are still read. Every file is written
atomically and never over one of the figure's own inputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import PngImagePlugin

from memstudio.core.atomic import refuse_inputs, write_text_atomic, write_with
from memstudio.core.figures.description import PNG_KEY, FigureSpecError, sidecar_path
from memstudio.core.figures.draw import rasterize, vector_figure
from memstudio.core.figures.scene import Scene
from memstudio.core.figures.spec import FigureSpec

FORMATS = ("png", "pdf", "svg")


def output_format(path: str | Path) -> str:
    """The format a path asks for, from its suffix; anything else is a user error naming the path."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise FigureSpecError(
            f"{path}: cannot export a figure as {suffix or 'a file without suffix'!r}; use .png, .pdf or .svg"
        )
    return suffix


def figure_inputs(metadata: dict[str, Any]) -> list[Path]:
    """Files a figure's description names as inputs (directions, their tensors, photos, the generator)."""
    spec = metadata.get("spec", {})
    named: list[str] = []
    for direction in spec.get("directions", []):
        if isinstance(direction, dict) and isinstance(direction.get("path"), str):
            named += [direction["path"], str(Path(direction["path"]).with_suffix(".safetensors"))]
    named += [p["path"] for p in spec.get("photos", []) if isinstance(p, dict) and isinstance(p.get("path"), str)]
    named += [s for s in spec.get("seeds", []) if isinstance(s, str)]
    source = spec.get("generator", {}).get("source")
    if isinstance(source, str):
        named.append(source)
    return [Path(p) for p in named if p]


def check_outputs(paths: list[Path], metadata: dict[str, Any], inputs: list[Path] | None = None) -> None:
    """Refuse to write a figure or a sidecar over a file the figure was drawn from."""
    targets = [t for p in paths for t in (p, sidecar_path(p))]
    refuse_inputs(targets, figure_inputs(metadata) + list(inputs or []))


def figure_metadata(spec: FigureSpec, panels: list[dict[str, Any]], size: tuple[int, int]) -> dict[str, Any]:
    """What the sidecar holds: the spec, every panel's numbers and label text, and the pixel size."""
    return {"spec": spec.to_dict(), "panels": panels, "figure": {"width": size[0], "height": size[1]}}


def format_list(paths: Sequence[str | Path]) -> list[dict[str, str]]:
    """``[{"path": ..., "format": "pdf"}, ...]``: the files one figure was written to, for its sidecars."""
    return [{"path": str(p), "format": output_format(p)} for p in paths]


def write_sidecar(path: str | Path, metadata: dict[str, Any], formats: Sequence[str | Path] = ()) -> Path:
    """Write the sidecar of the figure file ``path`` (atomically); returns the sidecar's path.

    Unless ``metadata`` lists them already, the sidecar names the files ``formats`` (default: ``path``)."""
    side = sidecar_path(path)
    refuse_inputs([side], figure_inputs(metadata))
    if "formats" not in metadata:
        metadata = {**metadata, "formats": format_list(formats or [path])}
    return write_text_atomic(side, json.dumps(metadata, indent=2))


def png_info(metadata: dict[str, Any]) -> PngImagePlugin.PngInfo:
    """Text chunks: a few standard keys for image viewers, and the full description compressed (zTXt)."""
    spec = metadata["spec"]
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"memstudio {spec.get('software', {}).get('memstudio', '')}".strip())
    info.add_text("Title", spec.get("output", {}).get("title") or f"memstudio {spec.get('kind', 'figure')}")
    info.add_text(PNG_KEY, json.dumps(metadata, separators=(",", ":")), zip=True)
    return info


def save_scene(
    scene: Scene, path: str | Path, metadata: dict[str, Any], dpi: float, formats: Sequence[str | Path] = ()
) -> Path:
    """Write ``scene`` in the format of ``path``'s suffix plus its sidecar; returns ``path``.

    ``formats``: every file this figure is written to (default ``path`` alone), named in the sidecar."""
    path = Path(path)
    fmt = output_format(path)
    check_outputs([path], metadata)
    if fmt == "png":
        image = rasterize(scene)
        write_with(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=png_info(metadata), dpi=(dpi, dpi)))
    else:
        write_with(path, lambda tmp: save_vector(scene, tmp, fmt, metadata, dpi))
    write_sidecar(path, metadata, formats)
    return path


def save_vector(scene: Scene, path: Path, fmt: str, metadata: dict[str, Any], dpi: float) -> None:
    """PDF/SVG with text kept as text and images at native resolution."""
    import matplotlib

    fig = vector_figure(scene, dpi)
    compact = json.dumps(metadata, separators=(",", ":"))
    title = metadata["spec"].get("output", {}).get("title") or "memstudio figure"
    if fmt == "pdf":
        meta = {"Title": title, "Subject": compact, "Creator": "memstudio", "CreationDate": None}
    else:
        meta = {"Title": title, "Description": compact, "Creator": "memstudio", "Date": None}
    rc = {"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "memstudio", "svg.image_inline": True}
    with matplotlib.rc_context(rc):
        fig.savefig(path, format=fmt, dpi=dpi, metadata=meta, facecolor=scene.background)
