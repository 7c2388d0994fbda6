"""The Keras 2 HDF5 reader: both layouts Keras writes, kernel layouts, and specific errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from keras_model_files import write_keras_hdf5

from memstudio.core.assessors.keras_hdf5 import (
    conv_kernel,
    dense_kernel,
    depthwise_kernel,
    read_keras_hdf5,
)
from memstudio.core.errors import CheckpointError


def _layers(rng: np.random.Generator) -> list:
    return [
        ("input_1", "InputLayer", {"batch_input_shape": [None, 8, 8, 3]}, {}),
        ("conv1", "Conv2D", {"filters": 4, "kernel_size": [3, 3]}, {"kernel": rng.normal(size=(3, 3, 3, 4))}),
        (
            "bn1",
            "BatchNormalization",
            {"epsilon": 0.001},
            {k: rng.normal(size=4) for k in ("gamma", "beta", "moving_mean", "moving_variance")},
        ),
        ("dense_1", "Dense", {"units": 2}, {"kernel": rng.normal(size=(4, 2)), "bias": rng.normal(size=2)}),
    ]


@pytest.mark.parametrize(("full_model", "nested"), [(True, True), (False, False), (False, True)])
def test_reads_both_layouts_in_file_order(tmp_path, full_model, nested):
    layers = _layers(np.random.default_rng(0))
    path = write_keras_hdf5(tmp_path / "m.h5", layers, full_model=full_model, nested=nested)
    k = read_keras_hdf5(path)
    assert k.full_model is full_model
    assert list(k.layers) == ["input_1", "conv1", "bn1", "dense_1"]
    assert k.weighted_layers() == ["conv1", "bn1", "dense_1"]
    assert list(k.layers["bn1"].weights) == ["gamma", "beta", "moving_mean", "moving_variance"]
    np.testing.assert_array_equal(k.layers["conv1"].weights["kernel"], layers[1][3]["kernel"].astype(np.float32))
    assert k.keras_version == "2.0.5"
    if full_model:
        assert k.layers["bn1"].class_name == "BatchNormalization"
        assert k.layers["bn1"].config["epsilon"] == 0.001
    else:
        assert k.layers["bn1"].class_name is None and k.model_config is None


def test_kernel_layouts_match_keras_semantics():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 5, 5, 3)).astype(np.float32)  # NHWC
    k = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    # Keras Conv2D 'valid': out[n, i, j, o] = Σ x[n, i+a, j+b, c] · k[a, b, c, o]
    ref = np.einsum("nijabc,abco->nijo", _patches(x, 3), k)
    got = F.conv2d(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(conv_kernel(k))).permute(0, 2, 3, 1)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-5)
    d = rng.normal(size=(3, 3, 3, 2)).astype(np.float32)  # depthwise, multiplier 2
    ref_d = np.einsum("nijabc,abcm->nijcm", _patches(x, 3), d).reshape(1, 3, 3, 6)
    got_d = F.conv2d(torch.from_numpy(x).permute(0, 3, 1, 2), torch.from_numpy(depthwise_kernel(d)), groups=3)
    np.testing.assert_allclose(got_d.permute(0, 2, 3, 1).numpy(), ref_d, atol=1e-5)
    w = rng.normal(size=(4, 2)).astype(np.float32)
    v = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(
        F.linear(torch.from_numpy(v), torch.from_numpy(dense_kernel(w))).numpy(), v @ w, atol=1e-5
    )


def _patches(x: np.ndarray, k: int) -> np.ndarray:
    """``[n, i, j, a, b, c]``: the k×k window at (i, j) of an NHWC array ('valid')."""
    n, h, w, c = x.shape
    out = np.empty((n, h - k + 1, w - k + 1, k, k, c), dtype=x.dtype)
    for a in range(k):
        for b in range(k):
            out[:, :, :, a, b, :] = x[:, a : a + h - k + 1, b : b + w - k + 1, :]
    return out


def test_require_names_the_wrong_layer_and_weight(tmp_path):
    k = read_keras_hdf5(write_keras_hdf5(tmp_path / "m.h5", _layers(np.random.default_rng(2))))
    assert k.require("dense_1", {"kernel": (4, 2), "bias": (2,)})["bias"].shape == (2,)
    with pytest.raises(CheckpointError, match=r"layer 'dense_1' weight 'kernel' has shape \(4, 2\), expected \(8, 2\)"):
        k.require("dense_1", {"kernel": (8, 2), "bias": (2,)})
    with pytest.raises(CheckpointError, match=r"layer 'conv1' has weights \['kernel'\], expected \['bias', 'kernel'\]"):
        k.require("conv1", {"kernel": (3, 3, 3, 4), "bias": (4,)})
    with pytest.raises(CheckpointError, match=r"layer 'conv9' is missing"):
        k.require("conv9", {"kernel": (1,)})


def test_bad_files_get_specific_messages(tmp_path):
    good = write_keras_hdf5(tmp_path / "m.h5", _layers(np.random.default_rng(3)))
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.h5: not a readable HDF5 file \(truncated or corrupted\?\)"):
        read_keras_hdf5(truncated)
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.h5: not an HDF5 file"):
        read_keras_hdf5(text)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="the file is empty"):
        read_keras_hdf5(empty)
    with pytest.raises(CheckpointError, match="no such file"):
        read_keras_hdf5(tmp_path / "missing.h5")
    import h5py

    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a Keras model or weights file"):
        read_keras_hdf5(tmp_path / "plain.h5")


def test_a_nested_model_keeps_its_sub_layer_names(tmp_path):
    import h5py

    path = tmp_path / "nested.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"input_1", b"mobilenet_1.00_224"])
        f.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
        g = f.create_group("mobilenet_1.00_224")
        names = [b"conv1/kernel:0", b"conv_pw_1/kernel:0"]
        g.attrs["weight_names"] = np.array(names)
        g.create_dataset("conv1/kernel:0", data=np.ones((3, 3, 3, 2), np.float32))
        g.create_dataset("conv_pw_1/kernel:0", data=np.zeros((1, 1, 2, 4), np.float32))
    k = read_keras_hdf5(path)
    assert not k.full_model
    assert {n: w.shape for n, w in k.layers["mobilenet_1.00_224"].weights.items()} == {
        "conv1/kernel": (3, 3, 3, 2),
        "conv_pw_1/kernel": (1, 1, 2, 4),
    }


def test_split_attribute_lists_and_sublayers_of_a_nested_model(tmp_path):
    """Keras splits attributes over 64 KB into ``layer_names0``, ``layer_names1``, …; a nested model's weights
    come back as its own layers from ``sublayers`` (what NIMA's converter reads), flat files unchanged."""
    import h5py

    path = tmp_path / "split.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names0"] = np.array([b"input_1", b"mobilenet_1.00_224"])
        f.attrs["layer_names1"] = np.array([b"dense_1"])
        f.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
        g = f.create_group("mobilenet_1.00_224")
        g.attrs["weight_names0"] = np.array([b"conv1/kernel:0"])
        g.attrs["weight_names1"] = np.array([b"conv1_bn/gamma:0"])
        g.create_dataset("conv1/kernel:0", data=np.ones((3, 3, 3, 2), np.float32))
        g.create_dataset("conv1_bn/gamma:0", data=np.full(2, 0.5, np.float32))
        d = f.create_group("dense_1")
        d.attrs["weight_names"] = np.array([b"dense_1/kernel:0"])
        d.create_dataset("dense_1/kernel:0", data=np.zeros((2, 10), np.float32))
    k = read_keras_hdf5(path)
    assert list(k.layers) == ["input_1", "mobilenet_1.00_224", "dense_1"]
    # Two sub-layers (no repeated short name): still kept apart by their path.
    assert set(k.layers["mobilenet_1.00_224"].weights) == {"conv1/kernel", "conv1_bn/gamma"}
    flat = k.sublayers()
    assert {n: {w: v.shape for w, v in ws.items()} for n, ws in flat.items()} == {
        "conv1": {"kernel": (3, 3, 3, 2)},
        "conv1_bn": {"gamma": (2,)},
        "dense_1": {"kernel": (2, 10)},
    }
