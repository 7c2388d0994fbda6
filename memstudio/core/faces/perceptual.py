"""Reconstruction losses for face inversion: LPIPS/VGG16, ResMem's ResNet-152 trunk, and multi-scale pixels.

The StyleGAN2-ADA projector compares images with LPIPS on VGG16. NVIDIA ships that as a TorchScript file,
which cannot be loaded without running its code, so we accept the two public files LPIPS is made of instead:
torchvision's ImageNet VGG16 state dict (``vgg16-397923af.pth``) and the LPIPS linear heads of
richzhang/PerceptualSimilarity (``vgg.pth``, keys ``lin0.model.1.weight`` … ``lin4.model.1.weight``). Without
them, ResMem's ResNet-152 trunk (shipped with real weights) is an offline perceptual space; and the cheap
default is a multi-scale pixel loss, which runs at CPU speed.

Every loss takes images in [0, 1], is differentiable, and splits into ``target_features`` (computed once per
inversion) and ``distance`` (once per step).
"""

from __future__ import annotations

import abc
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from memstudio.core.checkpoints import safe_torch_load, sha256_file
from memstudio.core.errors import CheckpointError

#: VGG16 ``features`` indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3: LPIPS's five taps.
LPIPS_TAPS = (3, 8, 15, 22, 29)
LPIPS_CHANNELS = (64, 128, 256, 512, 512)
#: LPIPS's input scaling layer (for inputs in [-1, 1]).
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
#: The projector compares at most 256² (VGG was built for 224²); LPIPS heads were calibrated on 64² patches,
#: so smaller generator outputs are upsampled to 64.
LPIPS_MAX_SIDE = 256
LPIPS_MIN_SIDE = 64
#: Multi-scale pixel loss stops pooling at this side: coarser levels say nothing the 8-px level does not.
PIXEL_MIN_SIDE = 8

_VGG16_CONVS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def normalize_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Unit length along channels at every position, as LPIPS does before comparing."""
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + eps)


def multiscale_pixel_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean over scales (full, ½, ¼, … down to 8 px) of the per-image MSE of 2×-average-pooled images.

    The coarse levels weigh layout and colour as much as the full level weighs detail, which steers an
    optimiser out of the local minima plain MSE falls into; returns ``[N]``.
    """
    total, levels = 0.0, 0
    while True:
        total = total + (a - b).square().mean(dim=(1, 2, 3))
        levels += 1
        if min(a.shape[-2:]) // 2 < PIXEL_MIN_SIDE:
            break
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return total / levels


class ReconstructionLoss(nn.Module, abc.ABC):
    """Distance between generated images and a target; base of the three losses."""

    name = ""

    def target_features(self, target: torch.Tensor) -> object:
        """Whatever :meth:`distance` compares against, computed once."""
        return target

    @abc.abstractmethod
    def distance(self, images: torch.Tensor, target: object) -> torch.Tensor:
        """``[N]`` distances, differentiable in ``images``."""

    def describe(self) -> dict[str, object]:
        return {"name": self.name}


class PixelLoss(ReconstructionLoss):
    """The cheap default: multi-scale MSE in [0, 1] units."""

    name = "pixel"

    def distance(self, images: torch.Tensor, target: object) -> torch.Tensor:
        assert isinstance(target, torch.Tensor)
        return multiscale_pixel_distance(images, target.expand_as(images))


class PlainPixelLoss(ReconstructionLoss):
    """Single-scale MSE: the baseline the evaluation compares against."""

    name = "mse"

    def distance(self, images: torch.Tensor, target: object) -> torch.Tensor:
        assert isinstance(target, torch.Tensor)
        return (images - target.expand_as(images)).square().mean(dim=(1, 2, 3))


