"""Device choice and the float32 policy for scores."""

from __future__ import annotations

import pytest
import torch

from memstudio.core.device import default_device, describe, tf32


def test_memstudio_device_variable_wins(monkeypatch):
    monkeypatch.setenv("MEMSTUDIO_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    assert describe(torch.device("cpu")).startswith("CPU (")


def test_tf32_context_sets_and_restores_the_flags():
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = cudnn.allow_tf32, matmul.allow_tf32
    cudnn.allow_tf32 = matmul.allow_tf32 = True
    try:
        with pytest.raises(RuntimeError, match="failing scorer"), tf32(False):
            assert not cudnn.allow_tf32 and not matmul.allow_tf32
            raise RuntimeError("a failing scorer")
        assert cudnn.allow_tf32 and matmul.allow_tf32
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = saved
