"""StyleGAN2 / StyleGAN2-ADA: reproduces the official code's outputs for reference weights, and the
generator API (seeds, spaces, truncation, noise modes, architectures, configs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from memstudio.core.errors import MemstudioError
from memstudio.core.generators.base import Latent
from memstudio.core.generators.stylegan2 import StyleGAN2Generator, modulated_conv2d

pytestmark = pytest.mark.usefixtures("single_thread")

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "formats" / "reference"
TOL = 1e-4




def _reference(name: str) -> tuple[StyleGAN2Generator, dict[str, np.ndarray], dict[str, np.ndarray]]:
    if not (REFERENCE / f"{name}.G_ema.npz").is_file():
        pytest.skip(f"reference data not found under {REFERENCE}")
    cfg = json.loads((REFERENCE / f"{name}.init_kwargs.json").read_text())
    tensors = dict(np.load(REFERENCE / f"{name}.G_ema.npz", allow_pickle=False))
    outputs = dict(np.load(REFERENCE / f"{name}.outputs.npz", allow_pickle=False))
    g = StyleGAN2Generator.from_config(cfg).eval()
    g.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    return g, tensors, outputs


def _tiny(c_dim: int = 0, resolution: int = 16, **synthesis) -> StyleGAN2Generator:
    g = StyleGAN2Generator(
        32, c_dim, 32, resolution, 3, {"num_layers": 2}, {"channel_base": 256, "channel_max": 32, **synthesis}
    )
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.3 if p.ndim <= 1 else 1.0))
        g.mapping.w_avg.copy_(torch.randn(32, generator=gen) * 0.3)
    return g.eval()


def test_reproduces_official_sg2ada_outputs_seed_by_seed():
    g, tensors, out = _reference("sg2ada-64-uncond")
    assert set(g.state_dict()) == set(tensors)
    assert g.num_ws == int(out["num_ws"]) == 10
    assert torch.equal(g.w_avg, torch.from_numpy(out["w_avg"]))
    with torch.no_grad():
        for i, seed in enumerate(out["seeds"].tolist()):
            z = g.seed_z(seed)
            assert np.array_equal(z.numpy(), out["z"][i : i + 1])
            for psi in ("1", "0.7"):
                ws = g.mapping(z, None, truncation_psi=float(psi))
                assert np.abs(ws.numpy() - out[f"ws_psi{psi}"][i : i + 1]).max() <= TOL
            img = g.synthesis_raw(torch.from_numpy(out["ws_psi1"][i : i + 1]), noise_mode="const")
            assert np.abs(img.numpy() - out["img_psi1"][i : i + 1]).max() <= TOL, seed
            # G(z) at psi 0.7; officially img_psi0.7 (synthesis of ws_psi0.7) equals img_G_psi0.7 bit for bit.
            img = g(z, None, truncation_psi=0.7, noise_mode="const")
            assert np.abs(img.numpy() - out["img_G_psi0.7"][i : i + 1]).max() <= TOL, seed
            assert np.abs(img.numpy() - out["img_psi0.7"][i : i + 1]).max() <= TOL, seed
            # The studio path: sample() gives w+ of the same seed, render() maps to [0, 1].
            latent = g.sample(seed, truncation=0.7)
            assert latent.space == "w+" and latent.values.shape == (1, 10, 512)
            assert np.abs(latent.values.numpy() - out["ws_psi0.7"][i : i + 1]).max() <= TOL
        expected = (np.clip(out["img_psi0.7"][i : i + 1], -1, 1) + 1) / 2
        assert np.abs(g.render(latent).numpy() - expected).max() <= TOL


@pytest.mark.parametrize(("resolution", "num_ws"), [(64, 10), (256, 14), (512, 16), (1024, 18)])
def test_num_ws_follows_resolution(resolution, num_ws):
    g = StyleGAN2Generator(
        8, 0, 8, resolution, 3, {"num_layers": 1}, {"channel_base": 2048, "channel_max": 8}
    )
    assert g.num_ws == num_ws == 2 * int(np.log2(resolution)) - 2
    assert g.synthesis.block_resolutions[-1] == resolution


def test_fused_and_unfused_modulated_conv_agree():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(3, 8, 6, 6, generator=gen)
    weight = torch.randn(5, 8, 3, 3, generator=gen)
    styles = torch.randn(3, 8, generator=gen)
    noise = torch.randn(1, 1, 12, 12, generator=gen)
    f = torch.outer(torch.tensor([1.0, 3, 3, 1]), torch.tensor([1.0, 3, 3, 1]))
    f = f / f.sum()
    for up, pad, flip in ((1, 1, True), (2, 1, False)):
        n = noise if up == 2 else noise[..., :6, :6]
        fused = modulated_conv2d(
            x, weight, styles, n, up=up, padding=pad, resample_filter=f, flip_weight=flip
        )
        plain = modulated_conv2d(
            x, weight, styles, n, up=up, padding=pad, resample_filter=f, flip_weight=flip, fused_modconv=False
        )
        assert fused.shape == (3, 5, 6 * up, 6 * up)
        assert torch.allclose(fused, plain, atol=1e-5)
        # One sample alone gives the same rows as the batch.
        single = modulated_conv2d(
            x[1:2], weight, styles[1:2], n, up=up, padding=pad, resample_filter=f, flip_weight=flip
        )
        assert torch.allclose(single, fused[1:2], atol=1e-5)


def test_spaces_truncation_and_noise_modes():
    g = _tiny()
    latent = g.sample(11, truncation=0.5)
    z = latent.extras["z"]
    assert torch.equal(z, torch.from_numpy(np.random.RandomState(11).randn(1, 32)).float())
    z_latent = Latent("z", z, seed=11, truncation=0.5)
    w = g.convert(z_latent, "w")
    assert w.values.shape == (1, 32)
    assert torch.allclose(g.convert(w, "w+").values, latent.values)
    with torch.no_grad():
        img = g.render(latent)
        assert img.shape == (1, 3, 16, 16) and 0 <= img.min() and img.max() <= 1
        assert torch.allclose(g.render(z_latent), img, atol=1e-6)
        assert torch.allclose(g.render(w), img, atol=1e-6)
        # Truncation with a cutoff only touches the first rows.
        g.truncation_cutoff = 2
        cut = g.sample(11, truncation=0.5).values
        full = g.sample(11, truncation=1.0).values
        assert torch.allclose(cut[:, :2], latent.values[:, :2]) and torch.allclose(cut[:, 2:], full[:, 2:])
        g.truncation_cutoff = None
        # Noise: const is reproducible, random is not, none removes it.
        const = g.synthesis_raw(latent.values, "const")
        assert torch.equal(const, g.synthesis_raw(latent.values, "const"))
        assert not torch.equal(
            g.synthesis_raw(latent.values, "random"), g.synthesis_raw(latent.values, "random")
        )
        assert not torch.allclose(g.synthesis_raw(latent.values, "none"), const)
        g.noise_mode = "none"
        assert torch.equal(g.synthesis_raw(latent.values), g.synthesis_raw(latent.values, "none"))
    with pytest.raises(ValueError, match="noise_mode"):
        g.synthesis_raw(latent.values, "loud")
    with pytest.raises(ValueError, match="cannot convert"):
        g.convert(latent, "z")


def test_w_plus_gradients_reach_the_latent():
    g = _tiny()
    latent = g.sample(2, 0.8)
    values = latent.values.clone().requires_grad_(True)
    g.render(latent.with_values(values)).mean().backward()
    assert values.grad is not None and values.grad.abs().sum() > 0


def test_class_conditional_needs_a_class():
    g = _tiny(c_dim=4)
    assert g.num_classes == 4
    with pytest.raises(MemstudioError, match="class-conditional with 4 classes"):
        g.sample(0)
    with pytest.raises(MemstudioError, match="outside"):
        g.sample(0, class_index=4)
    a, b = g.sample(0, class_index=1), g.sample(0, class_index=2)
    assert a.class_index == 1 and not torch.allclose(a.values, b.values)


@pytest.mark.parametrize(("architecture", "num_ws"), [("orig", 6), ("resnet", 6)])
def test_other_architectures(architecture, num_ws):
    g = _tiny(architecture=architecture)
    assert g.num_ws == num_ws
    assert hasattr(g.synthesis.b8, "skip") == (architecture == "resnet")
    assert hasattr(g.synthesis.b8, "torgb") is False
    with torch.no_grad():
        img = g.synthesis_raw(g.sample(0).values)
    assert img.shape == (1, 3, 16, 16) and torch.isfinite(img).all()


def test_config_round_trip_builds_the_same_network():
    g = _tiny(c_dim=2, num_fp16_res=2, conv_clamp=256)
    cfg = json.loads(json.dumps(g.config()))
    twin = StyleGAN2Generator.from_config(cfg)
    assert list(twin.state_dict()) == list(g.state_dict())
    twin.load_state_dict(g.state_dict())
    twin.eval()
    assert twin.family == "stylegan2" and twin.name == "stylegan2"
    latent = g.sample(9, 0.6, class_index=1)
    with torch.no_grad():
        assert torch.equal(twin.render(latent), g.render(latent))
    assert {"synthesis.b4.conv1.affine.weight", "synthesis.b8.conv0.noise_const", "mapping.w_avg"} <= set(
        cfg_keys(twin)
    )


def cfg_keys(g: StyleGAN2Generator) -> list[str]:
    return list(g.state_dict())
