"""NIMA aesthetics (Talebi & Milanfar 2018) as idealo published it: MobileNet-v1 → dropout → ``dense_1`` softmax.

The network predicts a distribution over the ratings 1…10; the score is its mean ``Σ i·p_i`` (the standard
deviation is reported too). The weights are idealo's ``weights_mobilenet_aesthetic_0.07.hdf5``
(github.com/idealo/image-quality-assessment, Apache-2.0), a Keras 2.1 ``save_weights`` file that memstudio
cannot ship or download: users import it with ``memstudio import-model FILE --name nima``.

The layer sequence is Keras 2.1.x's ``keras/applications/mobilenet.py`` (read for this module):
``conv1_pad`` = ``ZeroPadding2D(padding=(1, 1))`` then ``conv1`` (3×3, stride 2, ``padding='valid'``, no bias),
``conv1_bn``, ReLU6; then 13 blocks ``conv_pad_i`` = ``ZeroPadding2D((1, 1))``, ``conv_dw_i`` (3×3 depthwise,
``padding='valid'``, stride 2 in blocks 2, 4, 6, 12), ``conv_dw_i_bn``, ReLU6, ``conv_pw_i`` (1×1), ``conv_pw_i_bn``,
ReLU6. Every 3×3 convolution is therefore padded by one pixel on *all* sides — PyTorch's ``padding=1``. Later
versions (keras-applications, tf.keras) pad strided convolutions ``((0, 1), (0, 1))`` (TensorFlow's asymmetric
"same") and give stride-1 ones ``padding='same'``; with weights trained in 2.1 that moves the sampling grid of
every strided layer by a pixel and changes the mean score (tests/test_nima.py shows the two differ). Keras batch norms
use ε = 1e-3. idealo's head: ``include_top=False, pooling='avg'`` → ``Dropout(0.75)`` → ``Dense(10, softmax)``,
built on ``base_model.output``, so the layers sit flat in the file; a file whose MobileNet is a nested sub-model
group is read too.

Preprocessing: RGB resized to 224×224, ``x / 127.5 − 1`` (Keras MobileNet ``preprocess_input``). idealo's
``predict`` resizes with ``keras.preprocessing.image.load_img`` (Pillow nearest neighbour); we resize with
antialiased bilinear interpolation so gradients reach every pixel. Images already 224×224 score identically.

The file is read by the shared Keras 2 reader (:mod:`memstudio.core.assessors.keras_hdf5`, which also reads
fer's expression network); this module checks and converts idealo's layers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from memstudio.core.assessors.base import Assessor, check_images
from memstudio.core.assessors.keras_hdf5 import read_keras_hdf5
from memstudio.core.assessors.tencrop import resize
from memstudio.core.device import tf32
from memstudio.core.errors import CheckpointError

FAMILY = "nima"
INPUT_SIZE = 224
NUM_BINS = 10
KERAS_BN_EPSILON = 1e-3
FEATURES = 1024
#: (pointwise filters, stride) of MobileNet-v1's 13 depthwise-separable blocks, α = 1.
BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip
HEAD = "dense_1"
SOURCE_URL = "https://github.com/idealo/image-quality-assessment (weights_mobilenet_aesthetic_0.07.hdf5)"
LICENCE = "Apache-2.0 (idealo image-quality-assessment)"


def conv_bn_pairs() -> list[tuple[str, str]]:
    """The network's (convolution, batch norm) layer names in order, as Keras names them."""
    pairs = [("conv1", "conv1_bn")]
    for i in range(1, len(BLOCKS) + 1):
        pairs += [(f"conv_dw_{i}", f"conv_dw_{i}_bn"), (f"conv_pw_{i}", f"conv_pw_{i}_bn")]
    return pairs


