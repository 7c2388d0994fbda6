"""Importing assessor files through the CLI: recognised by content, stored safely, listed, scored, refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from keras_files import nima_layers, write_keras_weights
from PIL import Image
from test_biggan import tiny_biggan_folder

from memstudio.cli import main
from memstudio.core.assessors import imported, nima, registry
from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import CheckpointError, MemstudioError, ModelUnavailableError
from memstudio.core.generators.importing import import_model
from memstudio.core.generators.opening import open_generator

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "photos" / "coffee.png"


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(cache))
    monkeypatch.setattr(registry, "_cache", {})  # assessors built against another test's cache must not leak
    return cache


@pytest.fixture(scope="module")
def nima_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("idealo") / "weights_mobilenet_aesthetic_0.07.hdf5"
    return write_keras_weights(path, nima_layers(seed=2))


def _models(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, str]]:
    assert main(["models", "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out) if row["kind"] == "assessor"}


def test_models_lists_the_paper_assessors_as_unavailable_with_where_to_get_them(capsys):
    rows = _models(capsys)
    assert rows["nima"]["status"] == "not available"
    assert "idealo" in rows["nima"]["detail"] and "import-model" in rows["nima"]["detail"]
    assert rows["nima"]["licence"].startswith("Apache-2.0")
    assert rows["memnet"]["status"] == rows["emonet"]["status"] == "not available"
    with pytest.raises(ModelUnavailableError, match="idealo"):
        registry.load_assessor("nima")


def test_import_nima_then_list_and_score(nima_file: Path, private_cache: Path, capsys):
    before = nima_file.read_bytes()
    assert main(["import-model", str(nima_file), "--name", "nima"]) == 0
    out = capsys.readouterr().out
    assert "assessor:   nima" in out
    folder = imported.assessors_dir() / "nima"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.safetensors"]
    record = json.loads((folder / "config.json").read_text())
    assert record["family"] == "nima" and record["source_sha256"] == sha256_file(nima_file)
    assert nima_file.read_bytes() == before, "the input file is never modified"
    assert not [p for p in imported.assessors_dir().iterdir() if p.name.startswith(".")], "no staging left"
    rows = _models(capsys)
    assert rows["nima"]["status"] == "available"
    assert main(["score", "-a", "nima", "--json", str(PHOTO)]) == 0
    scored = json.loads(capsys.readouterr().out.strip())
    direct = nima.build(*nima.read_source(nima_file), None)
    from memstudio.core.imaging import load_image

    loaded = load_image(PHOTO)
    expected = float(direct.score(direct.prepare_image(loaded.image))[0])
    assert scored["scores"]["nima"] == pytest.approx(expected, abs=1e-5)
    assessor = registry.load_assessor("nima")
    assert assessor.property == "aesthetics" and assessor.checkpoint_hash == sha256_file(nima_file)


def test_score_gives_nima_standard_deviation_beside_the_mean(nima_file: Path, tmp_path: Path, capsys):
    """`score --json` has NIMA's std and distribution under details, the table "mean ± std", both as the
    network computes them, one file per batch and two (brightness, beside it, has no details: its inputs of
    two sizes are scored one by one)."""
    assert main(["import-model", str(nima_file), "--name", "nima"]) == 0
    capsys.readouterr()
    small = tmp_path / "small.png"
    with Image.open(PHOTO) as im:
        im.convert("RGB").resize((97, 61)).save(small)
    photos = [PHOTO, small]
    direct = nima.build(*nima.read_source(nima_file), None)
    from memstudio.core.imaging import load_image

    expected = []
    for photo in photos:
        mean, std = direct.mean_std(direct.prepare_image(load_image(photo).image))
        expected.append((float(mean[0]), float(std[0])))
    assert abs(expected[0][1] - expected[1][1]) > 1e-4, "the two files must differ in spread"
    for batch in ("1", "2"):
        args = ["score", "-a", "nima", "-a", "brightness", "--json", "--batch-size", batch, *map(str, photos)]
        assert main(args) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        for row, (mean, std) in zip(rows, expected, strict=True):
            assert row["scores"]["nima"] == pytest.approx(mean, abs=1e-5)
            details = row["details"]["nima"]
            assert details["std"] == pytest.approx(std, abs=1e-5)
            p = np.asarray(details["distribution"])
            assert p.shape == (10,) and p.sum() == pytest.approx(1.0, abs=1e-4)
            assert float(p @ np.arange(1, 11)) == pytest.approx(mean, abs=1e-4)
            assert "brightness" not in row["details"]
    assert main(["score", "-a", "nima", str(PHOTO)]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header == "path\tnima"
    assert line.split("\t")[1] == f"{expected[0][0]:.3f} ± {expected[0][1]:.3f}"


def test_import_under_own_name_is_listed_and_loadable(nima_file: Path, capsys):
    assert main(["import-model", str(nima_file), "--name", "aesthetics-idealo"]) == 0
    capsys.readouterr()
    rows = _models(capsys)
    assert rows["aesthetics-idealo"]["status"] == "available"
    assert rows["nima"]["status"] == "available"  # the family entry finds its latest import
    assessor = registry.load_assessor("aesthetics-idealo")
    assert assessor.name == "aesthetics-idealo" and assessor.describe()["property"] == "aesthetics"


def test_name_taken_by_another_file_needs_replace(tmp_path: Path, nima_file: Path, capsys):
    other = write_keras_weights(tmp_path / "other.hdf5", nima_layers(seed=9))
    assert main(["import-model", str(nima_file), "--name", "nima"]) == 0
    assert main(["import-model", str(other), "--name", "nima"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert json.loads((imported.assessors_dir() / "nima" / "config.json").read_text())["source_sha256"] == (
        sha256_file(nima_file)
    )
    assert main(["import-model", str(other), "--name", "nima", "--replace"]) == 0
    assert json.loads((imported.assessors_dir() / "nima" / "config.json").read_text())["source_sha256"] == (
        sha256_file(other)
    )


def test_bad_hdf5_is_refused_and_nothing_is_stored(tmp_path: Path, nima_file: Path, capsys):
    data = nima_file.read_bytes()
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(data[: len(data) // 2])
    assert main(["import-model", str(cut), "--name", "nima"]) == 2
    err = capsys.readouterr().err
    assert "cut.hdf5" in err and ("truncated" in err or "corrupted" in err)
    layers = [layer for layer in nima_layers(seed=2) if layer[0] != "conv_dw_7"]
    other = write_keras_weights(tmp_path / "other-net.hdf5", layers)
    assert main(["import-model", str(other)]) == 2
    assert "missing layer 'conv_dw_7'" in capsys.readouterr().err
    assert list(imported.assessors_dir().iterdir()) == []


def test_assessor_files_where_a_generator_is_expected_and_the_reverse(tmp_path: Path, nima_file: Path, capsys):
    with pytest.raises(CheckpointError, match="Keras HDF5.*assessor.*import-model"):
        open_generator(nima_file)
    imported.import_assessor(nima_file, name="nima")
    with pytest.raises(ModelUnavailableError, match="'nima' is an imported assessor, not a generator"):
        open_generator("nima")
    from test_memnet_emonet import emonet_network

    pth = tmp_path / "emonet.pth"
    torch.save(emonet_network().state_dict(), pth)
    with pytest.raises(CheckpointError, match="emonet assessor state dict.*import-model"):
        open_generator(pth)
    import pickle

    from test_memnet_emonet import memnet_state

    plain = tmp_path / "memnet_state_dict.p"
    plain.write_bytes(pickle.dumps(memnet_state(), protocol=4))
    with pytest.raises(CheckpointError, match="memnet assessor state dict.*import-model"):
        open_generator(plain)
    folder = tiny_biggan_folder(tmp_path / "biggan-tiny", seed=3)
    import_model(folder, name="tiny-gan")
    with pytest.raises(MemstudioError, match="'tiny-gan' is an imported generator, not an assessor"):
        registry.load_assessor("tiny-gan")


def test_memnet_import_needs_its_mean_and_takes_it_from_the_cli(tmp_path: Path, capsys):
    from scipy.io import savemat
    from test_memnet_emonet import memnet_mean, memnet_state

    pth = tmp_path / "memnet.pth"
    torch.save(memnet_state(), pth)
    assert main(["import-model", str(pth)]) == 2
    assert "--mean" in capsys.readouterr().err
    assert list(imported.assessors_dir().iterdir()) == []
    savemat(tmp_path / "memnet_mean.mat", {"image_mean": memnet_mean()})
    assert main(["import-model", str(pth), "--mean", str(tmp_path / "memnet_mean.mat")]) == 0
    assert "assessor:   memnet" in capsys.readouterr().out
    assert _models(capsys)["memnet"]["status"] == "available"
    assessor = registry.load_assessor("memnet")
    assert assessor.property == "memorability"
    assert torch.equal(assessor.image_mean[0], torch.from_numpy(memnet_mean()).permute(2, 0, 1))


def test_corrupted_stored_weights_and_non_assessor_torch_files(tmp_path: Path, nima_file: Path):
    record = imported.import_assessor(nima_file, name="nima")
    weights = record.path / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"weights\.safetensors.*(truncated|corrupted)"):
        registry.load_assessor("nima")
    import argparse

    ros = tmp_path / "550000.pt"
    torch.save({"g_ema": {"style.1.weight": torch.zeros(2, 2)}, "args": argparse.Namespace(size=8)}, ros)
    assert imported.identify_assessor_file(ros) is None  # left to the generator loaders
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "other.pth")
    assert imported.identify_assessor_file(tmp_path / "other.pth") is None
