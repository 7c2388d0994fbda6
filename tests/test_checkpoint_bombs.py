"""Every torch.load path refuses a zip bomb from the archive's directory, before torch inflates a member."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from memstudio.core.assessors.imported import _peek_torch
from memstudio.core.directions.ganalyze import _read_checkpoint
from memstudio.core.errors import CheckpointError


def _bomb(folder: Path) -> Path:
    """A genuine small checkpoint whose storage member is swapped for 256 MiB of zeros deflated to ~0.25 MB."""
    good = folder / "good.pt"
    torch.save({"version": 2, "theta": torch.zeros(4)}, good)
    bomb = folder / "bomb.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            if "/data/" in info.filename:
                with dst.open(info.filename, "w", force_zip64=True) as member:
                    for _ in range(64):
                        member.write(bytes(4 << 20))
            else:
                dst.writestr(info.filename, src.read(info.filename), zipfile.ZIP_STORED)
    assert bomb.stat().st_size < 2_000_000
    return bomb


def test_a_ganalyze_checkpoint_bomb_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"GANalyze checkpoint.*bomb\.pt"):
        _read_checkpoint(_bomb(tmp_path), (4,), "key")


def test_an_assessor_file_bomb_is_not_mapped(tmp_path):
    assert _peek_torch(_bomb(tmp_path)) is None
    good = tmp_path / "good.pt"
    assert torch.equal(_peek_torch(good)["theta"], torch.zeros(4))
