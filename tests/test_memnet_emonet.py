"""MemNet and EmoNet: their published PyTorch layouts load, and scores equal an independent reference.

The references are written here from the papers' code (GANalyze's ``tensorflow/assessors/memnet.py`` and
``pytorch/assessors/emonet.py``): groups as explicit channel splits, Caffe's LRN formula by hand, the ten crops
by explicit offsets, torchvision's own ``resnet50`` for EmoNet — none of it shared with memstudio's modules.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.models import resnet50

from memstudio.core.assessors import emonet, memnet
from memstudio.core.assessors.imported import identify_assessor_file
from memstudio.core.assessors.tensor_pickle import read_tensor_pickle
from memstudio.core.errors import CheckpointError
from memstudio.core.imaging import pil_to_tensor

pytestmark = pytest.mark.usefixtures("single_thread")


# --- MemNet -------------------------------------------------------------------------------------------------


def memnet_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded weights in the published shapes, scaled so fc8 stays near the calibration's centre (0.76)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in memnet.SHAPES.items():
        if key.endswith("bias"):
            state[key] = torch.randn(shape, generator=g) * 0.01
        else:
            fan_in = math.prod(shape[1:])
            state[key] = torch.randn(shape, generator=g) * math.sqrt(2.0 / fan_in)
    state["fc8.weight"] *= 0.02
    state["fc8.bias"] = torch.tensor([0.76])
    return state


def memnet_mean(seed: int = 1) -> np.ndarray:
    """A smooth BGR mean image on the 0–255 scale, H×W×3 like GANalyze's ``memnet_mean.mat``."""
    yy, xx = np.mgrid[0:256, 0:256]
    base = np.array([104.0, 117.0, 123.0])
    return (base + 10 * np.sin(yy / 40.0)[..., None] + 5 * np.cos(xx / 30.0)[..., None]).astype(np.float32)


def _lrn(x: torch.Tensor) -> torch.Tensor:
    """Caffe ACROSS_CHANNELS LRN, local_size 5, alpha 1e-4, beta 0.75, k 1, written out."""
    squared = F.pad(x.pow(2), (0, 0, 0, 0, 2, 2))
    window = sum(squared[:, i : i + x.shape[1]] for i in range(5))
    return x / (1.0 + 1e-4 / 5 * window).pow(0.75)


def _grouped(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, padding: int) -> torch.Tensor:
    half_in, half_out = x.shape[1] // 2, weight.shape[0] // 2
    a = F.conv2d(x[:, :half_in], weight[:half_out], bias[:half_out], padding=padding)
    b = F.conv2d(x[:, half_in:], weight[half_out:], bias[half_out:], padding=padding)
    return torch.cat([a, b], dim=1)


def memnet_reference(state: dict[str, torch.Tensor], mean_hwc: np.ndarray, images: torch.Tensor) -> torch.Tensor:
    """GANalyze's MemNet pipeline on 256×256 RGB images in [0, 1]: (raw fc8 average, calibrated score)."""
    s = {k: v.double() for k, v in state.items()}
    bgr = images.double().flip(1) * 255.0 - torch.from_numpy(mean_hwc).double().permute(2, 0, 1)
    crops = []
    for img in bgr:
        views = []
        for i in (0, 29):
            for j in (0, 29):
                views.append(img[:, i : i + 227, j : j + 227])
        c = math.floor(29 / 2) + 1
        views.append(img[:, c : c + 227, c : c + 227])
        crops += views + [v.flip(-1) for v in views]
    x = torch.stack(crops)
    x = _lrn(F.max_pool2d(F.relu(F.conv2d(x, s["conv1.weight"], s["conv1.bias"], stride=4)), 3, 2))
    x = _lrn(F.max_pool2d(F.relu(_grouped(x, s["conv2.weight"], s["conv2.bias"], 2)), 3, 2))
    x = F.relu(F.conv2d(x, s["conv3.weight"], s["conv3.bias"], padding=1))
    x = F.relu(_grouped(x, s["conv4.weight"], s["conv4.bias"], 1))
    x = F.max_pool2d(F.relu(_grouped(x, s["conv5.weight"], s["conv5.bias"], 1)), 3, 2)
    x = F.relu(x.flatten(1) @ s["fc6.weight"].T + s["fc6.bias"])
    x = F.relu(x @ s["fc7.weight"].T + s["fc7.bias"])
    raw = (x @ s["fc8.weight"].T + s["fc8.bias"]).reshape(-1, 10).mean(dim=1)
    return raw, ((raw - 0.7626) * 2 + 0.65).clamp(0, 1)


