"""The VMS predictor of paper 003: networks, adversarial training that learns, checkpoints, resume, cancel.

The training test uses pairs whose map is a known function of the image — a Gaussian blob (σ = 4 px) around
the brightest object, among dimmer distractors — so learning is measurable: always predicting the training
set's mean map is the best a model that ignores the image can do, and a model must at least halve that L1 to
pass, which requires finding the bright object in each image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from memstudio.core.errors import CheckpointError
from memstudio.core.jobs import run_to_end
from memstudio.core.maps.api import compute_map
from memstudio.core.maps.vms import Discriminator, UNet, VMSConfig, VMSConfigError
from memstudio.core.maps.vms_checkpoint import META_NAME, WEIGHTS_NAME, read_checkpoint
from memstudio.core.maps.vms_data import DatasetError, load_dataset
from memstudio.core.maps.vms_train import train_job

pytestmark = pytest.mark.usefixtures("single_thread")

SIZE = 32




def tiny_config(**changes) -> VMSConfig:
    values = dict(
        encoder_channels=(3, 8, 16, 32),
        decoder_channels=(32, 16, 8),
        discriminator_channels=(4, 8, 16),
        image_size=SIZE,
        batch_size=8,
        val_fraction=0.2,
        optimizer_g="adam",
        lr_g=5e-3,
        lambda_l1=10.0,
    )
    values.update(changes)
    return VMSConfig(**values)


def make_pairs(root: Path, count: int, seed: int) -> list[tuple[int, int]]:
    """Writes images/NNN.png + maps/NNN.png; returns the bright object's centre (row, col) per pair."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "maps").mkdir()
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    centres = []
    for i in range(count):
        image = rng.uniform(0.05, 0.35, (SIZE, SIZE, 3))
        for _ in range(3):  # dimmer distractors
            y, x = rng.integers(0, SIZE - 6, 2)
            image[y : y + 6, x : x + 6] = rng.uniform(0.3, 0.5, 3)
        y, x = rng.integers(2, SIZE - 6, 2)
        image[y : y + 4, x : x + 4] = 0.95
        blob = np.exp(-((yy - y - 1.5) ** 2 + (xx - x - 1.5) ** 2) / (2 * 4.0**2))
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(root / "images" / f"{i:03d}.png")
        Image.fromarray(np.round(blob * 255).astype(np.uint8)).save(root / "maps" / f"{i:03d}.png")
        centres.append((int(y) + 1, int(x) + 1))
    return centres


@pytest.fixture(scope="module")
def blob_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("blobs")
    make_pairs(root, 80, seed=0)
    return root


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small")
    make_pairs(root, 12, seed=1)
    return root


def test_config_validation_names_the_problem() -> None:
    with pytest.raises(VMSConfigError, match="decoder"):
        tiny_config(decoder_channels=(16, 8))
    with pytest.raises(VMSConfigError, match="3 \\+ map_channels"):
        tiny_config(discriminator_channels=(6, 8, 16))
    with pytest.raises(VMSConfigError, match="norm"):
        tiny_config(norm="layer")
    with pytest.raises(VMSConfigError, match="too small"):
        tiny_config(discriminator_channels=(4, 8, 16, 32, 64, 128, 256))
    assert VMSConfig.from_dict(tiny_config().to_dict()) == tiny_config()
    paper = VMSConfig()  # paper 003's best layout
    assert paper.encoder_channels == (3, 32, 64, 128, 256, 512) and paper.optimizer_g == "sgd"


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_unet_maps_any_size_to_a_map_in_unit_range(norm: str) -> None:
    net = UNet(tiny_config(norm=norm)).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, 37, 50))
    assert out.shape == (2, 1, 37, 50)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    norms = [m for m in net.modules() if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d))]
    assert norms and all(isinstance(m, torch.nn.InstanceNorm2d) == (norm == "instance") for m in norms)


