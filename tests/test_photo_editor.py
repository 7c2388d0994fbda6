"""The built-in photo-editing generator: exact identity at zero, bounded edits, gradients to the edit vector."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from memstudio.core.assessors.factors import BrightnessAssessor, ColorfulnessAssessor
from memstudio.core.generators.photo import PARAMETER_INDEX, PARAMETERS, PhotoEditor
from memstudio.core.imaging import load_image, pil_to_tensor, tensor_to_uint8


@pytest.fixture(scope="module")
def editor(photos_dir_module) -> PhotoEditor:
    image = load_image(photos_dir_module / "coffee.png", max_side=256).image
    return PhotoEditor(pil_to_tensor(image), label="coffee")


@pytest.fixture(scope="module")
def photos_dir_module():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "assets" / "photos"


def test_zero_latent_reproduces_the_photo_exactly(editor):
    out = editor.render(editor.sample())
    assert np.array_equal(tensor_to_uint8(out), tensor_to_uint8(editor.photos))


@pytest.mark.parametrize("param", [p.name for p in PARAMETERS])
def test_every_parameter_changes_the_image_but_keeps_the_photo(editor, param):
    base = editor.photos
    values = {param: PARAMETERS[PARAMETER_INDEX[param]].high}
    if param in ("center_x", "center_y"):
        values["zoom"] = 0.5  # moving the centre needs room to move
    out = editor.render(editor.latent_from_values(values))
    diff = (out - base).abs().mean().item()
    assert diff > 1e-3, f"{param} at its maximum did nothing"
    # "still the same photo": strong but bounded change, and correlated with the original
    corr = np.corrcoef(out.flatten().numpy(), base.flatten().numpy())[0, 1]
    assert corr > 0.5, f"{param} at its maximum no longer looks like the photo (r={corr:.2f})"


def test_latents_are_bounded_however_far_they_go(editor):
    far = editor.sample().with_values(torch.full((1, editor.num_params), 50.0))
    physical = editor.physical_values(far)[0]
    for p in PARAMETERS:
        assert p.low - 1e-6 <= physical[p.name] <= p.high + 1e-6
    out = editor.render(far)
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


def test_exposure_direction_is_monotonic(editor):
    bright = BrightnessAssessor()
    scores = [
        float(bright(editor.render(editor.latent_from_values({"exposure": v})))) for v in (-0.5, 0, 0.5)
    ]
    assert scores[0] < scores[1] < scores[2]


def test_slider_values_round_trip(editor):
    latent = editor.latent_from_values({"hue": 12.0, "contrast": -0.25})
    values = editor.physical_values(latent)[0]
    assert values["hue"] == pytest.approx(12.0, abs=1e-4)
    assert values["contrast"] == pytest.approx(-0.25, abs=1e-5)
    assert values["exposure"] == 0.0


def test_gradient_flows_from_assessor_to_edit_vector(editor):
    latent = editor.sample()
    u = (latent.values + 0.1).requires_grad_(True)
    score = ColorfulnessAssessor()(editor.render(latent.with_values(u)))
    score.sum().backward()
    grad = u.grad[0]
    assert torch.all(torch.isfinite(grad))
    assert grad[PARAMETER_INDEX["saturation"]] > 0  # more saturation, more colourful
    assert (grad != 0).sum() >= 6


def test_batch_of_photos_takes_one_edit_each():
    photos = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    editor = PhotoEditor(photos)
    u = torch.zeros(3, editor.num_params)
    u[1, PARAMETER_INDEX["exposure"]] = 1.0
    out = editor.render(editor.sample().with_values(u))
    assert torch.allclose(out[0], photos[0], atol=1e-6) and torch.allclose(out[2], photos[2], atol=1e-6)
    assert not torch.equal(out[1], photos[1])
    with pytest.raises(ValueError, match="edit vectors"):
        editor.render(editor.sample().with_values(torch.zeros(2, editor.num_params)))