@pytest.fixture(scope="module")
def memnet_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, torch.Tensor]]:
    folder = tmp_path_factory.mktemp("memnet")
    state = memnet_state()
    # As users have it: DataParallel prefixes, Caffe's fc8-euclidean name, a .mat mean beside it.
    published = {f"module.{k.replace('fc8', 'fc8-euclidean')}": v for k, v in state.items()}
    torch.save(published, folder / "memnet.pth")
    from scipy.io import savemat

    savemat(folder / "memnet_mean.mat", {"image_mean": memnet_mean()})
    return folder / "memnet.pth", folder / "memnet_mean.mat", state


def test_memnet_equals_the_caffe_style_reference(memnet_files):
    path, mean_path, state = memnet_files
    assert identify_assessor_file(path) == "memnet"
    weights, config = memnet.read_source(path, mean=mean_path)
    assessor = memnet.build(weights, config, "0" * 64)
    images = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(3))
    raw_ref, score_ref = memnet_reference(state, memnet_mean(), images)
    with torch.no_grad():
        raw = assessor.raw(images)
        score = assessor.score(images)
    assert 0.0 < float(score_ref.min()) and float(score_ref.max()) < 1.0, "scores must not sit at the clip"
    torch.testing.assert_close(raw.double(), raw_ref, atol=2e-5, rtol=0)
    torch.testing.assert_close(score.double(), score_ref, atol=5e-5, rtol=0)
    assert abs(float(raw_ref[0] - raw_ref[1])) > 1e-4


def test_memnet_mean_embedded_in_the_state_dict_and_bad_files(tmp_path: Path, memnet_files):
    path, mean_path, state = memnet_files
    with pytest.raises(CheckpointError, match="mean image.*--mean"):
        memnet.read_source(path)
    embedded = dict(state, image_mean=torch.from_numpy(memnet_mean()).permute(2, 0, 1).contiguous())
    torch.save({"state_dict": embedded}, tmp_path / "with_mean.pth")
    weights, _ = memnet.read_source(tmp_path / "with_mean.pth")
    torch.testing.assert_close(weights["image_mean"], torch.from_numpy(memnet_mean()).permute(2, 0, 1))
    ungrouped = dict(state, **{"conv2.weight": torch.zeros(256, 96, 5, 5)})
    torch.save(ungrouped, tmp_path / "alexnet.pth")
    with pytest.raises(CheckpointError, match=r"conv2\.weight.*\(256, 48, 5, 5\).*\(256, 96, 5, 5\)"):
        memnet.read_source(tmp_path / "alexnet.pth", mean=mean_path)
    data = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=r"cut\.pth.*(truncated|corrupted|damaged)"):
        memnet.read_source(tmp_path / "cut.pth", mean=mean_path)
    import h5py

    with h5py.File(tmp_path / "mean73.mat", "w") as f:  # MATLAB v7.3 stores arrays column-major
        f.create_dataset("image_mean", data=memnet_mean().transpose())
    weights, _ = memnet.read_source(path, mean=tmp_path / "mean73.mat")
    torch.testing.assert_close(weights["image_mean"], torch.from_numpy(memnet_mean()).permute(2, 0, 1))
    np.save(tmp_path / "small_mean.npy", np.zeros((3, 227, 227), np.float32))
    with pytest.raises(CheckpointError, match=r"\(3, 256, 256\).*\(3, 227, 227\)"):
        memnet.read_source(path, mean=tmp_path / "small_mean.npy")


