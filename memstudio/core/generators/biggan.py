"""BigGAN-deep 128/256/512, the generator of paper 000, compatible with pytorch-pretrained-biggan 0.1.1.

The network, its state-dict names and its numerics follow that package (itself a port of the TF Hub
modules) so its public ``config.json`` + ``pytorch_model.bin`` folders load unchanged and give the images that
package gives in ``.eval()``:

* spectral-norm layers store ``weight_orig``/``weight_u``/``weight_v`` and are evaluated with
  ``sigma = u · (W v)`` from the stored vectors, without a power iteration;
* batch norm uses precomputed statistics for ``n_stats`` truncation values in [0, 1]; a truncation picks
  them with the package's ``math.modf`` rule, including its reversed interpolation weights;
* seed ``S`` at truncation ``t`` is the package's ``truncated_noise_sample(truncation=t, seed=S)``.

Weights are read with ``torch.load(weights_only=True)`` and loaded strictly: a missing, unexpected or
misshapen tensor is an error naming the file, where the package would silently keep random weights.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from memstudio.core.checkpoints import safe_torch_load, sha256_file
from memstudio.core.errors import CheckpointError
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.generators.biggan_config import CONFIG_NAME, WEIGHTS_NAME, BigGANConfig


def truncated_noise_sample(
    batch_size: int = 1, dim_z: int = 128, truncation: float = 1.0, seed: int | None = None
) -> np.ndarray:
    """pytorch-pretrained-biggan's noise: ``truncation * truncnorm(-2, 2)`` drawn with ``RandomState(seed)``.

    Same arguments, same float32 values as the package, so a seed means the same image in memstudio and in
    code written against that package.
    """
    from scipy.stats import truncnorm

    state = None if seed is None else np.random.RandomState(seed)
    values = truncnorm.rvs(-2, 2, size=(batch_size, dim_z), random_state=state).astype(np.float32)
    return truncation * values


def bn_statistics_slot(truncation: float, n_stats: int = 51) -> tuple[int, float]:
    """``(start_index, coef)`` of the package's statistics lookup for ``truncation``.

    The package takes ``coef, start = modf(truncation / step)`` with ``step = 1 / (n_stats - 1)`` and uses
    ``stats[start] * coef + stats[start + 1] * (1 - coef)`` when ``coef != 0`` (weights reversed with respect
    to linear interpolation); this keeps that rule bit for bit.
    """
    step_size = 1.0 / (n_stats - 1)
    coef, start = math.modf(truncation / step_size)
    return int(start), coef


def _check_truncation(truncation: float) -> None:
    if not 0 < truncation <= 1:
        raise ValueError(f"BigGAN truncation must be in (0, 1], got {truncation}")


class _SpectralNorm(nn.Module):
    """Shared part of the spectral-norm layers: evaluation-time ``weight_orig / sigma``.

    ``u`` and ``v`` are the stored power-iteration vectors; like ``torch.nn.utils.spectral_norm`` in eval
    mode they are used as they are, so rendering never changes the weights.
    """

    weight_orig: nn.Parameter
    weight_u: torch.Tensor
    weight_v: torch.Tensor

    def _register_sn(self, weight_shape: tuple[int, ...]) -> None:
        self.weight_orig = nn.Parameter(torch.zeros(weight_shape))
        height = weight_shape[0]
        width = int(np.prod(weight_shape[1:]))
        self.register_buffer("weight_u", torch.zeros(height))
        self.register_buffer("weight_v", torch.zeros(width))

    def normalized_weight(self) -> torch.Tensor:
        weight_mat = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
        sigma = torch.dot(self.weight_u, torch.mv(weight_mat, self.weight_v))
        return self.weight_orig / sigma


class SNLinear(_SpectralNorm):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        # Registration order (bias, then weight_orig) reproduces the package's state-dict order.
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self._register_sn((out_features, in_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)


class SNConv2d(_SpectralNorm):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__()
        self.padding = kernel_size // 2
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self._register_sn((out_channels, in_channels, kernel_size, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.normalized_weight(), self.bias, 1, self.padding)


class SelfAttn(nn.Module):
    """SAGAN self-attention with max-pooled keys and values (the package's ``SelfAttn``)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.snconv1x1_theta = SNConv2d(in_channels, in_channels // 8, 1, bias=False)
        self.snconv1x1_phi = SNConv2d(in_channels, in_channels // 8, 1, bias=False)
        self.snconv1x1_g = SNConv2d(in_channels, in_channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = SNConv2d(in_channels // 2, in_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, ch, h, w = x.shape
        theta = self.snconv1x1_theta(x).view(-1, ch // 8, h * w)
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2, 2).view(-1, ch // 8, h * w // 4)
        attn = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)
        g = F.max_pool2d(self.snconv1x1_g(x), 2, 2).view(-1, ch // 2, h * w // 4)
        attn_g = torch.bmm(g, attn.permute(0, 2, 1)).view(-1, ch // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(attn_g)


class BigGANBatchNorm(nn.Module):
    """Batch norm with per-truncation precomputed statistics; class-conditional gain and bias when asked."""

    def __init__(self, num_features: int, condition_dim: int | None, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.n_stats = n_stats
        self.conditional = condition_dim is not None
        if not self.conditional:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        if self.conditional:
            self.scale = SNLinear(condition_dim, num_features, bias=False)
            self.offset = SNLinear(condition_dim, num_features, bias=False)

    def statistics(self, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
        start, coef = bn_statistics_slot(truncation, self.n_stats)
        if coef != 0.0:
            mean = self.running_means[start] * coef + self.running_means[start + 1] * (1 - coef)
            var = self.running_vars[start] * coef + self.running_vars[start + 1] * (1 - coef)
            return mean, var
        return self.running_means[start], self.running_vars[start]

    def forward(self, x: torch.Tensor, truncation: float, cond: torch.Tensor | None = None) -> torch.Tensor:
        mean, var = self.statistics(truncation)
        if not self.conditional:
            return F.batch_norm(
                x, mean, var, self.weight, self.bias, training=False, momentum=0.0, eps=self.eps
            )
        mean = mean[None, :, None, None]
        var = var[None, :, None, None]
        weight = 1 + self.scale(cond)[:, :, None, None]
        bias = self.offset(cond)[:, :, None, None]
        return (x - mean) / torch.sqrt(var + self.eps) * weight + bias


class GenBlock(nn.Module):
    """BigGAN-deep residual block: 1x1 down, two 3x3, 1x1 up, each after conditional BN + ReLU."""

    def __init__(
        self, in_size: int, out_size: int, condition_dim: int, up_sample: bool, n_stats: int, eps: float
    ) -> None:
        super().__init__()
        self.up_sample = up_sample
        self.drop_channels = in_size != out_size
        middle = in_size // 4
        self.bn_0 = BigGANBatchNorm(in_size, condition_dim, n_stats, eps)
        self.conv_0 = SNConv2d(in_size, middle, 1)
        self.bn_1 = BigGANBatchNorm(middle, condition_dim, n_stats, eps)
        self.conv_1 = SNConv2d(middle, middle, 3)
        self.bn_2 = BigGANBatchNorm(middle, condition_dim, n_stats, eps)
        self.conv_2 = SNConv2d(middle, middle, 3)
        self.bn_3 = BigGANBatchNorm(middle, condition_dim, n_stats, eps)
        self.conv_3 = SNConv2d(middle, out_size, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        x0 = x
        x = self.conv_0(F.relu(self.bn_0(x, truncation, cond)))
        x = F.relu(self.bn_1(x, truncation, cond))
        if self.up_sample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv_1(x)
        x = self.conv_2(F.relu(self.bn_2(x, truncation, cond)))
        x = self.conv_3(F.relu(self.bn_3(x, truncation, cond)))
        if self.drop_channels:
            x0 = x0[:, : x0.shape[1] // 2]
        if self.up_sample:
            x0 = F.interpolate(x0, scale_factor=2, mode="nearest")
        return x + x0


class BigGANSynthesis(nn.Module):
    """The package's ``Generator``: condition vector ``[z, embed]`` → image in [-1, 1]."""

    def __init__(self, config: BigGANConfig) -> None:
        super().__init__()
        ch = config.channel_width
        self.channel_width = ch
        condition_dim = config.z_dim * 2
        self.gen_z = SNLinear(condition_dim, 4 * 4 * 16 * ch)
        layers: list[nn.Module] = []
        for i, (up, c_in, c_out) in enumerate(config.layers):
            if i == config.attention_layer_position:
                layers.append(SelfAttn(ch * c_in))
            layers.append(GenBlock(ch * c_in, ch * c_out, condition_dim, up, config.n_stats, config.eps))
        self.layers = nn.ModuleList(layers)
        self.bn = BigGANBatchNorm(ch, None, config.n_stats, config.eps)
        self.conv_to_rgb = SNConv2d(ch, ch, 3)

    def forward(self, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        # The TF weights lay the 4x4 seed out as NHWC.
        x = self.gen_z(cond).view(-1, 4, 4, 16 * self.channel_width).permute(0, 3, 1, 2).contiguous()
        for layer in self.layers:
            x = layer(x, cond, truncation) if isinstance(layer, GenBlock) else layer(x)
        x = self.conv_to_rgb(F.relu(self.bn(x, truncation)))
        return torch.tanh(x[:, :3])


@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names in BigGAN's class-index order (for the class picker)."""
    text = resources.files("memstudio.core.generators").joinpath("imagenet_classes.json").read_text("utf-8")
    names = tuple(json.loads(text))
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.json holds {len(names)} names, expected 1000")
    return names


def class_index_from_name(name: str) -> int:
    """ImageNet class index from a class name (case-insensitive, exact) or a decimal index string."""
    text = name.strip()
    if text.isdigit():
        index = int(text)
        if not 0 <= index < 1000:
            raise ValueError(f"ImageNet class index must be 0..999, got {index}")
        return index
    wanted = text.lower().replace("_", " ")
    for i, candidate in enumerate(imagenet_class_names()):
        if candidate.lower() == wanted:
            return i
    close = [c for c in imagenet_class_names() if wanted in c.lower()][:8]
    hint = f"; did you mean one of {close}?" if close else ""
    raise ValueError(f"no ImageNet class named {name!r}{hint}")


class BigGAN(Generator):
    """BigGAN-deep as a memstudio generator: space ``z`` (truncated noise), conditioned on an ImageNet class.

    The module tree (``embeddings``, ``generator``) is the package's, so :meth:`state_dict` has its names.
    """

    family = "biggan"
    spaces = ("z",)
    default_space = "z"
    #: The class used when a caller gives none: the first ImageNet class, recorded in the latent.
    default_class = 0

    def __init__(self, config: BigGANConfig | None = None) -> None:
        super().__init__()
        self.biggan_config = config or BigGANConfig()
        self.biggan_config.validate()
        self.name = f"biggan-deep-{self.biggan_config.output_dim}"
        self.embeddings = nn.Linear(self.biggan_config.num_classes, self.biggan_config.z_dim, bias=False)
        nn.init.zeros_(self.embeddings.weight)
        self.generator = BigGANSynthesis(self.biggan_config)

    @property
    def resolution(self) -> int:
        return self.biggan_config.output_dim

    @property
    def num_classes(self) -> int:
        return self.biggan_config.num_classes

    @property
    def z_dim(self) -> int:
        return self.biggan_config.z_dim

    def config(self) -> dict[str, Any]:
        """The package's config.json content; :meth:`from_config` rebuilds the same network."""
        return self.biggan_config.to_dict()

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> BigGAN:
        return cls(BigGANConfig.from_dict(cfg))

    def forward(self, z: torch.Tensor, class_vector: torch.Tensor, truncation: float) -> torch.Tensor:
        """The package's ``BigGAN.forward``: image in [-1, 1]."""
        _check_truncation(truncation)
        cond = torch.cat((z, self.embeddings(class_vector)), dim=1)
        return self.generator(cond, truncation)

    def class_vector(self, class_index: int, batch_size: int = 1) -> torch.Tensor:
        """One-hot float32 ``[batch_size, num_classes]``, the package's ``one_hot_from_int``."""
        if not 0 <= class_index < self.num_classes:
            raise ValueError(f"{self.name}: class index must be 0..{self.num_classes - 1}, got {class_index}")
        vector = torch.zeros(batch_size, self.num_classes, device=self.embeddings.weight.device)
        vector[:, class_index] = 1.0
        return vector

    def sample(self, seed: int, truncation: float = 1.0, class_index: int | None = None) -> Latent:
        _check_truncation(truncation)
        index = self.default_class if class_index is None else int(class_index)
        self.class_vector(index)  # validates the index before it is recorded
        z = torch.from_numpy(truncated_noise_sample(1, self.z_dim, truncation, seed))
        return Latent(
            space="z",
            values=z.to(self.embeddings.weight.device),
            seed=seed,
            truncation=truncation,
            class_index=index,
            label=f"seed {seed} · {imagenet_class_names()[index] if self.num_classes == 1000 else index}",
        )

    def _latent_class_vector(self, latent: Latent) -> torch.Tensor:
        n = latent.values.shape[0]
        given = latent.extras.get("class_vector")
        if given is not None:
            vector = torch.as_tensor(given, dtype=torch.float32, device=latent.values.device)
            if vector.ndim == 1:
                vector = vector.unsqueeze(0)
            if vector.shape[-1] != self.num_classes or vector.shape[0] not in (1, n):
                raise ValueError(
                    f"{self.name}: class_vector must be [{self.num_classes}] or [N, {self.num_classes}]"
                )
            return vector.expand(n, -1)
        index = self.default_class if latent.class_index is None else latent.class_index
        return self.class_vector(index, n).to(latent.values.device)

    def render_raw(self, latent: Latent) -> torch.Tensor:
        """The network's own output in [-1, 1] (what PNG writers quantise, NVIDIA-style)."""
        if latent.space != "z":
            raise ValueError(f"{self.name}: cannot render a {latent.space!r} latent (only 'z')")
        if latent.values.ndim != 2 or latent.values.shape[1] != self.z_dim:
            raise ValueError(f"{self.name}: z must be [N, {self.z_dim}], got {list(latent.values.shape)}")
        return self(latent.values.float(), self._latent_class_vector(latent), latent.truncation)

    def render(self, latent: Latent) -> torch.Tensor:
        return ((self.render_raw(latent) + 1) / 2).clamp(0, 1)

    def describe(self) -> dict[str, object]:
        info = super().describe()
        info.update(family=self.family, resolution=self.resolution, num_classes=self.num_classes)
        return info


def _legacy_spectral_v(weight_orig: torch.Tensor, weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``weight_v`` for files written before torch 1.1, solved exactly as torch's own upgrade hook does.

    Such files store the normalised ``weight`` instead of ``weight_v``; torch recovers ``v`` so that
    ``u · (W v)`` equals the stored sigma.
    """
    weight_mat = weight_orig.reshape(weight_orig.shape[0], -1)
    sigma = (weight_orig / weight).mean()
    v = torch.linalg.multi_dot([weight_mat.t().mm(weight_mat).pinverse(), weight_mat.t(), u.unsqueeze(1)])
    v = v.squeeze(1)
    return v * (sigma / torch.dot(u, torch.mv(weight_mat, v)))


def _upgrade_legacy_spectral_norm(state: dict[str, torch.Tensor], expected: set[str]) -> None:
    for key in list(state):
        if not key.endswith(".weight_orig"):
            continue
        prefix = key[: -len("_orig")]
        if (
            prefix + "_v" in expected
            and prefix + "_v" not in state
            and prefix in state
            and prefix + "_u" in state
        ):
            state[prefix + "_v"] = _legacy_spectral_v(state[key], state.pop(prefix), state[prefix + "_u"])


def load_biggan_state_dict(model: BigGAN, state: object, source: str) -> None:
    """Strictly load a package state dict into ``model``; every problem is a :class:`CheckpointError`."""
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise CheckpointError(f"{source}: not a BigGAN state dict (got {type(state).__name__})")
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{source}: entries that are not tensors: {bad[:5]}")
    expected = model.state_dict()
    state = dict(state)
    _upgrade_legacy_spectral_norm(state, set(expected))
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[:4]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:4]})")
        raise CheckpointError(f"{source}: does not match {model.name}'s config: " + "; ".join(parts))
    for key, target in expected.items():
        if tuple(state[key].shape) != tuple(target.shape):
            raise CheckpointError(
                f"{source}: {key} has shape {list(state[key].shape)}, the config needs {list(target.shape)}"
            )
        if not state[key].is_floating_point():
            raise CheckpointError(f"{source}: {key} is {state[key].dtype}, expected floating point")
    model.load_state_dict(state, strict=True)


def load_biggan_folder(path: str | Path, device: torch.device | str = "cpu") -> BigGAN:
    """Open a pytorch-pretrained-biggan folder (``config.json`` + ``pytorch_model.bin``) in eval mode."""
    folder = Path(path)
    if folder.is_file() and folder.name == WEIGHTS_NAME:
        folder = folder.parent
    config_path = folder / CONFIG_NAME
    weights_path = folder / WEIGHTS_NAME
    if not folder.is_dir():
        raise CheckpointError(f"{folder}: not a folder with {CONFIG_NAME} and {WEIGHTS_NAME}")
    for needed in (config_path, weights_path):
        if not needed.is_file():
            raise CheckpointError(f"{folder}: a BigGAN folder needs {needed.name}, which is missing")
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path}: not valid JSON: {exc}") from exc
    config = BigGANConfig.from_dict(raw, source=str(config_path))
    with torch.device("meta"):
        # Building on meta skips allocating and initialising ~50M parameters that the file replaces.
        model = BigGAN(config)
    model = model.to_empty(device="cpu")
    load_biggan_state_dict(model, safe_torch_load(weights_path), str(weights_path))
    model.checkpoint_hash = sha256_file(weights_path)
    return model.eval().requires_grad_(False).to(device)
