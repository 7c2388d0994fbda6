"""The studio's features, each a room of its own: ``ui/features/<name>/``.

A room holds its feature's wiring (``feature.py``, which defines ``install(studio) -> object``), its panels and
its dialogs. Features are installed in the explicit order of :data:`ORDER` (a feature that wants its dock next
to another's relies on that order, not on alphabetical discovery) and see the studio only through
:class:`memstudio.ui.studio_context.StudioContext`; they never import one another (an import-linter
``independence`` contract in pyproject.toml).
"""

from __future__ import annotations

import importlib

from memstudio.ui.studio_context import StudioContext

#: Installation order: docks and menu entries appear in this order. The core rooms come first (the canvas and
#: its live loop, the seed browser, the property strip, the jobs): the others use what they provide.
ORDER = (
    "canvas",
    "browser",
    "properties",
    "jobs",
    "generators",
    "faces",
    "directions",
    "heatmap",
    "export",
    "memgame",
    "ratings",
    "scoring",
    "session",
)


def install_all(studio: StudioContext, installed: dict[str, object]) -> None:
    """Install every feature in :data:`ORDER` into ``installed`` (by name), each as soon as it is built: the
    studio reads what a room provides from there, so a room sees those installed before it."""
    for name in ORDER:
        module = importlib.import_module(f"{__name__}.{name}.feature")
        installed[name] = module.install(studio)