def test_memnet_reads_ganalyzes_plain_pickle_without_running_code(tmp_path: Path, memnet_files):
    """GANalyze ships ``memnet_state_dict.p``: ``pickle.dump`` of the tensor dict (not ``torch.save``)."""
    import pickle

    path, mean_path, state = memnet_files
    published = tmp_path / "memnet_state_dict.p"
    with open(published, "wb") as f:
        pickle.dump(state, f, protocol=4)
    assert identify_assessor_file(published) == "memnet"
    weights, _ = memnet.read_source(published, mean=mean_path)
    for key, value in state.items():
        assert torch.equal(weights[key], value), key
    # Protocol 2 (Python 2 era) carries the storage blobs through _codecs.encode: a small dict shows it reads.
    small = {"conv1.bias": state["conv1.bias"], "fc8.weight": state["fc8.weight"]}
    (tmp_path / "p2.p").write_bytes(pickle.dumps(small, protocol=2))
    again = read_tensor_pickle(tmp_path / "p2.p")
    assert again.keys() == small.keys() and all(torch.equal(again[k], v) for k, v in small.items())

    class Exploit:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    evil = tmp_path / "evil.p"
    evil.write_bytes(pickle.dumps({"conv1.weight": Exploit()}, protocol=2))
    assert identify_assessor_file(evil) is None
    with pytest.raises(CheckpointError, match=r"refused global (builtins|io)\.open"):
        memnet.read_source(evil, mean=mean_path)
    assert not (tmp_path / "pwned").exists()


def test_memnet_is_differentiable_and_resizes_inside_forward(memnet_files):
    path, mean_path, _ = memnet_files
    assessor = memnet.build(*memnet.read_source(path, mean=mean_path), None)
    x = torch.rand(1, 3, 300, 200, generator=torch.Generator().manual_seed(5), requires_grad=True)
    assessor.raw(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# --- EmoNet -------------------------------------------------------------------------------------------------


def emonet_network(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = resnet50(weights=None)
    net.fc = torch.nn.Linear(2048, 1)
    g = torch.Generator().manual_seed(seed + 1)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=g) * 0.05)
            module.running_var.uniform_(0.8, 1.2, generator=g)
            module.weight.data.uniform_(0.8, 1.2, generator=g)
    net.fc.weight.data *= 20.0  # pooled random features vary little between views; make that visible
    return net.eval()


@pytest.fixture(scope="module")
def emonet_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """GANalyze's checkpoint as published: ImageNet-script dict, ``module.model.`` keys, ``last_linear``,
    legacy (pre-zip) torch.save format."""
    net = emonet_network()
    state = {}
    for key, value in net.state_dict().items():
        state[f"module.model.{key.replace('fc.', 'last_linear.')}"] = value
    path = tmp_path_factory.mktemp("emonet") / "EmoNet_valence_moments_resnet50_5_best.pth.tar"
    torch.save({"epoch": 5, "arch": "resnet50", "state_dict": state}, path, _use_new_zipfile_serialization=False)
    return path, net


def test_emonet_equals_torchvision_resnet50_on_ganalyze_ten_crops(emonet_file):
    path, net = emonet_file
    assert identify_assessor_file(path) == "emonet"
    assessor = emonet.build(*emonet.read_source(path), "0" * 64)
    with Image.open(Path(__file__).resolve().parents[1] / "assets" / "photos" / "chelsea.png") as im:
        image = pil_to_tensor(im.convert("RGB").resize((256, 256), Image.Resampling.BILINEAR))
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(3, 1, 1)
    img = (image[0] - mean) / std
    views = [img[:, i : i + 224, j : j + 224] for i in (0, 32) for j in (0, 32)]
    views.append(img[:, 17 : 17 + 224, 17 : 17 + 224])
    crops = torch.stack(views + [v.flip(-1) for v in views])
    with torch.no_grad():
        per_crop = net(crops)
        ours = assessor.score(image)
    assert float(per_crop.std()) > 1e-3, "the ten crops must give different outputs"
    torch.testing.assert_close(ours[0], per_crop.mean(), atol=1e-5, rtol=1e-5)


def test_emonet_bad_files_name_the_tensor(tmp_path: Path, emonet_file):
    path, net = emonet_file
    state = net.state_dict()
    state["fc.weight"] = torch.zeros(7, 2048)
    state["fc.bias"] = torch.zeros(7)
    torch.save(state, tmp_path / "seven.pth")
    assert identify_assessor_file(tmp_path / "seven.pth") is None  # a 7-class ResNet is not EmoNet
    with pytest.raises(CheckpointError, match=r"fc\.weight.*\(1, 2048\).*\(7, 2048\)"):
        emonet.read_source(tmp_path / "seven.pth")
    del state["layer4.2.conv3.weight"]
    state["fc.weight"], state["fc.bias"] = torch.zeros(1, 2048), torch.zeros(1)
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(CheckpointError, match=r"missing tensor 'layer4\.2\.conv3\.weight'"):
        emonet.read_source(tmp_path / "short.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        emonet.read_source(tmp_path / "empty.pth")
