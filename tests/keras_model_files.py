"""Writing Keras 2 HDF5 files with h5py, exactly as Keras 2 lays them out, for tests without Keras.

``layers`` is a list of ``(name, class_name, config, weights)``; ``weights`` maps the short weight name
(``kernel``, ``gamma``, …) to its array, in Keras's order. ``nested`` mimics Keras 2.0's renamed inner group
(``conv2d_1/conv2d_1_1/kernel:0``); later versions write ``conv1/kernel:0``.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

Layer = tuple[str, str, dict, dict[str, np.ndarray]]


def write_keras_hdf5(
    path: Path,
    layers: list[Layer],
    full_model: bool = True,
    nested: bool = True,
    keras_version: str = "2.0.5",
    inbound: dict[str, list[str]] | None = None,
) -> Path:
    """Write ``layers``; ``inbound`` (layer → input layers) fills the full model's graph (``inbound_nodes``)."""
    inbound = inbound or {}
    with h5py.File(path, "w") as f:
        if full_model:
            config = {
                "class_name": "Model",
                "config": {
                    "name": "model_1",
                    "layers": [
                        {
                            "class_name": cls,
                            "name": name,
                            "config": {"name": name, **cfg},
                            "inbound_nodes": [[[src, 0, 0, {}] for src in inbound[name]]] if inbound.get(name) else [],
                        }
                        for name, cls, cfg, _ in layers
                    ],
                },
            }
            f.attrs["model_config"] = json.dumps(config).encode()
            f.attrs["keras_version"] = keras_version.encode()
            f.attrs["backend"] = b"tensorflow"
            group = f.create_group("model_weights")
        else:
            group = f
        group.attrs["layer_names"] = np.array([name.encode() for name, *_ in layers])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = keras_version.encode()
        for name, _, _, weights in layers:
            g = group.create_group(name)
            prefix = f"{name}/{name}_1" if nested else name
            names = [f"{prefix}/{short}:0" for short in weights]
            g.attrs["weight_names"] = np.array([n.encode() for n in names])
            for full, array in zip(names, weights.values(), strict=True):
                g.create_dataset(full, data=np.asarray(array, dtype=np.float32))
    return path
