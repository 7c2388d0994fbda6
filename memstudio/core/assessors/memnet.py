"""MemNet (Khosla et al. 2015, LaMem; paper 004): Hybrid-CNN (CaffeNet layout) fine-tuned to one memorability output.

Architecture (Caffe, as GANalyze's ``tensorflow/assessors/memnet.py`` rebuilds it): conv1 96×11×11 stride 4 →
ReLU → max-pool 3/2 → LRN; conv2 256×5×5 pad 2, 2 groups → ReLU → max-pool 3/2 → LRN; conv3 384×3×3 pad 1;
conv4 384×3×3 pad 1, 2 groups; conv5 256×3×3 pad 1, 2 groups → max-pool 3/2; fc6 4096, fc7 4096 (ReLU, dropout
off at inference), fc8 1. LRN is Caffe's across-channel kind: 5 channels, α = 1e-4 (divided by 5), β = 0.75,
k = 1 — PyTorch's ``LocalResponseNorm(5, 1e-4, 0.75, 1)``; Caffe pools round up (``ceil_mode``).

Preprocessing is the original demo's: RGB → BGR on the 0–255 scale, resized to 256×256, minus the 256×256 mean
image, the ten 227-pixel crops (:mod:`memstudio.core.assessors.tencrop`), the ten fc8 outputs averaged, then the
demo's hard-coded linear map ``clip((fc8 − 0.7626)·2 + 0.65, 0, 1)`` (ResMem paper §MemNet; GANalyze's code).

The file is the PyTorch state dict most users have: GANalyze's conversion of the Caffe model,
``memnet_state_dict.p`` (ganalyze.csail.mit.edu/models; a plain ``pickle`` of tensors, read by
:mod:`memstudio.core.assessors.tensor_pickle` without running code), or the same dict saved with ``torch.save``
as a ``.pth``. Expected keys and shapes (``module.`` prefixes and a ``{"state_dict": …}`` wrapper are accepted,
``fc8-euclidean`` / ``fc8_euclidean`` are read as ``fc8``)::

    conv1.weight (96, 3, 11, 11)   conv1.bias (96,)
    conv2.weight (256, 48, 5, 5)   conv2.bias (256,)
    conv3.weight (384, 256, 3, 3)  conv3.bias (384,)
    conv4.weight (384, 192, 3, 3)  conv4.bias (384,)
    conv5.weight (256, 192, 3, 3)  conv5.bias (256,)
    fc6.weight (4096, 9216)        fc6.bias (4096,)
    fc7.weight (4096, 4096)        fc7.bias (4096,)
    fc8.weight (1, 4096)           fc8.bias (1,)
    image_mean (3, 256, 256) or (256, 256, 3), BGR, 0–255   [optional here; else give --mean FILE]

The mean image ships separately in GANalyze (``memnet_mean.mat``, variable ``image_mean``, also in
``tensorflow/assessors/``); ``.mat`` (MATLAB v5 via scipy, v7.3 via h5py) and ``.npy`` files are read.
MemNet's licence is the LaMem release's (memorability.csail.mit.edu: research use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from memstudio.core.assessors.base import Assessor, check_images
from memstudio.core.assessors.keras_hdf5 import is_hdf5
from memstudio.core.assessors.statedicts import check_shapes, strip_prefixes, tensors_of
from memstudio.core.assessors.tencrop import crop_mean, resize, ten_crop
from memstudio.core.assessors.tensor_pickle import is_plain_pickle, is_torch_file, read_tensor_pickle
from memstudio.core.checkpoints import safe_torch_load
from memstudio.core.errors import CheckpointError

FAMILY = "memnet"
RESIZE = 256
CROP = 227
#: The demo server's hard-coded calibration of the fc8 output (not learnt).
MEAN_PRED, MEAN_PRED_ADD, PRED_RESCALE = 0.7626, 0.65, 2.0
SOURCE_URL = "memorability.csail.mit.edu (Caffe model); GANalyze's PyTorch conversion + memnet_mean.mat"
LICENCE = "LaMem / MemNet release terms (MIT CSAIL; research use)"

SHAPES: dict[str, tuple[int, ...]] = {
    "conv1.weight": (96, 3, 11, 11), "conv1.bias": (96,),
    "conv2.weight": (256, 48, 5, 5), "conv2.bias": (256,),
    "conv3.weight": (384, 256, 3, 3), "conv3.bias": (384,),
    "conv4.weight": (384, 192, 3, 3), "conv4.bias": (384,),
    "conv5.weight": (256, 192, 3, 3), "conv5.bias": (256,),
    "fc6.weight": (4096, 9216), "fc6.bias": (4096,),
    "fc7.weight": (4096, 4096), "fc7.bias": (4096,),
    "fc8.weight": (1, 4096), "fc8.bias": (1,),
}  # fmt: skip
MEAN_KEY = "image_mean"
_FC8_ALIASES = ("fc8-euclidean", "fc8_euclidean")


class MemNetNet(nn.Module):
    """The Caffe network; ``forward`` maps mean-subtracted BGR crops ``[M, 3, 227, 227]`` to fc8 ``[M]``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(9216, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, 1)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.norm = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.pool(F.relu(self.conv1(x))))
        x = self.norm(self.pool(F.relu(self.conv2(x))))
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = self.pool(F.relu(self.conv5(x)))
        x = F.relu(self.fc6(x.flatten(1)))
        x = F.relu(self.fc7(x))
        return self.fc8(x).squeeze(1)


