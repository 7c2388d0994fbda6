"""StyleGAN3-T / -R: reproduces the official code's outputs for reference weights; filter design, layer
geometry and the generator API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from memstudio.core.generators import sg_ops
from memstudio.core.generators.base import Latent
from memstudio.core.generators.sg_ops import filtered_lrelu, upfirdn2d, upfirdn2d_ref
from memstudio.core.generators.stylegan3 import StyleGAN3Generator

pytestmark = pytest.mark.usefixtures("single_thread")

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "formats" / "reference"
TOL = 1e-4




@pytest.fixture(scope="module")
def reference():
    name = "sg3-t-64"
    if not (REFERENCE / f"{name}.G_ema.npz").is_file():
        pytest.skip(f"reference data not found under {REFERENCE}")
    cfg = json.loads((REFERENCE / f"{name}.init_kwargs.json").read_text())
    tensors = dict(np.load(REFERENCE / f"{name}.G_ema.npz", allow_pickle=False))
    outputs = dict(np.load(REFERENCE / f"{name}.outputs.npz", allow_pickle=False))
    g = StyleGAN3Generator.from_config(cfg).eval()
    designed = {k: v.clone() for k, v in g.state_dict().items()}
    g.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    return g, tensors, outputs, designed


def test_filters_and_names_match_the_official_network(reference):
    g, tensors, out, designed = reference
    assert set(designed) == set(tensors)
    assert g.num_ws == int(out["num_ws"]) == 16
    for key, value in tensors.items():
        if key.endswith(("up_filter", "down_filter")):
            # Designed here with scipy.signal.firwin, exactly as the original designs them.
            assert np.abs(designed[key].numpy() - value).max() <= 1e-7, key
    assert g.synthesis.L4_52_256.padding == [-6, -9, -6, -9]
    assert g.synthesis.L13_64_64.padding == [-11, -12, -11, -12]
    assert g.synthesis.L14_64_3.up_filter is None and g.synthesis.L14_64_3.down_filter is None
    assert torch.equal(g.w_avg, torch.from_numpy(out["w_avg"]))


def _check_seed(g, out, i: int, full: bool) -> None:
    z = g.seed_z(int(out["seeds"][i]))
    assert np.array_equal(z.numpy(), out["z"][i : i + 1])
    with torch.no_grad():
        for psi in ("1", "0.7"):
            ws = g.mapping(z, None, truncation_psi=float(psi))
            assert np.abs(ws.numpy() - out[f"ws_psi{psi}"][i : i + 1]).max() <= TOL
            if full or psi == "1":
                img = g.synthesis_raw(torch.from_numpy(out[f"ws_psi{psi}"][i : i + 1]))
                assert np.abs(img.numpy() - out[f"img_psi{psi}"][i : i + 1]).max() <= TOL
        img = g(z, None, truncation_psi=0.7, noise_mode="const")
        assert np.abs(img.numpy() - out["img_G_psi0.7"][i : i + 1]).max() <= TOL
        assert np.abs(img.numpy() - out["img_psi0.7"][i : i + 1]).max() <= TOL


def test_reproduces_official_sg3_outputs(reference):
    g, _, out, _ = reference
    # Every seed's mapping; synthesis for seeds 0 and 3 (the full set runs under -m slow).
    for i in range(len(out["seeds"])):
        z = g.seed_z(int(out["seeds"][i]))
        with torch.no_grad():
            ws = g.mapping(z, None, truncation_psi=0.7)
        assert np.abs(ws.numpy() - out["ws_psi0.7"][i : i + 1]).max() <= TOL
    _check_seed(g, out, 0, full=False)
    latent = g.sample(3, truncation=0.7)
    with torch.no_grad():
        rendered = g.render(latent)
    expected = (np.clip(out["img_psi0.7"][3:4], -1, 1) + 1) / 2
    assert np.abs(rendered.numpy() - expected).max() <= TOL


@pytest.mark.slow
def test_reproduces_official_sg3_outputs_every_seed(reference):
    g, _, out, _ = reference
    for i in range(len(out["seeds"])):
        _check_seed(g, out, i, full=True)


def test_sg3_t_1024_layer_names():
    g = StyleGAN3Generator(4, 0, 4, 1024, 3, {"num_layers": 1}, channel_base=32768, channel_max=512)
    assert g.synthesis.layer_names == [
        "L0_36_512",
        "L1_36_512",
        "L2_52_512",
        "L3_52_512",
        "L4_84_512",
        "L5_148_512",
        "L6_148_512",
        "L7_276_323",
        "L8_276_203",
        "L9_532_128",
        "L10_1044_81",
        "L11_1044_51",
        "L12_1044_32",
        "L13_1024_32",
        "L14_1024_3",
    ]
    assert [g.synthesis.L5_148_512.use_fp16, g.synthesis.L4_84_512.use_fp16] == [True, False]
    assert g.num_ws == 16


def test_sg3_r_uses_radial_filters_and_1x1_convs():
    g = StyleGAN3Generator(
        16,
        0,
        16,
        64,
        3,
        {"num_layers": 2},
        channel_base=8192,
        channel_max=512,
        conv_kernel=1,
        use_radial_filters=True,
    )
    names = g.synthesis.layer_names
    assert names[0] == "L0_36_512" and names[13] == "L13_64_128" and names[14] == "L14_64_3"
    assert g.variant == "R"
    layer = getattr(g.synthesis, names[0])
    assert layer.weight.shape[2:] == (1, 1) and layer.down_filter.shape == (12, 12)
    assert layer.padding == [11, 10, 11, 10]
    assert getattr(g.synthesis, names[12]).down_filter.shape == (12,)  # critically sampled: separable
    assert abs(layer.down_filter.sum().item() - 1) < 1e-6


def test_fast_upfirdn2d_equals_the_reference_formulation():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 20, 23, generator=gen)
    for taps, up, down, padding in [
        (24, 4, 1, [-6, -9, -6, -9]),
        (12, 2, 1, [9, 8, 9, 8]),
        (12, 1, 2, 0),
        (12, 2, 1, [-11, -12, -11, -12]),
        (5, 1, 1, [3, 1, 2, 5]),
    ]:
        f = torch.randn(taps, generator=gen)
        ref = upfirdn2d_ref(x, f, up, down, padding, gain=up * up)
        fast = upfirdn2d(x, f, up, down, padding, gain=up * up)
        assert fast.shape == ref.shape and torch.allclose(fast, ref, atol=1e-5), (taps, up, down)
    radial = torch.randn(12, 12, generator=gen)
    assert torch.allclose(
        upfirdn2d(x, radial, down=2, padding=2), upfirdn2d_ref(x, radial, down=2, padding=2), atol=1e-5
    )


def test_upfirdn2d_splits_channels_past_32_bit_indexing(monkeypatch):
    """CUDA's depthwise convolutions fail past 2³¹ elements (SG3-T 1024, batch 8, on an H100): channel groups
    filtered apart must give the very same values."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 20, 23, generator=gen)
    f = torch.randn(12, generator=gen)
    whole = [upfirdn2d(x, f, 2, 1, [9, 8, 9, 8], gain=4), upfirdn2d(x, f, 1, 2, 0)]
    calls = []
    original = sg_ops.upfirdn2d

    def counting(*args, **kwargs):
        calls.append(args[0].shape[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(sg_ops, "upfirdn2d", counting)
    monkeypatch.setattr(sg_ops, "MAX_CONV_ELEMENTS", 2 * 5 * 50 * 50 // 3)
    split = [original(x, f, 2, 1, [9, 8, 9, 8], gain=4), original(x, f, 1, 2, 0)]
    assert calls and sum(calls) == 5 + 5  # both calls were split, every channel filtered once
    # Bitwise equality is not guaranteed: the CPU convolution picks its kernel (and so its summation order)
    # by channel count, and some builds differ by ~1 ulp. Each output sums 12 + 12 taps of the separable
    # filter, so a float32 rounding bound is 24 ulp of the largest magnitude; a wrong channel split would
    # be off by whole values.
    for a, b in zip(split, whole, strict=True):
        bound = 24 * torch.finfo(torch.float32).eps * b.abs().max().item()
        torch.testing.assert_close(a, b, rtol=0, atol=bound)


def test_filtered_lrelu_keeps_constants_away_from_borders():
    # A constant input stays constant away from the borders: the filters have unit DC gain.
    fu = torch.ones(12) / 12
    x = torch.full([1, 2, 24, 24], 0.5)
    y = filtered_lrelu(x, fu, fu, torch.zeros(2), up=2, down=2, padding=[9, 8, 9, 8], gain=1.0, slope=0.2)
    assert y.shape == (1, 2, 22, 22)  # (24·2 + 17 − 11 − 11 + 1) // 2
    inner = y[..., 6:-6, 6:-6]
    assert torch.allclose(inner, torch.full_like(inner, 0.5), atol=1e-5)
    # Negative values go through the leaky slope.
    y = filtered_lrelu(-x, fu, fu, torch.zeros(2), up=2, down=2, padding=[9, 8, 9, 8], gain=1.0, slope=0.2)
    assert torch.allclose(y[..., 6:-6, 6:-6], torch.full_like(inner, -0.1), atol=1e-5)


def test_api_and_config_round_trip():
    g = StyleGAN3Generator(16, 3, 16, 16, 3, {"num_layers": 2}, channel_base=128, channel_max=16).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.1)
    cfg = json.loads(json.dumps(g.config()))
    twin = StyleGAN3Generator.from_config(cfg).eval()
    twin.load_state_dict(g.state_dict())
    latent = g.sample(4, 0.5, class_index=2)
    assert latent.space == "w+" and latent.values.shape == (1, 16, 16)
    with torch.no_grad():
        img = g.render(latent)
        assert img.shape == (1, 3, 16, 16) and 0 <= img.min() and img.max() <= 1
        assert torch.equal(twin.render(latent), img)
        w = g.convert(Latent("z", latent.extras["z"], seed=4, truncation=0.5, class_index=2), "w")
        assert torch.allclose(g.render(w), img, atol=1e-6)
        # The user transform of the Fourier input moves the image.
        g.synthesis.input.transform[0, 2] = 0.25
        assert not torch.allclose(g.render(latent), img)
    assert g.family == "stylegan3" and g.name == "stylegan3" and g.variant == "T"