class NIMANet(nn.Module):
    """MobileNet-v1 (Keras 2.1 padding) + ``dense_1``; returns the 10-bin rating distribution ``[N, 10]``.

    Module names are the Keras layer names, so a state dict reads like the HDF5 file it came from.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self.conv1_bn = nn.BatchNorm2d(32, eps=KERAS_BN_EPSILON)
        channels = 32
        for i, (filters, stride) in enumerate(BLOCKS, start=1):
            dw = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, groups=channels, bias=False)
            setattr(self, f"conv_dw_{i}", dw)
            setattr(self, f"conv_dw_{i}_bn", nn.BatchNorm2d(channels, eps=KERAS_BN_EPSILON))
            setattr(self, f"conv_pw_{i}", nn.Conv2d(channels, filters, 1, bias=False))
            setattr(self, f"conv_pw_{i}_bn", nn.BatchNorm2d(filters, eps=KERAS_BN_EPSILON))
            channels = filters
        self.dense_1 = nn.Linear(FEATURES, NUM_BINS)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled MobileNet features ``[N, 1024]`` of a preprocessed batch."""
        return self.levels(x)[-1]

    def levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The global average of the last layer at each of MobileNet's five resolutions (112 → 7 px):
        ``[N, 64]``, ``[N, 128]``, ``[N, 256]``, ``[N, 512]``, ``[N, 1024]`` (multi-level features for trunks)."""
        out = []
        pairs = conv_bn_pairs()
        for index, (conv, bn) in enumerate(pairs):
            x = F.hardtanh(getattr(self, bn)(getattr(self, conv)(x)), 0.0, 6.0)  # ReLU6
            block = index // 2  # conv1 is index 0; conv_dw_i is 2i − 1, conv_pw_i is 2i
            pointwise = index % 2 == 0 and block > 0
            if pointwise and (block == len(BLOCKS) or BLOCKS[block][1] == 2):  # the next block halves the size
                out.append(x.mean(dim=(2, 3)))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Dropout(0.75) is the identity at inference.
        return torch.softmax(self.dense_1(self.features(x)), dim=1)

    def fold_batch_norms(self) -> None:
        """Fold each frozen batch norm into its convolution: one pass less over every activation."""
        for conv, bn in conv_bn_pairs():
            setattr(self, conv, fuse_conv_bn_eval(getattr(self, conv), getattr(self, bn)))
            setattr(self, bn, nn.Identity())


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """``[N, 3, H, W]`` in [0, 1] → 224×224 in [−1, 1] (``x·255 / 127.5 − 1``), differentiably."""
    return resize(images, INPUT_SIZE) * 2.0 - 1.0


class NIMAAssessor(Assessor):
    """Aesthetics as NIMA's mean rating on 1…10 (idealo's MobileNet weights, imported by the user)."""

    name = "nima"
    property = "aesthetics"
    score_range = (1.0, 10.0)
    decimals = 2

    def __init__(self, net: NIMANet, checkpoint_hash: str | None) -> None:
        super().__init__()
        self.net = net.eval()
        self.checkpoint_hash = checkpoint_hash
        self.register_buffer("ratings", torch.arange(1, NUM_BINS + 1, dtype=torch.float32), persistent=False)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """The 224×224 resize, so that files of any size are scored in one batch."""
        check_images(images)
        return resize(images, INPUT_SIZE)

    def distribution(self, images: torch.Tensor) -> torch.Tensor:
        """Probabilities of the ratings 1…10, ``[N, 10]``."""
        check_images(images)
        dtype = next(self.net.parameters()).dtype
        x = preprocess(images.to(dtype)).contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        p = self.distribution(images)
        return p @ self.ratings.to(p.dtype)

    def mean_std(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """NIMA's two reported numbers: the mean rating and the standard deviation of the distribution."""
        return _mean_std(self.distribution(images), self.ratings)

    def score_prepared_details(self, prepared: torch.Tensor) -> tuple[torch.Tensor, list[dict[str, object]]]:
        """The mean rating, and per image the standard deviation and the 10-bin distribution (Talebi &
        Milanfar report both numbers: the spread says how much raters would disagree)."""
        with torch.inference_mode(), tf32(False):
            p = self.distribution(prepared).float()
            mean, std = _mean_std(p, self.ratings.to(p.dtype))
        details = [
            {"std": float(s), "distribution": [round(float(v), 6) for v in row]}
            for s, row in zip(std.cpu(), p.cpu(), strict=True)
        ]
        return mean.cpu(), details


