"""Keras 2 weight files written the way Keras' ``save_weights`` writes them, for loader tests (h5py only).

``write_keras_weights`` reproduces ``keras.engine.topology.save_weights_to_hdf5_group`` (Keras 2.1): root
attributes ``layer_names``, ``backend``, ``keras_version``; one group per layer with a ``weight_names``
attribute; each weight a dataset at ``<layer>/<weight name>`` (the ``/`` in ``conv1/kernel:0`` makes a subgroup).
``nima_layers`` lists idealo's NIMA model layer by layer with seeded random weights in Keras shapes.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from memstudio.core.assessors.nima import BLOCKS

Layer = tuple[str, list[tuple[str, np.ndarray]]]


def write_keras_weights(path: Path, layers: list[Layer], nested: str | None = None, model_save: bool = False) -> Path:
    """Write ``layers`` as Keras 2.1 does; ``nested`` puts every layer but the head into one sub-model group
    of that name (a ``Model`` used as a layer); ``model_save`` nests everything under ``model_weights``."""
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if model_save else f
        if nested is not None:
            inner = [w for name, weights in layers[:-1] for w in [(f"{name}/{k}:0", v) for k, v in weights]]
            groups = [("input_1", []), (nested, inner), (layers[-1][0], _names(layers[-1]))]
        else:
            groups = [(name, _names((name, weights))) for name, weights in layers]
        root.attrs["layer_names"] = np.array([g.encode() for g, _ in groups])
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.1.6"
        for name, weights in groups:
            group = root.create_group(name)
            group.attrs["weight_names"] = np.array([w.encode() for w, _ in weights], dtype="S")
            for weight_name, value in weights:
                group.create_dataset(weight_name, data=value)
    return path


def _names(layer: Layer) -> list[tuple[str, np.ndarray]]:
    name, weights = layer
    return [(f"{name}/{k}:0", v) for k, v in weights]


def nima_layers(seed: int = 0) -> list[Layer]:
    """idealo's NIMA (Keras 2.1 MobileNet α=1, pooling='avg', Dropout, Dense 10) with seeded weights.

    Scaled so that activations stay in ReLU6's working range through 27 layers and the softmax is not flat.
    """
    rng = np.random.default_rng(seed)

    def bn(channels: int) -> list[tuple[str, np.ndarray]]:
        return [
            ("gamma", rng.uniform(0.6, 1.4, channels).astype(np.float32)),
            ("beta", rng.normal(0.1, 0.2, channels).astype(np.float32)),
            ("moving_mean", rng.normal(0.0, 0.2, channels).astype(np.float32)),
            ("moving_variance", rng.uniform(0.5, 1.5, channels).astype(np.float32)),
        ]

    def kernel(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return (rng.normal(0.0, 1.0, shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    layers: list[Layer] = [("input_1", []), ("conv1_pad", []), ("conv1", [("kernel", kernel((3, 3, 3, 32), 27))])]
    layers += [("conv1_bn", bn(32)), ("conv1_relu", [])]
    channels = 32
    for i, (filters, _) in enumerate(BLOCKS, start=1):
        layers += [
            (f"conv_pad_{i}", []),
            (f"conv_dw_{i}", [("depthwise_kernel", kernel((3, 3, channels, 1), 9))]),
            (f"conv_dw_{i}_bn", bn(channels)),
            (f"conv_dw_{i}_relu", []),
            (f"conv_pw_{i}", [("kernel", kernel((1, 1, channels, filters), channels))]),
            (f"conv_pw_{i}_bn", bn(filters)),
            (f"conv_pw_{i}_relu", []),
        ]
        channels = filters
    layers += [("global_average_pooling2d_1", []), ("dropout_1", [])]
    head = [
        ("kernel", (rng.normal(0.0, 1.0, (1024, 10)) * 0.08).astype(np.float32)),
        ("bias", rng.normal(0.0, 0.3, 10).astype(np.float32)),
    ]
    layers.append(("dense_1", head))
    return layers


def weight_layers(layers: list[Layer]) -> list[Layer]:
    """The layers that carry weights (a nested sub-model file holds only those, plus the head)."""
    return [(name, weights) for name, weights in layers if weights]
