"""Inversion into W / W+ on a tiny real StyleGAN2 (seeded random weights), latent files, and the losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memstudio.core.errors import CheckpointError
from memstudio.core.faces.invert import (
    InversionSettings,
    InversionState,
    invert,
    learning_rate,
    noise_buffers,
    noise_override,
    noise_regularization,
    psnr,
    render_latent,
)
from memstudio.core.faces.latent_file import LatentFileError, check_latent_fits, load_latent, save_latent
from memstudio.core.faces.perceptual import LPIPSVGG16, PixelLoss, make_loss, multiscale_pixel_distance
from memstudio.core.generators.base import Latent
from memstudio.core.jobs import Progress, run_to_end

pytestmark = pytest.mark.usefixtures("single_thread")


def tiny_stylegan2(seed: int = 0):
    """StyleGAN2 at 16 px (num_ws 6) with seeded random weights and visible noise, like a trained model."""
    from memstudio.core.generators.stylegan2 import StyleGAN2Generator

    torch.manual_seed(seed)
    g = StyleGAN2Generator(
        z_dim=16,
        c_dim=0,
        w_dim=16,
        img_resolution=16,
        synthesis_kwargs=dict(channel_base=256, channel_max=16),
        mapping_kwargs=dict(num_layers=2),
    )
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.05)
            if "torgb.weight" in name:
                p.mul_(0.3)  # keep most pixels inside [-1, 1] instead of clipping
    g.checkpoint_hash = "ab" * 32
    return g.eval()




@pytest.fixture(scope="module")
def generator():
    return tiny_stylegan2()


@pytest.fixture(scope="module")
def target(generator):
    a, b = generator.sample(1), generator.sample(2)
    ws = torch.cat([a.values[:, :3], b.values[:, 3:]], dim=1)  # style mixing: a W+ point outside W
    with torch.no_grad():
        return generator.render(Latent("w+", ws))


FAST = dict(w_avg_samples=500, preview_every=5)


def test_inversion_into_w_plus_improves_psnr(generator, target):
    state = InversionState()
    steps = []
    job = invert(generator, target, InversionSettings(num_steps=60, **FAST), label="mixed", state=state)
    while True:
        try:
            steps.append(next(job))
        except StopIteration as stop:
            latent = stop.value
            break
    assert len(steps) == 60 and all(isinstance(p, Progress) for p in steps)
    assert steps[-1].fraction == pytest.approx(1.0)
    assert steps[4].preview is not None and steps[4].preview.shape == target.shape
    assert latent.space == "w+" and latent.values.shape == (1, generator.num_ws, 16)
    assert latent.label == "mixed"
    with torch.no_grad():
        start = generator.render(Latent("w", state_w_avg(generator)))
        recon = render_latent(generator, latent)
    assert psnr(recon, target) > psnr(start, target) + 6.0
    assert latent.extras["psnr"] == pytest.approx(psnr(recon, target), abs=1e-4)
    assert np.mean(state.history[-10:]) < 0.5 * np.mean(state.history[:10])
    assert set(latent.extras["noise"]) == set(noise_buffers(generator))
    assert latent.extras["generator"]["checkpoint_sha256"] == "ab" * 32
    assert state.finished and not state.cancelled


def state_w_avg(generator) -> torch.Tensor:
    from memstudio.core.faces.invert import w_statistics

    return w_statistics(generator, 500)[0]


def test_w_space_and_reproducibility(generator, target):
    settings = InversionSettings(space="w", num_steps=8, **FAST)
    first = run_to_end(invert(generator, target, settings))
    second = run_to_end(invert(generator, target, settings))
    assert first.space == "w" and first.values.shape == (1, 16)
    assert torch.equal(first.values, second.values)
    other = run_to_end(invert(generator, target, InversionSettings(space="w", num_steps=8, seed=1, **FAST)))
    assert not torch.equal(first.values, other.values)


def test_cancel_keeps_generator_intact_and_best_so_far(generator, target):
    before = {k: v.clone() for k, v in noise_buffers(generator).items()}
    state = InversionState()
    job = invert(generator, target, InversionSettings(num_steps=50, **FAST), state=state)
    for _ in range(6):
        next(job)
    job.close()
    assert state.cancelled and not state.finished
    assert state.step == 6
    assert isinstance(state.best, Latent)
    assert state.best.values.shape[1:] in ((16,), (generator.num_ws, 16))
    assert state.best.extras["loss"] == pytest.approx(state.best_loss)
    for name, buf in noise_buffers(generator).items():
        assert torch.equal(buf, before[name])


def test_noise_override_restores_buffers_after_an_error(generator):
    name, buf = next(iter(noise_buffers(generator).items()))
    original = buf.clone()
    with pytest.raises(RuntimeError, match="boom"):
        with noise_override(generator, {name: torch.zeros_like(buf)}):
            assert torch.count_nonzero(dict(generator.named_buffers())[name]) == 0
            raise RuntimeError("boom")
    assert torch.equal(dict(generator.named_buffers())[name], original)
    with pytest.raises(ValueError, match="does not fit"):
        with noise_override(generator, {name: torch.zeros(3, 3)}):
            pytest.fail("a noise map of the wrong shape was put in place")


def test_schedule_and_noise_regulariser():
    s = InversionSettings()
    assert learning_rate(0.0, s) == 0.0
    assert learning_rate(0.5, s) == pytest.approx(s.initial_learning_rate)
    assert learning_rate(0.99, s) < 0.01 * s.initial_learning_rate
    white = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.avg_pool2d(white[None, None], 5, 1, 2)[0, 0]
    smooth = (smooth - smooth.mean()) / smooth.std()
    assert noise_regularization([smooth]) > 100 * noise_regularization([white])


def test_latent_file_round_trip(tmp_path, generator, target):
    latent = run_to_end(invert(generator, target, InversionSettings(num_steps=4, **FAST), label="astronaut"))
    path = save_latent(tmp_path / "face", latent)
    assert path.name == "face.npz"
    loaded = load_latent(path)
    assert loaded.space == "w+" and loaded.label == "astronaut"
    assert torch.equal(loaded.values, latent.values.float())
    assert loaded.extras["steps"] == 4
    assert loaded.extras["loss"] == pytest.approx(latent.extras["loss"])
    assert loaded.extras["generator"]["checkpoint_sha256"] == "ab" * 32
    with torch.no_grad():
        assert torch.equal(render_latent(generator, loaded), render_latent(generator, latent))
    check_latent_fits(loaded, generator, str(path))
    generator_b = tiny_stylegan2(seed=1)
    generator_b.checkpoint_hash = "cd" * 32
    with pytest.raises(LatentFileError, match="made with generator"):
        check_latent_fits(loaded, generator_b, str(path))


def test_latent_file_errors_and_nvidia_projector_output(tmp_path):
    np.savez(tmp_path / "projected_w.npz", w=np.zeros((1, 6, 16), dtype=np.float32))
    nvidia = load_latent(tmp_path / "projected_w.npz")
    assert nvidia.space == "w+" and nvidia.values.shape == (1, 6, 16)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(LatentFileError, match="junk.npz"):
        load_latent(tmp_path / "junk.npz")
    with pytest.raises(LatentFileError, match="no such latent file"):
        load_latent(tmp_path / "missing.npz")


def test_pixel_losses():
    a = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.all(PixelLoss().distance(a, a) == 0)
    # A constant offset shows at every scale; noise averages away at coarse ones.
    offset = multiscale_pixel_distance(a + 0.1, a)
    noise = multiscale_pixel_distance(a + 0.1 * torch.randn_like(a), a)
    assert torch.allclose(offset, torch.full((2,), 0.01), atol=1e-6)
    assert torch.all(noise < offset)
    with pytest.raises(ValueError, match="unknown reconstruction loss"):
        make_loss("ssim")


def test_lpips_from_public_formats(tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["D"])  # torchvision's own VGG16 feature stack: the real key names
    torch.save(
        {f"features.{k}": v for k, v in features.state_dict().items()}, tmp_path / "vgg16-397923af.pth"
    )
    lins = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate((64, 128, 256, 512, 512))}
    torch.save(lins, tmp_path / "vgg.pth")
    loss = make_loss("auto", tmp_path / "vgg16-397923af.pth", tmp_path / "vgg.pth")
    assert isinstance(loss, LPIPSVGG16)
    a = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    b = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    ref = loss.target_features(a)
    assert float(loss.distance(a, ref)) == pytest.approx(0.0, abs=1e-6)
    d = loss.distance(b, ref)
    assert float(d.detach()) > 0
    d.sum().backward()
    assert torch.isfinite(b.grad).all() and b.grad.abs().sum() > 0
    assert loss.describe()["lin_sha256"]
    bad = dict(lins)
    bad["lin2.model.1.weight"] = torch.rand(1, 64, 1, 1)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="bad.pth.*lin2"):
        LPIPSVGG16.from_files(tmp_path / "vgg16-397923af.pth", tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="two files"):
        make_loss("lpips")


@pytest.mark.slow
def test_resmem_trunk_loss_is_a_real_perceptual_distance():
    loss = make_loss("resmem")
    a = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    b = a.flip(-1).requires_grad_(True)
    ref = loss.target_features(a)
    assert float(loss.distance(a, ref)) == pytest.approx(0.0, abs=1e-5)
    d = loss.distance(b, ref)
    d.sum().backward()
    assert float(d.detach()) > 0 and torch.isfinite(b.grad).all()