class MemNetAssessor(Assessor):
    """Memorability in [0, 1] as the MemNet demo reported it (ten-crop average, hard-coded calibration)."""

    name = "memnet"
    property = "memorability"
    score_range = (0.0, 1.0)
    decimals = 3

    def __init__(self, net: MemNetNet, image_mean: torch.Tensor, checkpoint_hash: str | None) -> None:
        super().__init__()
        self.net = net.eval()
        self.register_buffer("image_mean", image_mean.reshape(1, 3, RESIZE, RESIZE).float())
        self.checkpoint_hash = checkpoint_hash

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """The 256×256 resize, so that files of any size are scored in one batch."""
        check_images(images)
        return resize(images, RESIZE)

    def crops(self, images: torch.Tensor) -> torch.Tensor:
        """The ten mean-subtracted BGR crops of every image, ``[N·10, 3, 227, 227]``."""
        check_images(images)
        x = images.float().flip(1) * 255.0  # RGB → BGR, Caffe's 0–255 scale
        x = resize(x, RESIZE)
        return ten_crop(x - self.image_mean, CROP)

    def raw(self, images: torch.Tensor) -> torch.Tensor:
        """fc8 averaged over the ten crops, before the demo's calibration, ``[N]``."""
        return crop_mean(self.net(self.crops(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return ((self.raw(images) - MEAN_PRED) * PRED_RESCALE + MEAN_PRED_ADD).clamp(0.0, 1.0)


def _normalise(obj: Any) -> dict[str, torch.Tensor] | None:
    state = tensors_of(obj)
    if state is None:
        return None
    state = strip_prefixes(state, ("module.",))
    for alias in _FC8_ALIASES:
        for part in ("weight", "bias"):
            if f"{alias}.{part}" in state:
                state[f"fc8.{part}"] = state.pop(f"{alias}.{part}")
    return state


def matches(obj: Any) -> bool:
    """Whether a loaded PyTorch object looks like a MemNet state dict (conv1 96×3×11×11 and an fc8)."""
    state = _normalise(obj)
    return (
        state is not None
        and tuple(state.get("conv1.weight", torch.empty(0)).shape) == SHAPES["conv1.weight"]
        and "fc8.weight" in state
    )


def load_any(path: Path) -> Any:
    """A ``torch.save`` file (``weights_only``) or GANalyze's plain pickle ``memnet_state_dict.p``."""
    if is_plain_pickle(path) and not is_torch_file(path):
        return read_tensor_pickle(path)
    return safe_torch_load(path)


def read_mean(path: str | Path) -> torch.Tensor:
    """The 256×256 BGR mean image from a ``.npy`` or ``.mat`` file (GANalyze's ``memnet_mean.mat``)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".mat" and is_hdf5(path):
            array = _read_mat73(path)
        elif path.suffix.lower() == ".mat":
            from scipy.io import loadmat

            contents = loadmat(path)
            if MEAN_KEY not in contents:
                found = sorted(k for k in contents if not k.startswith("__"))
                raise CheckpointError(f"{path}: no variable {MEAN_KEY!r} in this .mat file (it has {found})")
            array = np.asarray(contents[MEAN_KEY])
        else:
            array = np.load(path, allow_pickle=False)
    except CheckpointError:
        raise
    except (OSError, ValueError, NotImplementedError, TypeError) as exc:
        raise CheckpointError(f"{path}: unreadable MemNet mean image: {exc}") from exc
    return _mean_tensor(torch.from_numpy(np.array(array, dtype=np.float32)), path)


def _read_mat73(path: Path) -> np.ndarray:
    """``image_mean`` of a MATLAB v7.3 file (HDF5, column-major: an H×W×3 array reads as 3×W×H)."""
    import h5py

    with h5py.File(path, "r") as f:
        if MEAN_KEY not in f:
            raise CheckpointError(f"{path}: no variable {MEAN_KEY!r} in this .mat file (it has {sorted(f)})")
        return np.asarray(f[MEAN_KEY][()]).transpose()


def _mean_tensor(mean: torch.Tensor, path: Path) -> torch.Tensor:
    if tuple(mean.shape) == (RESIZE, RESIZE, 3):
        mean = mean.permute(2, 0, 1)
    if tuple(mean.shape) != (3, RESIZE, RESIZE):
        raise CheckpointError(
            f"{path}: MemNet mean image: expected shape (3, 256, 256) or (256, 256, 3), found {tuple(mean.shape)}"
        )
    return mean.float().contiguous()


def read_source(
    path: Path, mean: str | Path | None = None, **_: Any
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The checked state dict (with its mean image) of a MemNet ``.pth``; ``mean`` overrides an embedded one."""
    state = _normalise(load_any(path))
    if state is None:
        raise CheckpointError(f"{path}: not a MemNet state dict (no tensors in it)")
    weights = check_shapes(state, SHAPES, path, "MemNet")
    if mean is not None:
        weights[MEAN_KEY] = read_mean(mean)
    elif MEAN_KEY in state:
        weights[MEAN_KEY] = _mean_tensor(state[MEAN_KEY], path)
    else:
        raise CheckpointError(
            f"{path}: MemNet needs its 256×256 mean image, which this file does not hold: pass "
            "--mean memnet_mean.mat (GANalyze's tensorflow/assessors/memnet_mean.mat) or a .npy of shape (3, 256, 256)"
        )
    return weights, {"resize": RESIZE, "crop": CROP}


def build(state: dict[str, torch.Tensor], config: dict[str, Any], checkpoint_hash: str | None) -> MemNetAssessor:
    with torch.device("meta"):
        net = MemNetNet()
    net.load_state_dict({k: v for k, v in state.items() if k != MEAN_KEY}, strict=True, assign=True)
    net.requires_grad_(False)
    return MemNetAssessor(net.eval(), state[MEAN_KEY], checkpoint_hash)
