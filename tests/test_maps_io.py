"""Saving maps (.npy values, .png colours) and blending them over a photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memstudio.core.errors import ImageLoadError
from memstudio.core.maps.colormap import apply_colormap, colormap_names, overlay
from memstudio.core.maps.common import MapError
from memstudio.core.maps.io import load_map, save_map


def ramp(height: int = 6, width: int = 11) -> np.ndarray:
    return np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))


def test_npy_round_trip_is_exact(tmp_path: Path) -> None:
    values = np.random.default_rng(0).random((17, 23)).astype(np.float32)
    path = save_map(values, tmp_path / "m.npy")
    back = load_map(path)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, values)


def test_png_is_jet_by_default_with_its_endpoints(tmp_path: Path) -> None:
    save_map(ramp(), tmp_path / "m.png")
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "RGB" and im.size == (11, 6)
        rgb = np.asarray(im)
    # jet runs from dark blue (0, 0, 0.5) through cyan, yellow to dark red (0.5, 0, 0)
    assert tuple(rgb[0, 0]) == (0, 0, 128)
    assert tuple(rgb[0, -1]) == (128, 0, 0)
    mid = rgb[0, 5]
    assert mid[1] > 200 and mid[0] > 100 and mid[2] > 100  # the middle of jet is a light green


def test_other_colormaps_and_unknown_names() -> None:
    assert "viridis" in colormap_names() and "jet" in colormap_names()
    viridis = apply_colormap(ramp(), "viridis")
    assert tuple(viridis[0, 0]) == (68, 1, 84)  # viridis starts dark purple
    assert not np.array_equal(viridis, apply_colormap(ramp(), "jet"))
    with pytest.raises(MapError, match="unknown colormap"):
        apply_colormap(ramp(), "no-such-map")


def test_grey_png_round_trips_to_8_bits(tmp_path: Path) -> None:
    values = ramp()
    save_map(values, tmp_path / "g.png", colormap="gray")
    back = load_map(tmp_path / "g.png")
    np.testing.assert_allclose(back, values, atol=0.5 / 255 + 1e-6)


def test_coloured_png_cannot_be_read_back_as_values(tmp_path: Path) -> None:
    save_map(ramp(), tmp_path / "c.png")
    with pytest.raises(ImageLoadError, match="coloured"):
        load_map(tmp_path / "c.png")


def test_bad_paths_and_maps(tmp_path: Path) -> None:
    with pytest.raises(MapError, match=".npy"):
        save_map(ramp(), tmp_path / "m.jpg")
    with pytest.raises(MapError, match="2-D"):
        save_map(np.zeros((2, 3, 4)), tmp_path / "m.npy")
    with pytest.raises(MapError, match="finite"):
        save_map(np.full((3, 3), np.nan), tmp_path / "m.npy")
    with pytest.raises(ImageLoadError, match="no such map"):
        load_map(tmp_path / "missing.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(ImageLoadError, match="junk.npy"):
        load_map(tmp_path / "junk.npy")


def test_overlay_blends_with_opacity() -> None:
    photo = np.full((6, 11, 3), 200, np.uint8)
    heat = ramp()
    np.testing.assert_array_equal(overlay(photo, heat, opacity=0.0), photo)
    np.testing.assert_array_equal(overlay(photo, heat, opacity=1.0), apply_colormap(heat))
    half = overlay(photo, heat, opacity=0.5)
    expected = np.round(0.5 * photo + 0.5 * apply_colormap(heat).astype(np.float32))
    np.testing.assert_array_equal(half, expected.astype(np.uint8))


def test_overlay_resizes_a_smaller_map_and_checks_inputs() -> None:
    photo = np.zeros((40, 60, 3), np.uint8)
    small = np.zeros((4, 6), np.float32)
    small[:, 3:] = 1.0
    out = overlay(photo, small, opacity=1.0)
    assert out.shape == (40, 60, 3)
    assert tuple(out[20, 2]) == (0, 0, 128) and tuple(out[20, 57]) == (128, 0, 0)
    with pytest.raises(MapError, match="opacity"):
        overlay(photo, small, opacity=1.5)
    with pytest.raises(MapError, match="uint8"):
        overlay(photo.astype(np.float32), small)
