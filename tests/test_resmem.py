"""ResMem with the real weights: equal to the resmem package's own pipeline, batched, differentiable."""

from __future__ import annotations

import warnings

import pytest
import torch

from memstudio.core.assessors.registry import load_assessor
from memstudio.core.assessors.resmem import preprocess
from memstudio.core.imaging import load_image, pil_to_tensor, tensor_to_pil

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def package_model():
    resmem = pytest.importorskip("resmem")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = resmem.ResMem(pretrained=True)
    model.eval()
    return resmem, model


@pytest.fixture(scope="module")
def ours():
    return load_assessor("resmem")


def test_scores_equal_the_package_pipeline(package_model, ours, photos_dir):
    resmem, model = package_model
    images = [load_image(p).image for p in sorted(photos_dir.glob("*.*")) if p.suffix != ".md"]
    assert len(images) >= 4
    with torch.no_grad():
        expected = torch.stack([model(resmem.transformer(im).view(-1, 3, 227, 227))[0, 0] for im in images])
    got = torch.cat([ours.score(pil_to_tensor(im)) for im in images])
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()
    assert float(got.std()) > 0.01  # different photos, different scores: the network really ran
    # ...and it ran with its batch norms folded into the convolutions (the speed-up it is loaded with).
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in ours.net.modules())


def test_preprocessing_matches_pillow_pixels(package_model, photos_dir):
    resmem, _ = package_model
    image = load_image(photos_dir / "rocket.jpg").image  # 640×427: non-square, non-integer scale
    expected = resmem.transformer(image).unsqueeze(0)
    assert torch.equal(preprocess(pil_to_tensor(image)), expected)


def test_tensor_resize_gives_pillows_pixels(ours):
    """The tensor preprocessing (taken on a GPU) and Pillow's resize (taken on a CPU) give the same pixels."""
    batch = torch.rand(2, 3, 301, 517, generator=torch.Generator().manual_seed(4))
    assert torch.equal(preprocess(batch), ours.prepare(batch))


def test_batch_equals_single_and_gradients_flow(ours):
    g = torch.Generator().manual_seed(3)
    batch = torch.rand(3, 3, 240, 320, generator=g)
    singles = torch.cat([ours.score(batch[i : i + 1]) for i in range(3)])
    assert torch.allclose(ours.score(batch), singles, atol=1e-5)
    x = batch[:1].clone().requires_grad_(True)
    ours(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_loaded_once_per_process(ours):
    assert load_assessor("resmem") is ours
    assert ours.checkpoint_hash is not None and len(ours.checkpoint_hash) == 64


def test_generated_tensor_scores_like_its_8_bit_image(ours):
    batch = torch.rand(1, 3, 300, 300, generator=torch.Generator().manual_seed(5))
    as_image = pil_to_tensor(tensor_to_pil(batch))
    assert torch.allclose(ours.score(batch), ours.score(as_image), atol=1e-6)