class LPIPSVGG16(ReconstructionLoss):
    """LPIPS (v0.1, VGG16 variant) built from torchvision's VGG16 weights and the LPIPS linear heads."""

    name = "lpips"

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for spec in _VGG16_CONVS:
            if spec == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(in_ch, int(spec), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                in_ch = int(spec)
        # Same indices as torchvision's ``vgg16().features`` up to relu5_3, so its keys load unchanged.
        self.features = nn.Sequential(*layers)
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in LPIPS_CHANNELS)
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1))
        self.vgg_hash: str | None = None
        self.lin_hash: str | None = None

    @classmethod
    def from_files(cls, vgg16_path: str | Path, lin_path: str | Path) -> LPIPSVGG16:
        """Load ``vgg16-397923af.pth`` (or any torchvision VGG16 state dict) and LPIPS's ``vgg.pth``."""
        model = cls()
        vgg_state = safe_torch_load(vgg16_path)
        if not isinstance(vgg_state, dict):
            raise CheckpointError(f"{vgg16_path}: not a state dict (expected torchvision's VGG16 weights)")
        wanted = {f"features.{k}": v for k, v in model.features.state_dict().items()}
        picked = {}
        for key, ref in wanted.items():
            if key not in vgg_state:
                raise CheckpointError(f"{vgg16_path}: not torchvision VGG16 weights: {key} is missing")
            if tuple(vgg_state[key].shape) != tuple(ref.shape):
                raise CheckpointError(
                    f"{vgg16_path}: {key} has shape {tuple(vgg_state[key].shape)}, "
                    f"VGG16 needs {tuple(ref.shape)}"
                )
            picked[key.removeprefix("features.")] = vgg_state[key].float()
        model.features.load_state_dict(picked)
        lin_state = safe_torch_load(lin_path)
        if not isinstance(lin_state, dict):
            raise CheckpointError(f"{lin_path}: not a state dict (expected LPIPS's vgg.pth)")
        for i, (lin, ch) in enumerate(zip(model.lins, LPIPS_CHANNELS, strict=True)):
            key = f"lin{i}.model.1.weight"
            if key not in lin_state:
                raise CheckpointError(f"{lin_path}: not LPIPS VGG linear heads: {key} is missing")
            if tuple(lin_state[key].shape) != (1, ch, 1, 1):
                raise CheckpointError(
                    f"{lin_path}: {key} has shape {tuple(lin_state[key].shape)}, "
                    f"LPIPS VGG needs (1, {ch}, 1, 1)"
                )
            lin.weight.data.copy_(lin_state[key].float())
        model.vgg_hash, model.lin_hash = sha256_file(vgg16_path), sha256_file(lin_path)
        return model.eval().requires_grad_(False)

    def _taps(self, images: torch.Tensor) -> list[torch.Tensor]:
        side = images.shape[-1]
        if side > LPIPS_MAX_SIDE:
            images = F.interpolate(images, size=(LPIPS_MAX_SIDE, LPIPS_MAX_SIDE), mode="area")
        elif side < LPIPS_MIN_SIDE:
            images = F.interpolate(
                images, size=(LPIPS_MIN_SIDE, LPIPS_MIN_SIDE), mode="bilinear", align_corners=False
            )
        x = (images * 2 - 1 - self.shift) / self.scale
        taps = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in LPIPS_TAPS:
                taps.append(normalize_channels(x))
                if i == LPIPS_TAPS[-1]:
                    break
        return taps

    def target_features(self, target: torch.Tensor) -> object:
        with torch.no_grad():
            return self._taps(target)

    def distance(self, images: torch.Tensor, target: object) -> torch.Tensor:
        assert isinstance(target, list)
        total = 0.0
        for feat, ref, lin in zip(self._taps(images), target, self.lins, strict=True):
            total = total + lin((feat - ref).square()).mean(dim=(1, 2, 3))
        return total

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "vgg16_sha256": self.vgg_hash, "lin_sha256": self.lin_hash}


class ResMemTrunkLoss(ReconstructionLoss):
    """Channel-normalised ResNet-152 stage activations of ResMem (real weights), plus multi-scale pixels.

    ResMem crops the centre 227/256 before its trunk, so the pixel term also keeps the border honest.
    """

    name = "resmem"

    def __init__(self, assessor: nn.Module, pixel_weight: float = 1.0) -> None:
        super().__init__()
        self.assessor = assessor
        self.pixel_weight = pixel_weight

    @classmethod
    def load(cls, device: torch.device | str = "cpu", pixel_weight: float = 1.0) -> ResMemTrunkLoss:
        from memstudio.core.assessors.resmem import load_resmem

        return cls(load_resmem(device), pixel_weight)

    def target_features(self, target: torch.Tensor) -> object:
        with torch.no_grad():
            return target, [normalize_channels(f) for f in self.assessor.trunk_features(target)]

    def distance(self, images: torch.Tensor, target: object) -> torch.Tensor:
        assert isinstance(target, tuple)
        pixels, ref = target
        total = self.pixel_weight * multiscale_pixel_distance(images, pixels.expand_as(images))
        for feat, r in zip(self.assessor.trunk_features(images), ref, strict=True):
            total = total + (normalize_channels(feat) - r).square().sum(dim=1).mean(dim=(1, 2))
        return total

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "checkpoint_sha256": getattr(self.assessor, "checkpoint_hash", None)}


def make_loss(
    name: str = "auto",
    vgg16_path: str | Path | None = None,
    lpips_path: str | Path | None = None,
    device: torch.device | str = "cpu",
) -> ReconstructionLoss:
    """The loss called ``name`` (``auto``: LPIPS when both weight files are given, else multi-scale pixel)."""
    if name == "auto":
        name = "lpips" if vgg16_path and lpips_path else "pixel"
    if name == "lpips":
        if not (vgg16_path and lpips_path):
            raise CheckpointError(
                "the LPIPS loss needs two files: torchvision's VGG16 weights (vgg16-397923af.pth) and the "
                "LPIPS linear heads (vgg.pth of richzhang/PerceptualSimilarity)"
            )
        return LPIPSVGG16.from_files(vgg16_path, lpips_path).to(device)
    if name == "resmem":
        return ResMemTrunkLoss.load(device)
    if name == "pixel":
        return PixelLoss()
    if name == "mse":
        return PlainPixelLoss()
    raise ValueError(f"unknown reconstruction loss {name!r} (auto, lpips, resmem, pixel, mse)")
