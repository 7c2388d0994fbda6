"""Studio features beyond the core docks, one module each, installed into the main window.

Each module defines ``install(window: MainWindow) -> object``: it adds its docks with
``window.add_feature_dock(...)``, its menu entries to ``window.file_menu`` / ``window.tools_menu``, and talks
to the engine through ``window.engine`` and to the studio state through ``window.state``. Modules are
discovered by name, so adding a feature does not touch the main window.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def install_all(window: Any) -> dict[str, object]:
    """Install every feature module found in this package, in name order; returns what each returned."""
    installed: dict[str, object] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        installed[info.name] = module.install(window)
    return installed
