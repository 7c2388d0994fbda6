"""The VMS map predictor of paper 003 §3: a U-Net generator and a PatchGAN or scalar discriminator.

The generator maps an image to its visual memory schema (VMS) map; the discriminator sees an (image, map)
pair and says whether the map is a real one. Channel layouts are configurable exactly as the paper varies
them — encoder ``(3, 32, 64, 128, 256, 512)`` / decoder ``(512, 256, 128, 64, 32)`` is its best generator —
and so is the normalisation (batch or instance norm). The paper's discriminator layouts start with 6 =
3 image + 3 map channels; ours start with ``3 + map_channels`` (1 for grey maps).

The discriminator ends without a sigmoid because both losses are mean squared errors against 0/1 targets
(least-squares GAN), for which a linear output is the usual choice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from memstudio.core.errors import MemstudioError

NORMS = ("batch", "instance", "none")
DISCRIMINATORS = ("patch", "scalar")
OPTIMIZERS = ("adam", "sgd")


class VMSConfigError(MemstudioError):
    """A VMS network or training setting that cannot work (mismatched layouts, unknown options)."""


@dataclass(frozen=True)
class VMSConfig:
    """Architecture and training settings; defaults are paper 003's best combination (§4.1)."""

    encoder_channels: tuple[int, ...] = (3, 32, 64, 128, 256, 512)
    decoder_channels: tuple[int, ...] = (512, 256, 128, 64, 32)
    discriminator_channels: tuple[int, ...] = (4, 100, 200, 400, 800, 1600)
    norm: str = "batch"
    discriminator_norm: str = "batch"
    discriminator: str = "patch"
    map_channels: int = 1
    image_size: int = 256
    lambda_l1: float = 1.0
    optimizer_g: str = "sgd"
    lr_g: float = 0.01
    betas_g: tuple[float, float] = (0.9, 0.999)
    optimizer_d: str = "adam"
    lr_d: float = 0.001
    betas_d: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    batch_size: int = 8
    val_fraction: float = 0.1
    flip: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        enc, dec, disc = self.encoder_channels, self.decoder_channels, self.discriminator_channels
        if len(enc) < 2 or enc[0] != 3:
            raise VMSConfigError(f"encoder channels must start with 3 (RGB) and have a stage, got {enc}")
        if len(dec) != len(enc) - 1 or dec[0] != enc[-1]:
            raise VMSConfigError(
                f"decoder channels must have one entry per encoder stage and start at the bottleneck "
                f"{enc[-1]}, e.g. {tuple(reversed(enc[1:]))}; got {dec}"
            )
        if self.map_channels not in (1, 3):
            raise VMSConfigError(f"maps are grey (1 channel) or RGB (3), got {self.map_channels}")
        if len(disc) < 2 or disc[0] != 3 + self.map_channels:
            raise VMSConfigError(
                f"discriminator channels must start with 3 + map_channels = {3 + self.map_channels} "
                f"(image and map stacked), got {disc}"
            )
        if min(enc + dec + disc) < 1:
            raise VMSConfigError("channel counts must be positive")
        for value, allowed, what in (
            (self.norm, NORMS, "norm"),
            (self.discriminator_norm, NORMS, "discriminator norm"),
            (self.discriminator, DISCRIMINATORS, "discriminator"),
            (self.optimizer_g, OPTIMIZERS, "generator optimizer"),
            (self.optimizer_d, OPTIMIZERS, "discriminator optimizer"),
        ):
            if value not in allowed:
                raise VMSConfigError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
        smallest = self.image_size // 2 ** (len(disc) - 1)
        if smallest < 1 or (self.discriminator_norm == "instance" and smallest < 2):
            raise VMSConfigError(
                f"image_size {self.image_size} is too small for {len(disc) - 1} stride-2 discriminator layers"
            )
        if self.batch_size < 1 or self.lr_g <= 0 or self.lr_d <= 0 or self.lambda_l1 < 0:
            raise VMSConfigError("batch_size, learning rates must be positive and lambda_l1 non-negative")
        if not 0.0 < self.val_fraction < 1.0:
            raise VMSConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> VMSConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise VMSConfigError(f"unknown VMS settings {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


class DoubleConv(nn.Sequential):
    """Two 3×3 conv → norm → ReLU, the U-Net's unit; convs drop their bias when a norm follows."""

    def __init__(self, in_channels: int, out_channels: int, norm: str) -> None:
        bias = norm == "none"
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias),
            norm_layer(norm, out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias),
            norm_layer(norm, out_channels),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """Image ``[N, 3, H, W]`` in [0, 1] → map ``[N, map_channels, H, W]`` in [0, 1] (sigmoid).

    Any H, W works: the input is padded (reflect) to a multiple of the total downsampling and the output
    cropped back, so a model trained on 256-px squares also predicts maps for photos of other shapes.
    """

    def __init__(self, config: VMSConfig) -> None:
        super().__init__()
        enc, dec = config.encoder_channels, config.decoder_channels
        self.encoder = nn.ModuleList(DoubleConv(enc[i], enc[i + 1], config.norm) for i in range(len(enc) - 1))
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(dec[j], dec[j + 1], 2, stride=2) for j in range(len(dec) - 1)
        )
        # A decoder stage sees its upsampled features beside the skip from the encoder stage of equal size.
        self.decoder = nn.ModuleList(
            DoubleConv(dec[j + 1] + enc[-(j + 2)], dec[j + 1], config.norm) for j in range(len(dec) - 1)
        )
        self.head = nn.Conv2d(dec[-1], config.map_channels, 1)
        self.factor = 2 ** (len(enc) - 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        height, width = images.shape[2:]
        pad_h, pad_w = (-height) % self.factor, (-width) % self.factor
        x = images
        if pad_h or pad_w:
            mode = "reflect" if pad_h < height and pad_w < width else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        skips = []
        for i, stage in enumerate(self.encoder):
            x = stage(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, stage, skip in zip(self.upsample, self.decoder, reversed(skips[:-1]), strict=True):
            x = stage(torch.cat([up(x), skip], dim=1))
        return torch.sigmoid(self.head(x))[:, :, :height, :width]


class Discriminator(nn.Module):
    """(map, image) → realness: per patch (PatchGAN, ``[N, 1, h, w]``) or per image (scalar, ``[N, 1]``).

    Each layer is a 4×4 stride-2 conv → norm (not on the first layer, as in pix2pix) → LeakyReLU(0.2).
    """

    def __init__(self, config: VMSConfig) -> None:
        super().__init__()
        ch = config.discriminator_channels
        layers: list[nn.Module] = []
        for i in range(len(ch) - 1):
            norm = "none" if i == 0 else config.discriminator_norm
            layers += [
                nn.Conv2d(ch[i], ch[i + 1], 4, stride=2, padding=1, bias=norm == "none"),
                norm_layer(norm, ch[i + 1]),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        self.features = nn.Sequential(*layers)
        self.kind = config.discriminator
        if self.kind == "patch":
            self.head: nn.Module = nn.Conv2d(ch[-1], 1, 3, padding=1)
        else:
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch[-1], 1))

    def forward(self, maps: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(torch.cat([images, maps], dim=1)))


def build_networks(config: VMSConfig) -> tuple[UNet, Discriminator]:
    """Generator and discriminator with weights drawn from ``config.seed`` (same seed, same networks)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return UNet(config), Discriminator(config)


def build_optimizer(kind: str, params, lr: float, betas: tuple[float, float], momentum: float):
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas))
    return torch.optim.SGD(params, lr=lr, momentum=momentum)
