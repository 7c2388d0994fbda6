"""Writing a figure to PNG, PDF or SVG with its metadata inside and a JSON sidecar beside it.

Metadata goes where each format keeps it: PNG text chunks (``memstudio`` holds the whole sidecar), the PDF
Info dictionary (``Subject``) and SVG's RDF ``Description``. Creation dates are left out so that the same
figure gives the same file.

The sidecar of ``fig.png`` is ``fig.png.json`` (one per file written), so the PNG and PDF of one figure never
overwrite each other's sidecar and a figure named like its direction (``bright.png`` beside ``bright.json``)
never replaces the direction. Sidecars of older versions (``fig.json``) are still read. Every file is written
atomically and never over one of the figure's own inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from memstudio.core.atomic import refuse_inputs, write_text_atomic, write_with
from memstudio.core.figures.draw import rasterize, vector_figure
from memstudio.core.figures.scene import Scene
from memstudio.core.figures.spec import FigureSpec, FigureSpecError

FORMATS = ("png", "pdf", "svg")
#: The PNG text chunk that carries the figure's full description.
PNG_KEY = "memstudio"
#: A sidecar holds the spec and per-panel numbers: far below this even for a 100 × 100 grid.
MAX_DESCRIPTION_BYTES = 64 << 20


def output_format(path: str | Path) -> str:
    """The format a path asks for, from its suffix; anything else is a user error naming the path."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise FigureSpecError(
            f"{path}: cannot export a figure as {suffix or 'a file without suffix'!r}; use .png, .pdf or .svg"
        )
    return suffix


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
        size = source.stat().st_size
        if size > MAX_DESCRIPTION_BYTES:
            raise FigureSpecError(f"{source}: {size} bytes is too large for a figure description")
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FigureSpecError(f"{source}: not a readable figure description ({exc})") from exc
    if not isinstance(data, dict):
        raise FigureSpecError(f"{source}: not a figure description (expected a JSON object)")
    return data


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


def write_sidecar(path: str | Path, metadata: dict[str, Any]) -> Path:
    """Write the sidecar of the figure file ``path`` (atomically); returns the sidecar's path."""
    side = sidecar_path(path)
    refuse_inputs([side], figure_inputs(metadata))
    return write_text_atomic(side, json.dumps(metadata, indent=2))


def png_info(metadata: dict[str, Any]) -> PngImagePlugin.PngInfo:
    """Text chunks: a few standard keys for image viewers, and the full description compressed (zTXt)."""
    spec = metadata["spec"]
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"memstudio {spec.get('software', {}).get('memstudio', '')}".strip())
    info.add_text("Title", spec.get("output", {}).get("title") or f"memstudio {spec.get('kind', 'figure')}")
    info.add_text(PNG_KEY, json.dumps(metadata, separators=(",", ":")), zip=True)
    return info


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


def save_scene(scene: Scene, path: str | Path, metadata: dict[str, Any], dpi: float) -> Path:
    """Write ``scene`` in the format of ``path``'s suffix plus its sidecar; returns ``path``."""
    path = Path(path)
    fmt = output_format(path)
    check_outputs([path], metadata)
    if fmt == "png":
        image = rasterize(scene)
        write_with(path, lambda tmp: image.save(tmp, format="PNG", pnginfo=png_info(metadata), dpi=(dpi, dpi)))
    else:
        write_with(path, lambda tmp: save_vector(scene, tmp, fmt, metadata, dpi))
    write_sidecar(path, metadata)
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
