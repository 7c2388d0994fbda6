"""QSettings for window state (INI under ``MEMSTUDIO_SETTINGS_DIR`` when set, so tests never touch the user's)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings


def studio_settings() -> QSettings:
    folder = os.environ.get("MEMSTUDIO_SETTINGS_DIR")
    if folder:
        return QSettings(str(Path(folder) / "memstudio.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "memstudio", "memstudio")