def _mean_std(p: torch.Tensor, ratings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = p @ ratings
    return mean, torch.sqrt((p * (ratings[None, :] - mean[:, None]) ** 2).sum(dim=1))


# --- converting idealo's Keras 2 weights (read by keras_hdf5) ------------------------------------------------


def _canonical(layers: dict[str, dict[str, np.ndarray]], wanted: set[str]) -> dict[str, dict[str, np.ndarray]]:
    """Map TensorFlow-uniquified names (``conv_dw_3_1``) of a nested sub-model back to Keras' (``conv_dw_3``)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, weights in layers.items():
        base = re.sub(r"_\d+$", "", name)
        if name not in wanted and base in wanted and base not in layers and base not in out:
            name = base
        out[name] = weights
    return out


def _head_layer(layers: dict[str, dict[str, np.ndarray]], path: Path, trunk: set[str]) -> str:
    if HEAD in layers:
        return HEAD
    dense = [n for n, w in layers.items() if n not in trunk and "kernel" in w and w["kernel"].ndim == 2]
    if len(dense) == 1:
        return dense[0]
    raise CheckpointError(
        f"{path}: no NIMA head: expected one Dense layer {HEAD!r} with kernel (1024, 10); "
        f"found dense layers {dense or 'none'}"
    )


def state_from_keras(layers: dict[str, dict[str, np.ndarray]], path: Path) -> dict[str, torch.Tensor]:
    """Convert idealo's Keras weights to :class:`NIMANet`'s state dict, checking every layer and shape.

    Keras stores convolutions as HWIO (``(3, 3, in, out)``), depthwise kernels as ``(3, 3, channels, 1)`` and
    dense kernels as ``(in, out)``; PyTorch wants OIHW, ``(channels, 1, 3, 3)`` and ``(out, in)``.
    """
    names = {n for pair in conv_bn_pairs() for n in pair}
    layers = _canonical(layers, names | {HEAD})
    missing = [n for n in (n for pair in conv_bn_pairs() for n in pair) if n not in layers]
    if missing:
        others = sorted(layers)[:8]
        raise CheckpointError(
            f"{path}: not idealo's NIMA MobileNet (Keras 2.1 layout): missing layer {missing[0]!r}"
            f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''}; the file has layers {others}"
        )
    state: dict[str, torch.Tensor] = {}

    def take(layer: str, weight: str, shape: tuple[int, ...]) -> np.ndarray:
        found = layers[layer].get(weight)
        if found is None:
            raise CheckpointError(
                f"{path}: layer {layer!r} has no weight {weight!r} (it has {sorted(layers[layer])})"
            )
        if tuple(found.shape) != shape:
            raise CheckpointError(
                f"{path}: layer {layer!r} weight {weight!r}: expected shape {shape}, found {tuple(found.shape)}"
            )
        return found.astype(np.float32)

    def bn(layer: str, channels: int) -> None:
        for keras_name, torch_name in (
            ("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"), ("moving_variance", "running_var"),
        ):  # fmt: skip
            state[f"{layer}.{torch_name}"] = torch.from_numpy(take(layer, keras_name, (channels,)).copy())
        state[f"{layer}.num_batches_tracked"] = torch.zeros((), dtype=torch.long)

    state["conv1.weight"] = torch.from_numpy(take("conv1", "kernel", (3, 3, 3, 32)).transpose(3, 2, 0, 1).copy())
    bn("conv1_bn", 32)
    channels = 32
    for i, (filters, _) in enumerate(BLOCKS, start=1):
        dw = take(f"conv_dw_{i}", "depthwise_kernel", (3, 3, channels, 1))
        state[f"conv_dw_{i}.weight"] = torch.from_numpy(dw.transpose(2, 3, 0, 1).copy())
        bn(f"conv_dw_{i}_bn", channels)
        pw = take(f"conv_pw_{i}", "kernel", (1, 1, channels, filters))
        state[f"conv_pw_{i}.weight"] = torch.from_numpy(pw.transpose(3, 2, 0, 1).copy())
        bn(f"conv_pw_{i}_bn", filters)
        channels = filters
    head = _head_layer(layers, path, names)
    state["dense_1.weight"] = torch.from_numpy(take(head, "kernel", (FEATURES, NUM_BINS)).T.copy())
    state["dense_1.bias"] = torch.from_numpy(take(head, "bias", (NUM_BINS,)).copy())
    return state


def looks_like_nima(layers: dict[str, dict[str, np.ndarray]]) -> bool:
    """Cheap test used to tell a NIMA file from other Keras files before the full, checked conversion."""
    names = set(_canonical(layers, {n for pair in conv_bn_pairs() for n in pair}))
    return {"conv1", "conv_dw_1", "conv_pw_13_bn"} <= names


def read_source(path: Path, **_: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The checked state dict and the stored-assessor config of idealo's HDF5 file."""
    layers = read_keras_hdf5(path).sublayers()
    return state_from_keras(layers, Path(path)), {"input_size": INPUT_SIZE, "bins": NUM_BINS}


def build(state: dict[str, torch.Tensor], config: dict[str, Any], checkpoint_hash: str | None) -> NIMAAssessor:
    """The assessor of a stored NIMA state dict, batch norms folded, channels-last (same scores, faster)."""
    with torch.device("meta"):
        net = NIMANet()
    net.load_state_dict(state, strict=True, assign=True)
    net.eval().fold_batch_norms()
    net.requires_grad_(False)
    return NIMAAssessor(net.to(memory_format=torch.channels_last), checkpoint_hash)
