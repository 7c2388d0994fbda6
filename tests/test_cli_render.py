"""``memstudio import-model`` and ``memstudio render``: PNGs byte-equal to the official quantisation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_biggan import tiny_biggan_folder
from test_model_store import _random_stylegan, write_nvidia_pickle

from memstudio.cli import main
from memstudio.cli.commands.render import output_paths, parse_seeds, to_png_uint8
from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import MemstudioError
from memstudio.core.generators import store
from memstudio.core.generators.biggan import load_biggan_folder, truncated_noise_sample

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(cache))
    monkeypatch.setenv("MEMSTUDIO_DEVICE", "cpu")
    return cache


@pytest.fixture(scope="module")
def biggan_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_biggan_folder(tmp_path_factory.mktemp("src") / "biggan-tiny", seed=21)


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGB"
        return np.asarray(im)


def test_nvidia_quantisation_by_hand() -> None:
    raw = torch.tensor([-5.0, -1.0, -0.5, 0.0, 0.5, 0.999, 1.0, 5.0]).view(1, 1, 1, 8).expand(1, 3, 1, 8)
    # x * 127.5 + 128, clamped to [0, 255], truncated toward zero by the uint8 cast.
    expected = [0, 0, 64, 128, 191, 255, 255, 255]
    assert to_png_uint8(raw)[0, 0, :, 0].tolist() == expected


def test_seed_ranges_and_output_names(tmp_path: Path) -> None:
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seeds("4294967295") == [2**32 - 1]
    for bad in ("3-1", "x", "", "4294967296", "-1"):
        with pytest.raises(MemstudioError):
            parse_seeds(bad)
    assert output_paths("a/out.png", [5]) == [Path("a/out.png")]
    assert output_paths("a/out.png", [5, 12]) == [Path("a/out-seed0005.png"), Path("a/out-seed0012.png")]
    assert output_paths("a/img{seed}.png", [5]) == [Path("a/img5.png")]
    assert output_paths(str(tmp_path), [3]) == [tmp_path / "seed0003.png"]


def test_import_model_prints_what_was_stored(
    biggan_folder: Path, private_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-model", str(biggan_folder), "--name", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "name:       tiny" in out and "family:     biggan" in out
    assert "resolution: 32" in out and "num_ws:     0" in out
    assert sha256_file(biggan_folder / "pytorch_model.bin") in out
    assert str(private_cache / "models" / "tiny") in out
    assert [m.name for m in store.list_models()] == ["tiny"]


def test_render_biggan_matches_the_package_call_quantised_like_nvidia(
    biggan_folder: Path, tmp_path: Path
) -> None:
    main(["import-model", str(biggan_folder), "--name", "tiny"])
    out = tmp_path / "out.png"
    args = ["render", "--generator", "tiny", "--seed", "9", "--trunc", "0.4", "--class", "golden retriever"]
    assert main([*args, "-o", str(out)]) == 0
    model = load_biggan_folder(biggan_folder)
    z = torch.from_numpy(truncated_noise_sample(batch_size=1, dim_z=16, truncation=0.4, seed=9))
    one_hot = torch.zeros(1, 1000)
    one_hot[0, 207] = 1
    with torch.no_grad():
        raw = model(z, one_hot, 0.4)
    expected = (raw.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
    np.testing.assert_array_equal(_png(out), expected)
    # Same seed by class index and by the folder path: the same file content.
    again = tmp_path / "again.png"
    args = ["render", "--generator", str(biggan_folder), "--seed", "9", "--trunc", "0.4", "--class", "207"]
    assert main([*args, "-o", str(again)]) == 0
    np.testing.assert_array_equal(_png(again), expected)


def test_render_several_seeds(biggan_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "grid"
    folder.mkdir()
    args = ["render", "--generator", str(biggan_folder), "--seeds", "1-2,5", "--trunc", "0.5"]
    assert main([*args, "-o", str(folder)]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["seed0001.png", "seed0002.png", "seed0005.png"]
    assert not np.array_equal(_png(folder / "seed0001.png"), _png(folder / "seed0002.png"))


def test_fp32_flag_on_a_generator_without_fp16_layers_says_so(
    biggan_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["render", "--generator", str(biggan_folder), "--seed", "3"]
    assert main([*args, "-o", str(tmp_path / "plain.png")]) == 0
    assert main([*args, "--fp32", "-o", str(tmp_path / "fp32.png")]) == 0
    assert "has no fp16 layers" in capsys.readouterr().err
    np.testing.assert_array_equal(_png(tmp_path / "plain.png"), _png(tmp_path / "fp32.png"))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--trunc", "1.5"], "truncation"),
        (["--class", "unicorn"], "no ImageNet class"),
        (["--class", "1000"], "outside"),
        (["--seed", "-4"], "2³²"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    biggan_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["render", "--generator", str(biggan_folder), "-o", str(tmp_path / "x.png")]
    if "--seed" not in extra:
        args += ["--seed", "1"]
    assert main(args + extra) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_missing_generator_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--generator", "not-imported", "--seed", "1", "-o", str(tmp_path / "x.png")]) == 2
    assert "import-model" in capsys.readouterr().err
    junk = tmp_path / "junk.pkl"
    junk.write_text("plain text")
    assert main(["import-model", str(junk)]) == 2
    assert "not a generator checkpoint" in capsys.readouterr().err


def test_render_stylegan2_is_bit_identical_to_the_official_formula(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if importlib.util.find_spec("memstudio.core.generators.nvidia_pickle") is None:
        pytest.skip("memstudio.core.generators.nvidia_pickle is not available yet")
    generator = _random_stylegan("stylegan2")  # conditional, 4 classes
    pkl = write_nvidia_pickle(generator, tmp_path / "ffhq-tiny.pkl", monkeypatch)
    assert main(["import-model", str(pkl), "--name", "sg2"]) == 0
    out = capsys.readouterr().out
    assert "family:     stylegan2" in out and f"num_ws:     {generator.num_ws}" in out
    for noise in ("const", "none"):
        png = tmp_path / f"{noise}.png"
        args = "render --generator sg2 --seed 42 --trunc 0.7 --class 1 --noise".split()
        assert main([*args, noise, "-o", str(png)]) == 0
        # generate.py: z = RandomState(seed).randn(1, z_dim); img = G(z, c, psi, noise_mode); quantise.
        z = torch.from_numpy(np.random.RandomState(42).randn(1, 32))
        c = torch.zeros(1, 4)
        c[0, 1] = 1
        with torch.no_grad():
            img = generator(z, c, truncation_psi=0.7, noise_mode=noise)
        expected = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy()
        np.testing.assert_array_equal(_png(png), expected)
    assert not np.array_equal(_png(tmp_path / "const.png"), _png(tmp_path / "none.png"))
    # --fp32 matters on a GPU only: on the CPU every layer is float32 already, so the pixels are the same.
    args = "render --generator sg2 --seed 42 --trunc 0.7 --class 1 --noise const --fp32 -o".split()
    assert main([*args, str(tmp_path / "fp32.png")]) == 0
    np.testing.assert_array_equal(_png(tmp_path / "fp32.png"), _png(tmp_path / "const.png"))
