"""EmoNet (GANalyze, paper 000): emotional valence from a ResNet-50 regressor with one output.

GANalyze fine-tuned a ResNet-50 (pretrained on Moments in Time) on the Cornell Emotion6 valence ratings and
published it as ``EmoNet_valence_moments_resnet50_5_best.pth.tar`` (``pytorch/download_pretrained.sh``). Its
``pytorch/assessors/emonet.py`` defines the network as torchvision's ``resnet50`` with ``fc`` replaced by
``Linear(2048, 1)``, and scores an image as the mean over ten 224-pixel crops of the 256×256 image, each
normalised with the ImageNet mean and standard deviation (:mod:`memstudio.core.assessors.tencrop`).

The file is an ImageNet-script checkpoint ``{"state_dict": …}`` whose keys carry two wrapper prefixes
(``module.`` from DataParallel, ``model.`` from the wrapper class) and name the last layer ``last_linear``
(Cadene's ``pretrainedmodels``). Accepted: that file, or any state dict in torchvision's ``resnet50`` layout
(``conv1.weight`` (64, 3, 7, 7), ``bn1.*``, ``layer1.0.conv1.weight`` … ``layer4.2.bn3.*``) with ``fc.weight``
(1, 2048) and ``fc.bias`` (1,), with or without those prefixes. Scores are on Emotion6's valence scale (its
ratings run 1–9; the regressor is not clipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import resnet50

from memstudio.core.assessors.base import Assessor, check_images
from memstudio.core.assessors.statedicts import check_shapes, strip_prefixes, tensors_of
from memstudio.core.assessors.tencrop import crop_mean, resize, ten_crop
from memstudio.core.checkpoints import safe_torch_load
from memstudio.core.errors import CheckpointError

FAMILY = "emonet"
RESIZE = 256
CROP = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SOURCE_URL = "ganalyze.csail.mit.edu/models/EmoNet_valence_moments_resnet50_5_best.pth.tar (GANalyze PyTorch)"
LICENCE = "as published with GANalyze (MIT CSAIL); Emotion6 / Moments terms apply"


def build_net() -> nn.Module:
    """torchvision's ResNet-50 with GANalyze's one-output head."""
    net = resnet50(weights=None)
    net.fc = nn.Linear(net.fc.in_features, 1)
    return net


def _expected_shapes() -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in build_net().state_dict().items()}


def _normalise(obj: Any) -> dict[str, torch.Tensor] | None:
    state = tensors_of(obj)
    if state is None:
        return None
    state = strip_prefixes(state, ("module.", "model."))
    for part in ("weight", "bias"):
        if f"last_linear.{part}" in state:
            state[f"fc.{part}"] = state.pop(f"last_linear.{part}")
    return state


def matches(obj: Any) -> bool:
    """Whether a loaded PyTorch object looks like EmoNet: a ResNet-50 (layer4.2.conv3) with a 1-output fc."""
    state = _normalise(obj)
    return (
        state is not None
        and "layer4.2.conv3.weight" in state
        and "layer3.5.conv3.weight" in state
        and tuple(state.get("fc.weight", torch.empty(0)).shape) == (1, 2048)
    )


class EmoNetAssessor(Assessor):
    """Emotional valence of a whole image (EmoNet, Emotion6 scale), ten-crop average."""

    name = "emonet"
    property = "valence"
    score_range = (1.0, 9.0)
    decimals = 2

    def __init__(self, net: nn.Module, checkpoint_hash: str | None) -> None:
        super().__init__()
        self.net = net.eval()
        self.checkpoint_hash = checkpoint_hash
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """The 256×256 resize, so that files of any size are scored in one batch."""
        check_images(images)
        return resize(images, RESIZE)

    def crops(self, images: torch.Tensor) -> torch.Tensor:
        """The ten normalised 224-pixel crops of each image resized to 256×256, ``[N·10, 3, 224, 224]``."""
        check_images(images)
        x = images.float()
        x = resize(x, RESIZE)
        return ten_crop((x - self.mean) / self.std, CROP)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        crops = self.crops(images).contiguous(memory_format=torch.channels_last)
        return crop_mean(self.net(crops).squeeze(1))


def read_source(path: Path, **_: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The checked torchvision-layout state dict of an EmoNet checkpoint."""
    state = _normalise(safe_torch_load(path))
    if state is None:
        raise CheckpointError(f"{path}: not an EmoNet checkpoint (no tensors in it)")
    expected = _expected_shapes()
    for key in expected:
        # Checkpoints from PyTorch < 0.4.1 have no batch-norm step counters; inference never reads them.
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    return check_shapes(state, expected, path, "EmoNet (ResNet-50, 1 output)"), {
        "resize": RESIZE,
        "crop": CROP,
    }


def build(state: dict[str, torch.Tensor], config: dict[str, Any], checkpoint_hash: str | None) -> EmoNetAssessor:
    with torch.device("meta"):
        net = build_net()
    net.load_state_dict(state, strict=True, assign=True)
    net.requires_grad_(False)
    return EmoNetAssessor(net.to(memory_format=torch.channels_last).eval(), checkpoint_hash)
