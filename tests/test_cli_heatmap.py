"""``memstudio heatmap`` and ``memstudio vms`` run in-process, with the built-in redness assessor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memstudio.cli import main
from memstudio.core.maps.io import load_map
from memstudio.core.maps.vms_checkpoint import read_checkpoint

pytestmark = pytest.mark.usefixtures("single_thread")

OBJECT = (slice(40, 64), slice(20, 44))




@pytest.fixture
def photo(tmp_path: Path) -> Path:
    pixels = np.zeros((96, 128, 3), np.uint8)
    pixels[...] = (110, 140, 110)
    pixels[OBJECT] = (230, 30, 30)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path)
    return path


def test_heatmap_npy_peaks_on_the_red_object(photo: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "map.npy"
    code = main(
        ["heatmap", str(photo), "--assessor", "redness", "--scales", "0.5", "0.33", "-o", str(out), "--quiet"]
    )
    assert code == 0 and str(out) in capsys.readouterr().out
    heat = load_map(out)
    assert heat.shape == (96, 128) and heat.min() == 0.0 and heat.max() == 1.0
    y, x = np.unravel_index(heat.argmax(), heat.shape)
    assert OBJECT[0].start <= y < OBJECT[0].stop and OBJECT[1].start <= x < OBJECT[1].stop


@pytest.mark.parametrize("method", ["occlusion", "gradient"])
def test_heatmap_png_in_jet_and_overlay(method: str, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{method}.png"
    assert (
        main(["heatmap", str(photo), "--assessor", "redness", "--method", method, "-o", str(out), "--quiet"])
        == 0
    )
    with Image.open(out) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape == (96, 128, 3)
    colours = {tuple(c) for c in rgb.reshape(-1, 3)}
    assert (0, 0, 128) in colours or (128, 0, 0) in colours  # the jet endpoints appear
    blended = tmp_path / f"{method}-overlay.png"
    args = [
        "heatmap",
        str(photo),
        "--assessor",
        "redness",
        "--method",
        method,
        "--overlay",
        "--opacity",
        "0.4",
    ]
    assert main([*args, "-o", str(blended), "--quiet"]) == 0
    with Image.open(blended) as im, Image.open(photo) as original:
        mixed, base = np.asarray(im, np.int16), np.asarray(original, np.int16)
    assert mixed.shape == base.shape and 0 < np.abs(mixed - base).mean() < 0.4 * 255


def test_heatmap_errors_exit_2(photo: Path, tmp_path: Path, capsys) -> None:
    assert main(["heatmap", str(photo), "--assessor", "redness", "-o", str(tmp_path / "m.jpg")]) == 2
    assert main(["heatmap", str(photo), "--assessor", "no-such", "-o", str(tmp_path / "m.npy")]) == 2
    assert main(["heatmap", str(photo), "--method", "vms", "-o", str(tmp_path / "m.npy")]) == 2
    assert (
        main(
            ["heatmap", str(tmp_path / "missing.png"), "--assessor", "redness", "-o", str(tmp_path / "m.npy")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "m.jpg" in err and "no-such" in err and "--vms-checkpoint" in err and "missing.png" in err


def test_vms_train_predict_and_heatmap_method(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "maps").mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(data / "images" / f"{i}.jpg")
        np.save(data / "maps" / f"{i}.npy", rng.random((32, 32)).astype(np.float32))
    ckpt = tmp_path / "ckpt"
    layout = ["--encoder", "3,8,16", "--disc-channels", "4,8,16", "--image-size", "32", "--batch-size", "4"]
    assert main(["vms", "train", str(data), "-o", str(ckpt), "--epochs", "1", *layout, "--quiet"]) == 0
    assert main(["vms", "train", str(data), "-o", str(ckpt), "--epochs", "2", "--resume", "--quiet"]) == 0
    config, meta, _ = read_checkpoint(ckpt)
    assert meta["epoch"] == 2 and config.encoder_channels == (3, 8, 16) and config.decoder_channels == (16, 8)
    assert "val L1" in capsys.readouterr().out
    image = data / "images" / "0.jpg"
    assert main(["vms", "predict", str(ckpt), str(image), "-o", str(tmp_path / "p.npy")]) == 0
    predicted = load_map(tmp_path / "p.npy")
    assert predicted.shape == (32, 32) and 0.0 <= predicted.min() <= predicted.max() <= 1.0
    out = tmp_path / "v.npy"
    assert (
        main(
            [
                "heatmap",
                str(image),
                "--method",
                "vms",
                "--vms-checkpoint",
                str(ckpt),
                "-o",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    heat = load_map(out)
    assert heat.min() == 0.0 and heat.max() == 1.0
    assert np.corrcoef(heat.ravel(), predicted.ravel())[0, 1] > 0.99  # the same map, normalised
    assert main(["vms", "train", str(tmp_path / "nope"), "-o", str(tmp_path / "x"), "--quiet"]) == 2


def test_emphasis_prints_what_the_studios_emphasis_check_returns(photo: Path, tmp_path: Path, capsys) -> None:
    """``--emphasis`` is the heatmap dock's Emphasis check (paper 004 §5) of the map the CLI computes."""
    from memstudio.cli.commands.heatmap import emphasis_line
    from memstudio.core.imaging import load_image, pil_to_tensor
    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.heatmaps import EmphasisCheck

    out = tmp_path / "map.npy"
    args = ["heatmap", str(photo), "--assessor", "redness", "--scales", "0.5", "--emphasis", "-o", str(out)]
    assert main([*args, "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    image = pil_to_tensor(load_image(photo).image)
    result = EmphasisCheck(image, load_map(out), "redness", 0, 16).run(Pipeline("cpu"))
    assert printed == [str(out), emphasis_line("redness", result["scores"], result["order_holds"])]
    # The map peaks on the red object, so keeping that half detailed keeps the redness.
    assert result["order_holds"] and "high > medium > low holds" in printed[1]
    assert main(["heatmap", str(photo), "--assessor", "redness", "--emphasis", "--overlay"]) == 2