def test_patch_and_scalar_discriminators() -> None:
    maps, images = torch.rand(3, 1, SIZE, SIZE), torch.rand(3, 3, SIZE, SIZE)
    patch = Discriminator(tiny_config(discriminator="patch"))(maps, images)
    scalar = Discriminator(tiny_config(discriminator="scalar"))(maps, images)
    assert patch.shape == (3, 1, SIZE // 4, SIZE // 4)
    assert scalar.shape == (3, 1)


def test_training_learns_the_blob_map(blob_data: Path, tmp_path: Path) -> None:
    result = run_to_end(train_job(blob_data, tmp_path / "ckpt", tiny_config(), epochs=12))
    val_l1 = [h["val_l1"] for h in result.history]
    assert len(val_l1) == 12 and result.epoch == 12
    assert val_l1[-1] < 0.5 * result.baseline_val_l1, (val_l1, result.baseline_val_l1)
    assert val_l1[-1] < val_l1[0]
    # The trained model is a heatmap method: its map peaks at the bright object of an unseen image.
    probe = tmp_path / "probe"
    centres = make_pairs(probe, 4, seed=99)
    hits = 0
    for i, (cy, cx) in enumerate(centres):
        image = torch.from_numpy(np.asarray(Image.open(probe / "images" / f"{i:03d}.png"), np.float32) / 255)
        heat = compute_map(image.permute(2, 0, 1)[None], method="vms", vms_checkpoint=tmp_path / "ckpt")
        y, x = np.unravel_index(heat.argmax(), heat.shape)
        hits += abs(int(y) - cy) <= 3 and abs(int(x) - cx) <= 3
    assert hits >= 3


def test_resume_continues_exactly_where_it_stopped(small_data: Path, tmp_path: Path) -> None:
    config = tiny_config(optimizer_g="sgd", lr_g=0.01, momentum=0.9, discriminator="scalar")
    straight = run_to_end(train_job(small_data, tmp_path / "a", config, epochs=3))
    run_to_end(train_job(small_data, tmp_path / "b", config, epochs=2))
    _, meta, _ = read_checkpoint(tmp_path / "b")
    assert meta["epoch"] == 2 and not meta["interrupted"]
    resumed = run_to_end(train_job(small_data, tmp_path / "b", None, epochs=3, resume=True))
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert resumed.history[-1]["val_l1"] == pytest.approx(straight.history[-1]["val_l1"], abs=1e-6)
    _, _, a = read_checkpoint(tmp_path / "a")
    _, _, b = read_checkpoint(tmp_path / "b")
    assert a.keys() == b.keys() and any(k.startswith("optim_g.state") for k in a)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=1e-5, msg=key)


def test_cancel_mid_epoch_leaves_a_valid_checkpoint(small_data: Path, tmp_path: Path) -> None:
    job = train_job(small_data, tmp_path / "c", tiny_config(batch_size=4), epochs=2)
    first = next(job)
    assert "batch 1/" in first.message
    job.close()
    config, meta, tensors = read_checkpoint(tmp_path / "c")
    assert meta["epoch"] == 0 and meta["interrupted"] is True
    assert config == tiny_config(batch_size=4) and any(k.startswith("generator.") for k in tensors)
    result = run_to_end(train_job(small_data, tmp_path / "c", None, epochs=1, resume=True))
    assert result.epoch == 1 and len(result.history) == 1


def test_checkpoint_and_data_errors(small_data: Path, tmp_path: Path) -> None:
    run_to_end(train_job(small_data, tmp_path / "d", tiny_config(), epochs=1))
    with pytest.raises(CheckpointError, match="already holds"):
        next(train_job(small_data, tmp_path / "d", tiny_config(), epochs=1))
    weights = tmp_path / "d" / WEIGHTS_NAME
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    with pytest.raises(CheckpointError, match="does not match"):
        read_checkpoint(tmp_path / "d")
    with pytest.raises(CheckpointError, match=META_NAME):
        read_checkpoint(tmp_path / "nothing")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match="maps/"):
        load_dataset(tmp_path / "empty", SIZE, 1, 0.2, 0)
    (tmp_path / "empty" / "maps").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "empty" / "images" / "a.png")
    Image.new("L", (8, 8)).save(tmp_path / "empty" / "maps" / "b.png")
    with pytest.raises(DatasetError, match="same name"):
        load_dataset(tmp_path / "empty", SIZE, 1, 0.2, 0)


def test_fixed_split_folders_win_over_val_fraction(tmp_path: Path) -> None:
    make_pairs(tmp_path / "split" / "train", 5, seed=2)
    make_pairs(tmp_path / "split" / "val", 3, seed=3)
    train, val = load_dataset(tmp_path / "split", SIZE, 1, 0.5, 0)
    assert len(train) == 5 and len(val) == 3
    assert train.images.dtype == torch.uint8 and train.maps.shape == (5, 1, SIZE, SIZE)
    assert 0.95 < float(train.maps.float().amax()) <= 1.0  # the blob peaks between pixels
