"""A VMS checkpoint's vms.json is checked against limits and against its weights before anything is built.

Reproduces the b9800b5 report: a vms.json claiming 4096 channels beside small weights (its hash still
valid) made ``load_generator`` build ~14 GB of layers for 97 s before the weights were compared.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from bounded import run_bounded
from test_vms import tiny_config

from memstudio.core.errors import CheckpointError
from memstudio.core.maps.vms import build_networks
from memstudio.core.maps.vms_checkpoint import META_NAME, load_generator, read_checkpoint, save_checkpoint


def _checkpoint(folder: Path) -> Path:
    config = tiny_config()
    generator, discriminator = build_networks(config)
    optimizers = {"g": torch.optim.Adam(generator.parameters(), lr=1e-3)}
    return save_checkpoint(folder, config, generator, discriminator, optimizers, {"epoch": 1})


def _edit_config(folder: Path, **changes: object) -> None:
    meta = json.loads((folder / META_NAME).read_text())
    meta["config"].update(changes)
    (folder / META_NAME).write_text(json.dumps(meta))


def test_a_config_wider_than_its_weights_is_refused_within_memory(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "ckpt")
    _edit_config(
        folder,
        encoder_channels=[3, 8, 16, 4096],
        decoder_channels=[4096, 16, 8],
        discriminator_channels=[4, 8, 2048],
    )
    result = run_bounded(
        f"load_generator({str(folder)!r})",
        imports="from memstudio.core.maps.vms_checkpoint import load_generator",
        budget_mb=300,
    )
    assert result["error"] == "CheckpointError" and result["memstudio"], result
    assert "beyond any VMS network" in result["message"] and str(folder / META_NAME) in result["message"]
    assert result["seconds"] < 10


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"encoder_channels": [3, 8, 16, 40000], "decoder_channels": [40000, 16, 8]}, "beyond any VMS network"),
        ({"image_size": 1 << 20}, "beyond any VMS network"),
        ({"encoder_channels": [3, 8, 16, 64], "decoder_channels": [64, 16, 8]}, "does not fit the config"),
        ({"encoder_channels": "wide"}, "bad config"),
    ],
)
def test_config_limits_and_mismatches(changes: dict, message: str, tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "ckpt")
    _edit_config(folder, **changes)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(folder)


def test_metadata_that_is_not_an_object_or_too_large(tmp_path: Path) -> None:
    folder = _checkpoint(tmp_path / "ckpt")
    good = (folder / META_NAME).read_text()
    (folder / META_NAME).write_text("[1, 2, 3]")
    with pytest.raises(CheckpointError, match="not a memstudio VMS checkpoint"):
        read_checkpoint(folder)
    (folder / META_NAME).write_text(good + " " * (64 << 20))
    with pytest.raises(CheckpointError, match="too large"):
        read_checkpoint(folder)
    (folder / META_NAME).write_text(good)
    generator, config = load_generator(folder)
    assert config == tiny_config() and not generator.training
    umask = os.umask(0o022)
    os.umask(umask)
    assert (folder / META_NAME).stat().st_mode & 0o777 == 0o666 & ~umask
