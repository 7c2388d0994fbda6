"""rosinality stylegan2-pytorch checkpoints: layout conversion both ways, loading, and bad files."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from memstudio.core.errors import CheckpointError
from memstudio.core.generators.rosinality import (
    _channel_config,
    estimate_w_avg,
    load_rosinality,
    nvidia_to_rosinality,
    rosinality_to_nvidia,
)
from memstudio.core.generators.stylegan2 import StyleGAN2Generator

pytestmark = pytest.mark.usefixtures("single_thread")




def tiny_generator() -> StyleGAN2Generator:
    # rosinality's layout: unconditional, skip, no clamping, lr_mlp 0.01.
    g = StyleGAN2Generator(
        32, 0, 32, 16, 3, {"num_layers": 3}, {"channel_base": 256, "channel_max": 32, "conv_clamp": None}
    )
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.3 if p.ndim <= 1 else 1.0))
        g.mapping.w_avg.copy_(torch.randn(32, generator=gen) * 0.3)
    return g.eval()


def _images(g: StyleGAN2Generator, truncation: float) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([g.render(g.sample(seed, truncation)) for seed in (0, 8)])


def test_rosinality_layout_facts():
    ros = nvidia_to_rosinality(tiny_generator())
    assert ros["input.input"].shape == (1, 32, 4, 4)
    assert ros["style.1.weight"].shape == (32, 32) and "style.3.bias" in ros and "style.0.weight" not in ros
    assert ros["conv1.conv.weight"].shape == (1, 32, 32, 3, 3)
    assert ros["convs.2.conv.weight"].shape == (1, 16, 32, 3, 3)  # b16 conv0: 32 → 16 channels
    assert ros["convs.0.conv.blur.kernel"].sum().item() == pytest.approx(4.0)
    assert ros["to_rgbs.1.bias"].shape == (1, 3, 1, 1) and ros["to_rgbs.1.upsample.kernel"].shape == (4, 4)
    assert [ros[f"noises.noise_{i}"].shape[-1] for i in range(5)] == [4, 8, 8, 16, 16]
    assert ros["conv1.noise.weight"].shape == (1,)
    cfg, nv = rosinality_to_nvidia(ros)
    assert cfg["mapping_kwargs"] == {"num_layers": 3, "lr_multiplier": 0.01} and cfg["img_resolution"] == 16
    assert nv["synthesis.b8.conv0.noise_const"].shape == (8, 8) and nv["synthesis.b16.torgb.bias"].shape == (
        3,
    )


def test_round_trip_renders_identical_images(tmp_path):
    g = tiny_generator()
    path = tmp_path / "ros.pt"
    torch.save(
        {
            "g_ema": nvidia_to_rosinality(g),
            "latent_avg": g.w_avg.clone(),
            "args": argparse.Namespace(size=16, n_mlp=3),
        },
        path,
    )
    loaded = load_rosinality(path)
    assert loaded.config()["synthesis_kwargs"]["channel_base"] == 256
    assert loaded.num_ws == g.num_ws and loaded.resolution == 16
    for key, value in g.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert torch.equal(_images(loaded, 0.7), _images(g, 0.7))
    assert len(loaded.checkpoint_hash) == 64


def test_missing_latent_avg_is_estimated_reproducibly(tmp_path):
    g = tiny_generator()
    path = tmp_path / "bare.pt"
    torch.save({"g_ema": nvidia_to_rosinality(g)}, path)
    loaded = load_rosinality(path)
    assert torch.allclose(loaded.w_avg, estimate_w_avg(g), atol=1e-6)
    assert torch.equal(load_rosinality(path).w_avg, loaded.w_avg)
    assert torch.equal(_images(loaded, 1.0), _images(g, 1.0))  # ψ = 1 does not use w_avg


def test_channel_multiplier_layouts_map_to_channel_base():
    # rosinality: 512 channels up to 32 px, then 256·m, 128·m, 64·m, 32·m, 16·m for m = channel_multiplier.
    for multiplier, base in ((1, 16384), (2, 32768)):
        channels = {4: 512, 8: 512, 16: 512, 32: 512}
        channels.update(
            {64: 256 * multiplier, 128: 128 * multiplier, 256: 64 * multiplier, 1024: 16 * multiplier}
        )
        assert _channel_config(channels, "x.pt") == (base, 512)
    with pytest.raises(CheckpointError, match="channel rule"):
        _channel_config({4: 32, 8: 20, 16: 20}, "odd.pt")


def test_bad_rosinality_files(tmp_path):
    ros = nvidia_to_rosinality(tiny_generator())
    missing = dict(ros)
    del missing["convs.1.activate.bias"]
    torch.save({"g_ema": missing}, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match=r"missing\.pt: .*missing tensor convs\.1\.activate\.bias"):
        load_rosinality(tmp_path / "missing.pt")

    torch.save({"g_ema": {**ros, "extra.weight": torch.zeros(1)}}, tmp_path / "extra.pt")
    with pytest.raises(CheckpointError, match=r"unexpected tensors .*extra\.weight"):
        load_rosinality(tmp_path / "extra.pt")

    torch.save({"d": {"convs.0.0.weight": torch.zeros(1)}}, tmp_path / "d.pt")
    with pytest.raises(CheckpointError, match="no g_ema"):
        load_rosinality(tmp_path / "d.pt")

    good = tmp_path / "good.pt"
    torch.save({"g_ema": ros}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"cut\.pt"):
        load_rosinality(cut)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_in_a_pt_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"g_ema": nvidia_to_rosinality(tiny_generator()), "hook": _Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_rosinality(path)
    assert not marker.exists()
