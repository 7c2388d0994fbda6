"""The built-in sample photos the studio opens on (public-domain / CC0 photos from scikit-image)."""

from __future__ import annotations

import os
from pathlib import Path

from memstudio.core.imaging import list_images


def assets_dir() -> Path:
    """``assets/`` of the checkout (or ``MEMSTUDIO_ASSETS``), where the sample photos and their licence live."""
    override = os.environ.get("MEMSTUDIO_ASSETS")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "assets"


def sample_photos() -> list[Path]:
    """Paths of the built-in photos, sorted by name; empty if the assets folder is missing."""
    folder = assets_dir() / "photos"
    return list_images(folder) if folder.is_dir() else []
