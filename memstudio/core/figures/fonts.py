"""The fonts figures are set in: only those matplotlib ships, so text measures the same on every machine.

Kept apart from :mod:`label` so the figure spec can check a font name without importing the label code (which
imports the spec): the figures package stays free of import cycles.
"""

from __future__ import annotations

from pathlib import Path

#: The default family. Only fonts that matplotlib ships are offered, so text measures and renders the same
#: on every machine (no system font lookup anywhere).
FONT_FAMILY = "DejaVu Sans"
FONT_FILES: dict[tuple[str, bool], str] = {
    ("DejaVu Sans", False): "DejaVuSans.ttf",
    ("DejaVu Sans", True): "DejaVuSans-Bold.ttf",
    ("DejaVu Sans Mono", False): "DejaVuSansMono.ttf",
    ("DejaVu Sans Mono", True): "DejaVuSansMono-Bold.ttf",
    ("DejaVu Serif", False): "DejaVuSerif.ttf",
    ("DejaVu Serif", True): "DejaVuSerif-Bold.ttf",
}
FONT_NAMES = tuple(sorted({family for family, _ in FONT_FILES}))


def font_path(family: str = FONT_FAMILY, bold: bool = False) -> Path:
    """The font file inside matplotlib's own data folder (identical wherever matplotlib is installed)."""
    try:
        name = FONT_FILES[(family, bool(bold))]
    except KeyError:
        raise ValueError(f"font {family!r} is not one of the bundled fonts {', '.join(FONT_NAMES)}") from None
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: matplotlib's bundled {family} is missing; reinstall matplotlib")
    return path
