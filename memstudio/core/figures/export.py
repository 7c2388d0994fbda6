"""Writing a figure to PNG, PDF or SVG with its metadata inside and a JSON sidecar beside it.

Metadata goes where each format keeps it: PNG text chunks (``memstudio`` holds the whole sidecar), the PDF
Info dictionary (``Subject``) and SVG's RDF ``Description``. Creation dates are left out so that the same
figure gives the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from memstudio.core.figures.draw import rasterize, vector_figure
from memstudio.core.figures.scene import Scene
from memstudio.core.figures.spec import FigureSpec, FigureSpecError

FORMATS = ("png", "pdf", "svg")
#: The PNG text chunk that carries the figure's full description.
PNG_KEY = "memstudio"


def output_format(path: str | Path) -> str:
    """The format a path asks for, from its suffix; anything else is a user error naming the path."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise FigureSpecError(
            f"{path}: cannot export a figure as {suffix or 'a file without suffix'!r}; use .png, .pdf or .svg"
        )
    return suffix


def sidecar_path(path: str | Path) -> Path:
    """``fig.png`` → ``fig.json``: one description per figure, whichever formats it was saved in."""
    return Path(path).with_suffix(".json")


def figure_metadata(spec: FigureSpec, panels: list[dict[str, Any]], size: tuple[int, int]) -> dict[str, Any]:
    """What the sidecar holds: the spec, every panel's numbers and label text, and the pixel size."""
    return {"spec": spec.to_dict(), "panels": panels, "figure": {"width": size[0], "height": size[1]}}


def write_sidecar(path: str | Path, metadata: dict[str, Any]) -> Path:
    side = sidecar_path(path)
    side.write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return side


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
    try:
        with Image.open(path) as im:
            text = dict(getattr(im, "text", {}) or {})
    except OSError as exc:
        raise FigureSpecError(f"{path}: not a readable PNG ({exc})") from exc
    if PNG_KEY not in text:
        raise FigureSpecError(f"{path}: this PNG carries no memstudio figure description")
    try:
        return json.loads(text[PNG_KEY])
    except ValueError as exc:
        raise FigureSpecError(f"{path}: the embedded figure description is damaged ({exc})") from exc


def save_scene(scene: Scene, path: str | Path, metadata: dict[str, Any], dpi: float) -> Path:
    """Write ``scene`` in the format of ``path``'s suffix plus its sidecar; returns ``path``."""
    path = Path(path)
    fmt = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "png":
        rasterize(scene).save(path, format="PNG", pnginfo=png_info(metadata), dpi=(dpi, dpi))
    else:
        save_vector(scene, path, fmt, metadata, dpi)
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
