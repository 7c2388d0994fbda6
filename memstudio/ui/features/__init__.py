"""Studio features beyond the core docks, each a room of its own: ``ui/features/<name>/``.

A room holds its feature's wiring (``feature.py``, which defines ``install(studio) -> object``), its panels and
its dialogs. Features are installed in the explicit order of :data:`ORDER` (a feature that wants its dock next
to another's relies on that order, not on alphabetical discovery) and see the studio only through
:class:`memstudio.ui.studio_context.StudioContext`; they never import one another (an import-linter
``independence`` contract in pyproject.toml).
"""

from __future__ import annotations

import importlib

from memstudio.ui.studio_context import StudioContext

#: Installation order: docks and menu entries appear in this order.
ORDER = ("generators", "faces", "directions", "heatmap", "export", "memgame", "ratings", "scoring", "session")


def install_all(studio: StudioContext) -> dict[str, object]:
    """Install every feature in :data:`ORDER`; returns what each ``install`` returned, by feature name."""
    installed: dict[str, object] = {}
    for name in ORDER:
        module = importlib.import_module(f"{__name__}.{name}.feature")
        installed[name] = module.install(studio)
    return installed
