"""NIMA in idealo's Keras 2.1 file format: the reader, the MobileNet (symmetric padding), the scores, bad files.

The reference is an independent NumPy forward (NHWC, float64, Keras' own formulas: ZeroPadding2D then a valid
convolution, BatchNormalization with ε = 1e-3, ReLU6, GlobalAveragePooling2D, Dense + softmax) of the same
weights the test writes in Keras' HDF5 layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from keras_files import nima_layers, weight_layers, write_keras_weights
from PIL import Image

from memstudio.core.assessors import nima
from memstudio.core.assessors.keras_hdf5 import HDF5_SIGNATURE
from memstudio.core.errors import CheckpointError
from memstudio.core.imaging import pil_to_tensor

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def layers() -> list:
    return nima_layers(seed=5)


@pytest.fixture(scope="module")
def flat_file(tmp_path_factory: pytest.TempPathFactory, layers: list) -> Path:
    return write_keras_weights(tmp_path_factory.mktemp("nima") / "weights_mobilenet_aesthetic_0.07.hdf5", layers)


@pytest.fixture(scope="module")
def images(photos_dir: Path) -> torch.Tensor:
    """Two 224×224 inputs (no resize, so the reference needs none): a photo crop and seeded noise."""
    with Image.open(photos_dir / "astronaut.png") as im:
        photo = pil_to_tensor(im.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR))
    noise = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    return torch.cat([photo, noise])


@pytest.fixture(scope="module")
def photos_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "assets" / "photos"


# --- the independent reference ------------------------------------------------------------------------------


def _pad(x: np.ndarray, stride: int, mode: str) -> np.ndarray:
    if mode == "keras2.1" or stride == 1:
        return np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    # tf.keras / keras-applications >= 1.0.6: ZeroPadding2D(((0, 1), (0, 1))) before a strided convolution.
    return np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))


def _conv3x3(x: np.ndarray, kernel: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    n, h, w, _ = x.shape
    oh, ow = (h - 3) // stride + 1, (w - 3) // stride + 1
    out = 0.0
    for dy in range(3):
        for dx in range(3):
            patch = x[:, dy : dy + stride * (oh - 1) + 1 : stride, dx : dx + stride * (ow - 1) + 1 : stride, :]
            out = out + (patch * kernel[dy, dx, :, 0] if depthwise else patch @ kernel[dy, dx])
    return out


def _bn_relu6(x: np.ndarray, w: dict[str, np.ndarray]) -> np.ndarray:
    y = (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + 1e-3) * w["gamma"] + w["beta"]
    return np.clip(y, 0.0, 6.0)


def reference(layers: list, images: torch.Tensor, padding: str = "keras2.1") -> np.ndarray:
    """NIMA's 10-bin distribution of ``images`` (224×224, [0, 1]) computed from the Keras weights in NumPy."""
    w = {name: {k: v.astype(np.float64) for k, v in weights} for name, weights in layers}
    x = images.double().permute(0, 2, 3, 1).numpy() * 255.0 / 127.5 - 1.0
    x = _bn_relu6(_conv3x3(_pad(x, 2, padding), w["conv1"]["kernel"], 2, False), w["conv1_bn"])
    for i, (_, stride) in enumerate(nima.BLOCKS, start=1):
        x = _conv3x3(_pad(x, stride, padding), w[f"conv_dw_{i}"]["depthwise_kernel"], stride, True)
        x = _bn_relu6(x, w[f"conv_dw_{i}_bn"])
        x = _bn_relu6(x @ w[f"conv_pw_{i}"]["kernel"][0, 0], w[f"conv_pw_{i}_bn"])
    logits = x.mean(axis=(1, 2)) @ w["dense_1"]["kernel"] + w["dense_1"]["bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def expected(layers: list, images: torch.Tensor) -> np.ndarray:
    return reference(layers, images)


def _assessor(path: Path) -> nima.NIMAAssessor:
    state, config = nima.read_source(path)
    return nima.build(state, config, "0" * 64)


# --- behaviour -----------------------------------------------------------------------------------------------


def test_distribution_and_mean_equal_the_numpy_keras_forward(
    flat_file: Path, expected: np.ndarray, images: torch.Tensor
):
    assessor = _assessor(flat_file)
    assert expected.std(axis=1).min() > 0.01, "random weights must give a non-flat distribution"
    with torch.no_grad():
        probs = assessor.distribution(images).double().numpy()
        mean, std = assessor.mean_std(images)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    ratings = np.arange(1, 11)
    ref_mean = expected @ ratings
    ref_std = np.sqrt((expected * (ratings[None, :] - ref_mean[:, None]) ** 2).sum(axis=1))
    np.testing.assert_allclose(mean.double().numpy(), ref_mean, atol=1e-4)
    np.testing.assert_allclose(std.double().numpy(), ref_std, atol=1e-4)
    np.testing.assert_allclose(assessor.score(images).double().numpy(), ref_mean, atol=1e-4)
    assert abs(ref_mean[0] - ref_mean[1]) > 1e-3, "the two images must score differently"


def test_keras21_symmetric_padding_is_not_tf_keras_same(
    flat_file: Path, layers: list, expected: np.ndarray, images: torch.Tensor
):
    """The tf.keras 'same' variant pads strided convolutions asymmetrically; with the same weights it gives
    another distribution, and ours is the Keras 2.1 one."""
    ours = _assessor(flat_file).score(images).double().numpy()
    ratings = np.arange(1, 11)
    symmetric = expected @ ratings
    same = reference(layers, images, "tf-same") @ ratings
    np.testing.assert_allclose(ours, symmetric, atol=1e-4)
    assert np.abs(ours - same).max() > 1e-2


def test_nested_submodel_and_full_model_files_read_the_same(
    tmp_path: Path, flat_file: Path, layers: list, images: torch.Tensor
):
    nested = write_keras_weights(tmp_path / "nested.hdf5", weight_layers(layers), nested="mobilenet_1.00_224")
    saved = write_keras_weights(tmp_path / "model.h5", layers, model_save=True)
    # A model built twice in one TensorFlow session names its variables conv_dw_3_1/…: still conv_dw_3.
    renamed = [(f"{n}_1" if n == "conv_dw_3" else n, w) for n, w in weight_layers(layers)]
    suffixed = write_keras_weights(tmp_path / "suffixed.hdf5", renamed, nested="mobilenet_1.00_224")
    # Keras splits attributes over 64 KB into weight_names0, weight_names1, …: read them as one list.
    split = write_keras_weights(tmp_path / "split.hdf5", weight_layers(layers), nested="mobilenet_1.00_224")
    import h5py

    with h5py.File(split, "a") as f:
        attrs = f["mobilenet_1.00_224"].attrs
        names = attrs["weight_names"]
        del attrs["weight_names"]
        attrs["weight_names0"], attrs["weight_names1"] = names[:50], names[50:]
    flat_state, _ = nima.read_source(flat_file)
    for path in (nested, saved, suffixed, split):
        state, _ = nima.read_source(path)
        assert state.keys() == flat_state.keys()
        for key, value in flat_state.items():
            assert torch.equal(state[key], value), key


def test_resizes_inside_forward_and_gradients_reach_the_pixels(flat_file: Path):
    assessor = _assessor(flat_file)
    x = torch.rand(2, 3, 300, 260, generator=torch.Generator().manual_seed(4), requires_grad=True)
    score = assessor(x)
    assert score.shape == (2,) and bool(((score >= 1) & (score <= 10)).all())
    score.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    torch.testing.assert_close(assessor.score(x.detach().double()), score.detach(), atol=1e-5, rtol=0)


def test_truncated_and_corrupted_files_name_the_file(tmp_path: Path, flat_file: Path):
    data = flat_file.read_bytes()
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.hdf5.*(truncated|corrupted)"):
        nima.read_source(truncated)
    garbage = tmp_path / "garbage.hdf5"
    garbage.write_bytes(HDF5_SIGNATURE + bytes(range(256)) * 8)
    with pytest.raises(CheckpointError, match="garbage.hdf5"):
        nima.read_source(garbage)


def test_other_architectures_name_the_layer_and_shapes(tmp_path: Path, layers: list):
    wrong = [(n, [(k, v[..., :128]) if n == "conv_pw_5" else (k, v) for k, v in w]) for n, w in layers]
    path = write_keras_weights(tmp_path / "narrow.hdf5", wrong)
    with pytest.raises(CheckpointError, match=r"conv_pw_5.*\(1, 1, 256, 256\).*\(1, 1, 256, 128\)"):
        nima.read_source(path)
    missing = write_keras_weights(tmp_path / "short.hdf5", [layer for layer in layers if layer[0] != "conv_pw_13_bn"])
    with pytest.raises(CheckpointError, match="missing layer 'conv_pw_13_bn'"):
        nima.read_source(missing)
    head = [(n, [(k, v[:, :5] if k == "kernel" else v[:5]) for k, v in w]) if n == "dense_1" else (n, w)
            for n, w in layers]  # fmt: skip
    with pytest.raises(CheckpointError, match=r"dense_1.*\(1024, 10\).*\(1024, 5\)"):
        nima.read_source(write_keras_weights(tmp_path / "head.hdf5", head))
    import h5py

    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(CheckpointError, match="not Keras weights"):
        nima.read_source(plain)
