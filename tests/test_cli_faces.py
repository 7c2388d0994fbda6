"""``memstudio align`` and ``memstudio invert`` end to end (real MTCNN/dlib, tiny stored StyleGAN2)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from memstudio.cli import main
from memstudio.core.faces.latent_file import load_latent

ASTRONAUT = Path(__file__).resolve().parents[1] / "assets" / "photos" / "astronaut.png"


@pytest.fixture()
def astronaut_path() -> Path:
    if not ASTRONAUT.is_file():
        pytest.skip(f"{ASTRONAUT} is missing (sample photos not installed)")
    return ASTRONAUT


def store_tiny_stylegan2(tmp_path: Path, monkeypatch) -> str:
    """A 16-px StyleGAN2 with seeded random weights, saved in memstudio's model store under tmp_path."""
    from memstudio.core.generators import store
    from memstudio.core.generators.stylegan2 import StyleGAN2Generator

    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    torch.manual_seed(0)
    g = StyleGAN2Generator(
        z_dim=16,
        c_dim=0,
        w_dim=16,
        img_resolution=16,
        synthesis_kwargs=dict(channel_base=256, channel_max=16),
        mapping_kwargs=dict(num_layers=2),
    )
    source = tmp_path / "tiny.pkl"
    source.write_bytes(b"stand-in source name")
    store.save_model(g, "tinyface", source_file=source, source_sha256=hashlib.sha256(b"tiny").hexdigest())
    return "tinyface"


def test_align_writes_the_face_and_prints_landmarks(tmp_path, astronaut_path, capsys, monkeypatch):
    out = tmp_path / "aligned.png"
    assert main(["align", str(astronaut_path), "-o", str(out), "--size", "16", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert Image.open(out).size == (16, 16)
    assert len(report["faces"]) == 1 and report["face_index"] == 0
    assert report["landmarks"]["source"] == "dlib68" and len(report["landmarks"]["points"]) == 68
    assert np.asarray(report["quad"]).shape == (4, 2)
    assert np.asarray(report["transform"]).shape == (3, 3)

    name = store_tiny_stylegan2(tmp_path, monkeypatch)
    latent_path = tmp_path / "astronaut.npz"
    code = main(
        [
            "invert",
            str(out),
            "--aligned",
            "--generator",
            name,
            "--steps",
            "6",
            "-o",
            str(latent_path),
            "--quiet",
            "--device",
            "cpu",
            "--save-image",
            str(tmp_path / "recon.png"),
        ]
    )
    assert code == 0
    assert "PSNR" in capsys.readouterr().out
    latent = load_latent(latent_path)
    assert latent.space == "w+" and latent.label == "aligned" and latent.extras["steps"] == 6
    assert latent.extras["generator"]["name"] == "tinyface"
    assert Image.open(tmp_path / "recon.png").size == (16, 16)


def test_face_errors_exit_with_a_message(tmp_path, capsys):
    gradient = tmp_path / "gradient.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 200, dtype=np.uint8), (200, 1))).convert("RGB").save(gradient)
    assert main(["align", str(gradient), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "gradient.png" in err and "no face found" in err
    assert main(["align", str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "x.png")]) == 2
    assert "no such file" in capsys.readouterr().err
