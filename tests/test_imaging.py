"""Loading every kind of file a user drops in: clear errors for the bad ones, sensible pixels for the rest."""

from __future__ import annotations

import tracemalloc

import bad_images
import numpy as np
import pytest

from memstudio.core.errors import ImageLoadError
from memstudio.core.imaging import expand_paths, load_image, pil_to_tensor, tensor_to_pil


@pytest.mark.parametrize(
    ("builder", "message"),
    [
        (bad_images.zero_byte, "empty"),
        (bad_images.truncated_jpeg, "truncated"),
        (bad_images.text_as_jpeg, "not an image"),
        (bad_images.decompression_bomb_png, "decompression bomb"),
    ],
)
def test_bad_files_raise_specific_errors(tmp_path, builder, message):
    path = builder(tmp_path)
    with pytest.raises(ImageLoadError, match=message) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_cmyk_becomes_red_rgb(tmp_path):
    arr = np.asarray(load_image(bad_images.cmyk_jpeg(tmp_path)).image).astype(int)
    assert arr.shape == (48, 64, 3)
    assert arr[..., 0].mean() > 200 and arr[..., 1].mean() < 60 and arr[..., 2].mean() < 60


def test_16_bit_png_keeps_its_ramp(tmp_path):
    loaded = load_image(bad_images.png16(tmp_path))
    arr = np.asarray(loaded.image)[..., 0].astype(int)
    assert arr[0, 0] == 0 and arr[0, -1] == 255
    assert np.all(np.diff(arr[0]) >= 0)
    assert any("16-bit" in n for n in loaded.notes)


def test_grayscale_and_rgba(tmp_path):
    gray = np.asarray(load_image(bad_images.grayscale(tmp_path)).image)
    assert gray.shape == (30, 40, 3) and np.all(gray == 128)
    rgba = np.asarray(load_image(bad_images.rgba(tmp_path)).image)
    assert tuple(rgba[15, 5]) == (0, 0, 255)  # opaque blue kept
    assert tuple(rgba[15, 35]) == (255, 255, 255)  # transparent composited over white


def test_exif_rotation_is_applied(tmp_path):
    loaded = load_image(bad_images.exif_rotated(tmp_path))
    arr = np.asarray(loaded.image).astype(int)
    assert loaded.image.size == (40, 60)  # upright: portrait
    assert arr[:8, :, 0].mean() > 200 and arr[:8, :, 1].mean() < 80  # the red band is on top now
    assert arr[-8:, :, 1].mean() > 200


def test_animated_gif_uses_first_frame(tmp_path):
    loaded = load_image(bad_images.animated_gif(tmp_path))
    assert tuple(np.asarray(loaded.image)[5, 5]) == (255, 0, 0)
    assert any("first" in n for n in loaded.notes)


def test_one_pixel_image(tmp_path):
    loaded = load_image(bad_images.one_pixel(tmp_path))
    assert loaded.image.size == (1, 1)
    assert tuple(np.asarray(loaded.image)[0, 0]) == (10, 200, 30)


def test_huge_photo_is_reduced_without_decoding_it_whole(tmp_path):
    path = bad_images.huge_jpeg(tmp_path)
    tracemalloc.start()
    loaded = load_image(path, max_side=2048)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert loaded.original_size == (12000, 9000)
    assert max(loaded.image.size) == 2048
    assert peak < 120e6  # the full decode alone would be 324 MB of RGB
    assert any("reduced" in n for n in loaded.notes)


def test_tensor_round_trip_is_exact(photos_dir):
    image = load_image(photos_dir / "chelsea.png").image
    batch = pil_to_tensor(image)
    assert batch.shape == (1, 3, image.size[1], image.size[0])
    assert 0.0 <= float(batch.min()) and float(batch.max()) <= 1.0
    assert np.array_equal(np.asarray(tensor_to_pil(batch)), np.asarray(image))


def test_expand_paths_lists_folder_images(tmp_path, photos_dir):
    paths = expand_paths([photos_dir, tmp_path / "x.png"])
    names = [p.name for p in paths]
    assert "astronaut.png" in names and "LICENSE.md" not in names and names[-1] == "x.png"
