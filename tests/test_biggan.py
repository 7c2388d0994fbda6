"""BigGAN-deep: the package's layout, numerics, seeds, truncation statistics and file handling.

Real BigGAN weights cannot be had offline, so a tiny BigGAN-deep (same block structure, 32 px, narrow
channels) gets seeded random weights in the value ranges of the reference files and is saved in the
package's folder format by the test itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import ndtr, ndtri

from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import CheckpointError
from memstudio.core.generators.base import Latent
from memstudio.core.generators.biggan import (
    BigGAN,
    BigGANBatchNorm,
    SNConv2d,
    SNLinear,
    bn_statistics_slot,
    class_index_from_name,
    imagenet_class_names,
    load_biggan_folder,
    truncated_noise_sample,
)
from memstudio.core.generators.biggan_config import BigGANConfig

SHARED = Path(__file__).resolve().parents[2] / "shared"
LAYOUT = SHARED / "formats" / "layouts" / "biggan-deep-128.txt"

# BigGAN-deep's block pattern at 32 px: 16ch → 8 → 4 → 2 → 1 × channel_width, attention before block 2.
TINY = {
    "output_dim": 32,
    "z_dim": 16,
    "class_embed_dim": 16,
    "channel_width": 4,
    "num_classes": 1000,
    "layers": [[False, 16, 16], [True, 16, 8], [True, 8, 4], [True, 4, 2], [False, 2, 1]],
    "attention_layer_position": 2,
    "eps": 1e-4,
    "n_stats": 51,
}


pytestmark = pytest.mark.usefixtures("single_thread")


def randomize_biggan(model: BigGAN, seed: int) -> BigGAN:
    """Seeded weights like the reference files': every tensor non-trivial, u/v from 30 power iterations."""
    gen = torch.Generator().manual_seed(seed)

    def normal(shape: torch.Size, std: float) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * std

    with torch.no_grad():
        model.embeddings.weight.copy_(normal(model.embeddings.weight.shape, 0.5))
        for module in model.modules():
            if isinstance(module, (SNConv2d, SNLinear)):
                w = normal(module.weight_orig.shape, 0.5)
                module.weight_orig.copy_(w)
                if module.bias is not None:
                    module.bias.copy_(normal(module.bias.shape, 0.1))
                mat = w.reshape(w.shape[0], -1)
                u = F.normalize(torch.randn(mat.shape[0], generator=gen), dim=0)
                for _ in range(30):
                    v = F.normalize(mat.t() @ u, dim=0, eps=1e-4)
                    u = F.normalize(mat @ v, dim=0, eps=1e-4)
                module.weight_u.copy_(u)
                module.weight_v.copy_(v)
            elif isinstance(module, BigGANBatchNorm):
                module.running_means.copy_(normal(module.running_means.shape, 0.3))
                module.running_vars.copy_(0.5 + torch.rand(module.running_vars.shape, generator=gen))
                if not module.conditional:
                    module.weight.copy_(1 + normal(module.weight.shape, 0.1))
                    module.bias.copy_(normal(module.bias.shape, 0.1))
        for name, param in model.named_parameters():
            if name.endswith("gamma"):
                param.copy_(normal(param.shape, 0.5))
    return model.eval()


def write_biggan_folder(folder: Path, model: BigGAN) -> Path:
    """The package's folder layout: config.json + torch.save(state_dict) as pytorch_model.bin."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(model.config(), indent=2, sort_keys=True))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def tiny_biggan_folder(folder: Path, seed: int = 3000) -> Path:
    return write_biggan_folder(folder, randomize_biggan(BigGAN.from_config(TINY), seed))


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_biggan_folder(tmp_path_factory.mktemp("biggan") / "biggan-tiny")


@pytest.fixture(scope="module")
def tiny(tiny_folder: Path) -> BigGAN:
    return load_biggan_folder(tiny_folder)


# --- structure ---
def test_128_state_dict_matches_the_package_layout_dump_line_by_line() -> None:
    if not LAYOUT.is_file():
        pytest.skip(f"{LAYOUT} is not available (../shared beside the repo)")
    lines = [
        line.rstrip("\n")
        for line in LAYOUT.read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith("state_dict type")
    ]
    with torch.device("meta"):
        model = BigGAN(BigGANConfig.deep(128))
    ours = [
        f"{k} {list(v.shape)} {str(v.dtype).removeprefix('torch.')}" for k, v in model.state_dict().items()
    ]
    assert len(ours) == len(lines) == 506
    for mine, theirs in zip(ours, lines, strict=True):
        assert mine == theirs
    assert sum(p.numel() for p in model.parameters()) == 50_388_609
    assert sum(v.numel() for v in model.state_dict().values()) == 52_687_425


@pytest.mark.parametrize("resolution, blocks", [(128, 10), (256, 12), (512, 14)])
def test_published_configs_build_their_resolution(resolution: int, blocks: int) -> None:
    with torch.device("meta"):
        model = BigGAN(BigGANConfig.deep(resolution))
    assert model.resolution == resolution and model.name == f"biggan-deep-{resolution}"
    assert len(model.generator.layers) == blocks + 1  # plus the self-attention layer
    assert model.num_ws == 0 and model.num_classes == 1000 and model.spaces == ("z",)


def test_config_round_trip() -> None:
    model = BigGAN.from_config(TINY)
    assert BigGAN.from_config(json.loads(json.dumps(model.config()))).config() == model.config()
    assert model.config() == TINY


# --- seeds ---
@pytest.mark.parametrize("seed, truncation", [(0, 0.4), (1, 1.0), (207, 0.415), (2**32 - 1, 0.7)])
def test_truncated_noise_sample_is_inverse_cdf_truncnorm_with_randomstate(
    seed: int, truncation: float
) -> None:
    got = truncated_noise_sample(batch_size=2, dim_z=128, truncation=truncation, seed=seed)
    # By hand: U ~ RandomState(seed).uniform, x = Φ⁻¹(Φ(-2) + U (Φ(2) - Φ(-2))), cast to float32, times t.
    uniform = np.random.RandomState(seed).uniform(0, 1, size=256).reshape(2, 128)
    by_hand = truncation * (ndtri(ndtr(-2) + uniform * (ndtr(2) - ndtr(-2)))).astype(np.float32)
    assert got.dtype == np.float32 and got.shape == (2, 128)
    np.testing.assert_allclose(got, by_hand, rtol=0, atol=2e-6)
    assert np.abs(got).max() <= 2 * truncation
    np.testing.assert_array_equal(got, truncated_noise_sample(2, 128, truncation, seed))


def test_sample_is_the_package_noise_for_the_seed(tiny: BigGAN) -> None:
    latent = tiny.sample(42, truncation=0.4, class_index=207)
    assert latent.space == "z" and latent.values.shape == (1, 16)
    assert latent.seed == 42 and latent.truncation == 0.4 and latent.class_index == 207
    np.testing.assert_array_equal(latent.values.numpy(), truncated_noise_sample(1, 16, 0.4, 42))
    assert "golden retriever" in latent.label
    assert tiny.sample(42, 0.4).class_index == BigGAN.default_class


# --- truncation → batch-norm statistics ---
@pytest.mark.parametrize(
    "truncation, start, coef",
    [
        (0.4, 20, 0.0),  # 0.4 / 0.02 == 20.0 exactly: slot 20
        (0.415, 20, 0.75),  # 20.75: interpolated
        (1.0, 50, 0.0),  # the last slot
        (0.01, 0, 0.5),
        (0.07, 3, 0.5000000000000004),  # 3.5000000000000004 in floating point
        (0.58, 28, 0.9999999999999964),  # 28.999999999999996: start 28, not 29
        (0.14, 7, 8.881784197001252e-16),  # 7.000000000000001: interpolation path with a tiny coef
    ],
)
def test_statistics_slot_follows_the_package_modf_rule(truncation: float, start: int, coef: float) -> None:
    assert bn_statistics_slot(truncation, 51) == (start, coef)


def test_statistics_interpolation_weights_are_reversed_as_in_the_package() -> None:
    bn = BigGANBatchNorm(2, None, n_stats=51, eps=1e-4)
    with torch.no_grad():
        bn.running_means.copy_(torch.arange(51, dtype=torch.float32)[:, None].repeat(1, 2))
        bn.running_vars.copy_(1 + torch.arange(51, dtype=torch.float32)[:, None].repeat(1, 2))
    mean, var = bn.statistics(0.4)
    assert mean.tolist() == [20.0, 20.0] and var.tolist() == [21.0, 21.0]
    mean, _ = bn.statistics(0.415)
    # 0.75 * stats[20] + 0.25 * stats[21] = 20.25 (ordinary interpolation would give 20.75).
    assert mean.tolist() == [pytest.approx(20.25)] * 2
    mean, _ = bn.statistics(0.58)  # ≈ stats[28] because of the reversed weights and 28.999…
    assert mean.tolist() == [pytest.approx(28.0, abs=1e-5)] * 2
    mean, _ = bn.statistics(0.14)  # ≈ stats[8]
    assert mean.tolist() == [pytest.approx(8.0, abs=1e-5)] * 2


def test_truncation_of_the_latent_chooses_the_statistics(tiny: BigGAN) -> None:
    latent = tiny.sample(5, truncation=0.4, class_index=1)
    same_z_other_stats = Latent("z", latent.values, 5, 0.5, 1)
    assert not torch.equal(tiny.render(latent), tiny.render(same_z_other_stats))
    with pytest.raises(ValueError, match="truncation"):
        tiny.render(Latent("z", latent.values, 5, 1.5, 1))


# --- numerics ---
def test_spectral_norm_layers_equal_torch_spectral_norm_in_eval(tiny: BigGAN) -> None:
    ours = tiny.generator.layers[0].conv_1
    ref = torch.nn.utils.spectral_norm(torch.nn.Conv2d(16, 16, 3, padding=1), eps=1e-4)
    ref.load_state_dict(ours.state_dict())
    ref.eval()
    x = torch.randn(2, 16, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(ours(x), ref(x))
    lin = tiny.generator.gen_z
    ref_lin = torch.nn.utils.spectral_norm(torch.nn.Linear(32, 1024), eps=1e-4)
    ref_lin.load_state_dict(lin.state_dict())
    ref_lin.eval()
    with torch.no_grad():
        z = torch.randn(3, 32, generator=torch.Generator().manual_seed(1))
        assert torch.equal(lin(z), ref_lin(z))
        u_before = lin.weight_u.clone()
        lin(z)
        assert torch.equal(lin.weight_u, u_before)  # rendering never runs a power iteration


def test_conditional_batch_norm_formula(tiny: BigGAN) -> None:
    bn = tiny.generator.layers[1].bn_2
    gen = torch.Generator().manual_seed(2)
    x, cond = torch.randn(2, 16, 4, 4, generator=gen), torch.randn(2, 32, generator=gen)
    scale = cond @ (bn.scale.weight_orig / (bn.scale.weight_u @ bn.scale.weight_orig @ bn.scale.weight_v)).t()
    offset = (
        cond @ (bn.offset.weight_orig / (bn.offset.weight_u @ bn.offset.weight_orig @ bn.offset.weight_v)).t()
    )
    mean = 0.75 * bn.running_means[20] + 0.25 * bn.running_means[21]
    var = 0.75 * bn.running_vars[20] + 0.25 * bn.running_vars[21]
    expected = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 1e-4)
    expected = expected * (1 + scale[:, :, None, None]) + offset[:, :, None, None]
    with torch.no_grad():
        torch.testing.assert_close(bn(x, 0.415, cond), expected, rtol=1e-5, atol=1e-5)


def test_render_is_deterministic_in_range_and_depends_on_seed_and_class(
    tiny: BigGAN, tiny_folder: Path
) -> None:
    latent = tiny.sample(7, truncation=0.4, class_index=207)
    with torch.no_grad():
        image = tiny.render(latent)
        again = load_biggan_folder(tiny_folder).render(tiny.sample(7, truncation=0.4, class_index=207))
        raw = tiny.render_raw(latent)
    assert image.shape == (1, 3, 32, 32) and image.dtype == torch.float32
    assert torch.equal(image, again)
    assert 0 <= image.min() and image.max() <= 1 and image.std() > 0.01
    assert torch.equal(image, ((raw + 1) / 2).clamp(0, 1))
    with torch.no_grad():
        assert not torch.equal(image, tiny.render(tiny.sample(8, 0.4, 207)))
        assert not torch.equal(image, tiny.render(tiny.sample(7, 0.4, 208)))


def test_render_follows_the_package_call(tiny: BigGAN) -> None:
    z = torch.from_numpy(truncated_noise_sample(2, 16, 0.4, seed=11))
    one_hot = torch.zeros(2, 1000)
    one_hot[:, 207] = 1
    with torch.no_grad():
        expected = tiny(z, one_hot, 0.4)
        batch = tiny.render_raw(Latent("z", z, 11, 0.4, 207))
        vector = tiny.render_raw(Latent("z", z, 11, 0.4, None, extras={"class_vector": one_hot[0]}))
        mixed = tiny.render_raw(Latent("z", z, 11, 0.4, 207, extras={"class_vector": one_hot[0] * 0.5}))
    assert torch.equal(batch, expected) and torch.equal(vector, expected)
    assert not torch.equal(mixed, expected)


def test_render_is_differentiable_in_the_latent(tiny: BigGAN) -> None:
    latent = tiny.sample(1, truncation=0.5, class_index=3)
    values = latent.values.clone().requires_grad_(True)
    tiny.render(latent.with_values(values)).mean().backward()
    assert values.grad is not None and values.grad.abs().sum() > 0


def test_loaded_model_knows_its_file_hash_and_is_frozen(tiny: BigGAN, tiny_folder: Path) -> None:
    assert tiny.checkpoint_hash == sha256_file(tiny_folder / "pytorch_model.bin")
    assert not tiny.training and not any(p.requires_grad for p in tiny.parameters())
    assert tiny.describe() == {
        "name": "biggan-deep-32",
        "checkpoint_sha256": tiny.checkpoint_hash,
        "num_ws": 0,
        "family": "biggan",
        "resolution": 32,
        "num_classes": 1000,
    }


# --- class names ---
def test_imagenet_class_names() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[207] == "golden retriever"
    assert class_index_from_name("Golden Retriever") == 207
    assert class_index_from_name("983") == 983
    with pytest.raises(ValueError, match="no ImageNet class"):
        class_index_from_name("unicorn")
    with pytest.raises(ValueError, match="0..999"):
        class_index_from_name("1000")


# --- files ---
def test_pre_torch_1_1_spectral_norm_files_load(tmp_path: Path, tiny: BigGAN) -> None:
    # Old files store the normalised `weight` and no `weight_v`; torch's upgrade hook solves for v.
    state = dict(tiny.state_dict())
    for key in [k for k in state if k.endswith(".weight_v")]:
        prefix = key[: -len("_v")]
        w = state[prefix + "_orig"]
        sigma = state[prefix + "_u"] @ w.reshape(w.shape[0], -1) @ state[key]
        state[prefix] = w / sigma
        del state[key]
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    torch.save(state, folder / "pytorch_model.bin")
    latent = tiny.sample(4, 0.4, 10)
    with torch.no_grad():
        torch.testing.assert_close(
            load_biggan_folder(folder).render(latent), tiny.render(latent), atol=1e-4, rtol=0
        )


def _copy_folder(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("config.json", "pytorch_model.bin"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_truncated_weights_file_is_a_checkpoint_error(tmp_path: Path, tiny_folder: Path) -> None:
    folder = _copy_folder(tiny_folder, tmp_path / "cut")
    data = (folder / "pytorch_model.bin").read_bytes()
    (folder / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        load_biggan_folder(folder)


@pytest.mark.parametrize("change, message", [("drop", "missing keys"), ("add", "unexpected keys")])
def test_missing_or_unexpected_keys_are_named(
    tmp_path: Path, tiny: BigGAN, change: str, message: str
) -> None:
    state = dict(tiny.state_dict())
    if change == "drop":
        del state["generator.layers.3.bn_1.running_vars"]
    else:
        state["generator.extra.weight"] = torch.zeros(3)
    folder = tmp_path / change
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=message) as info:
        load_biggan_folder(folder)
    assert "running_vars" in str(info.value) or "extra" in str(info.value)


def test_weights_of_another_size_are_a_shape_error(tmp_path: Path, tiny_folder: Path) -> None:
    folder = _copy_folder(tiny_folder, tmp_path / "wide")
    (folder / "config.json").write_text(json.dumps({**TINY, "channel_width": 8}))
    with pytest.raises(CheckpointError, match="shape"):
        load_biggan_folder(folder)


@pytest.mark.parametrize(
    "config, message",
    [
        ({**TINY, "output_dim": 64}, "output_dim"),
        ({**TINY, "layers": [[True, 16]]}, "layers"),
        ({**TINY, "attention_layer_position": 9}, "attention_layer_position"),
        ({**TINY, "class_embed_dim": 8}, "class_embed_dim"),
        ({**TINY, "z_dim": "128"}, "z_dim"),
        ({**TINY, "eps": -1}, "eps"),
        ({**TINY, "n_stats": 1}, "n_stats"),
        ([1, 2], "JSON object"),
    ],
)
def test_wrong_config_is_a_checkpoint_error(
    tmp_path: Path, tiny_folder: Path, config: object, message: str
) -> None:
    folder = _copy_folder(tiny_folder, tmp_path / "cfg")
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message):
        load_biggan_folder(folder)


def test_folder_problems_name_the_file(tmp_path: Path, tiny_folder: Path) -> None:
    folder = _copy_folder(tiny_folder, tmp_path / "broken")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        load_biggan_folder(folder)
    (folder / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        load_biggan_folder(folder)
    with pytest.raises(CheckpointError, match="refused|not a BigGAN state dict"):
        other = _copy_folder(tiny_folder, tmp_path / "list")
        torch.save([torch.zeros(1)], other / "pytorch_model.bin")
        load_biggan_folder(other)
