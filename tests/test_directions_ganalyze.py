"""GANalyze (paper 000 eq. 1–2) on generators whose optimum is known in closed form."""

from __future__ import annotations

import pytest
import torch
from test_directions_toys import ClassFlip, LinearStyle, MeanLuma

from memstudio.core.directions.base import apply_directions, renormalize
from memstudio.core.directions.evidence import evaluate_direction
from memstudio.core.directions.ganalyze import GanalyzeSettings, default_alpha_max, train_ganalyze
from memstudio.core.directions.sampling import LatentSource
from memstudio.core.errors import CheckpointError
from memstudio.core.generators.photo import PARAMETER_INDEX, PhotoEditor
from memstudio.core.jobs import run_to_end

pytestmark = pytest.mark.usefixtures("single_thread")

FAST = dict(steps=120, lr=1.0, batch_size=8, alpha_max=0.1, checkpoint_every=0, preview_every=0)


@pytest.mark.parametrize("space", ["z", "w"])
def test_linear_generator_reaches_the_analytic_optimum(space: str) -> None:
    generator, assessor = LinearStyle(), MeanLuma()
    direction = run_to_end(train_ganalyze(generator, assessor, GanalyzeSettings(space=space, **FAST)))
    # brightness(G(x + αθ)) − brightness(G(x)) = α·(c·θ): eq. 1 is solved exactly when c·θ = 1.
    gain = float((generator.brightness_gradient(space) * direction.vector).sum())
    assert gain == pytest.approx(1.0, abs=0.03)
    assert direction.method == "ganalyze" and direction.space == space
    assert direction.alpha_range == (-0.1, 0.1)
    evidence = run_to_end(
        evaluate_direction(
            generator, assessor, direction, alphas=[-0.1, -0.05, 0, 0.05, 0.1], num_samples=16, factors={}
        )
    )
    assert evidence["beta"] == pytest.approx(1.0, abs=0.03)
    assert evidence["r2"] > 0.99


def test_class_conditional_theta_differs_per_class() -> None:
    generator, assessor = ClassFlip(), MeanLuma()
    direction = run_to_end(train_ganalyze(generator, assessor, GanalyzeSettings(class_conditional=True, **FAST)))
    assert direction.class_vectors is not None and direction.class_vectors.shape == (2, generator.z_dim)
    cos = torch.nn.functional.cosine_similarity(direction.class_vectors[0], direction.class_vectors[1], dim=0)
    assert cos < -0.9  # the classes respond with opposite signs, so their θ must point opposite ways


def test_resume_after_close_matches_an_uninterrupted_run(tmp_path) -> None:
    generator, assessor = LinearStyle(), MeanLuma()
    settings = GanalyzeSettings(space="z", steps=30, lr=0.3, batch_size=4, alpha_max=0.1, checkpoint_every=100)
    full = run_to_end(train_ganalyze(generator, assessor, settings))

    checkpoint = tmp_path / "train.ckpt.pt"
    job = train_ganalyze(generator, assessor, settings, checkpoint=checkpoint)
    for _ in range(11):
        next(job)
    job.close()  # what the engine does on cancel: the finally block saves
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["step"] == 11

    steps_seen = [p.fraction for p in train_ganalyze(generator, assessor, settings, checkpoint=checkpoint)]
    assert len(steps_seen) == 30 - 11
    resumed = run_to_end(train_ganalyze(generator, assessor, settings, checkpoint=checkpoint))
    assert resumed.metrics["steps"] == 30
    torch.testing.assert_close(resumed.vector, full.vector, rtol=1e-5, atol=1e-6)


def test_resume_refuses_other_settings(tmp_path) -> None:
    generator, assessor = LinearStyle(), MeanLuma()
    checkpoint = tmp_path / "c.pt"
    run_to_end(train_ganalyze(generator, assessor, GanalyzeSettings(space="z", steps=3, alpha_max=0.1), checkpoint))
    with pytest.raises(CheckpointError, match="c.pt"):
        run_to_end(
            train_ganalyze(generator, assessor, GanalyzeSettings(space="z", steps=3, lr=0.5, alpha_max=0.1), checkpoint)
        )


def test_micro_batches_give_the_batched_result() -> None:
    generator, assessor = LinearStyle(), MeanLuma()
    base = dict(space="z", steps=10, lr=0.2, batch_size=6, alpha_max=0.1)
    batched = run_to_end(train_ganalyze(generator, assessor, GanalyzeSettings(**base)))
    single = run_to_end(train_ganalyze(generator, assessor, GanalyzeSettings(micro_batch=1, **base)))
    torch.testing.assert_close(single.vector, batched.vector, rtol=1e-4, atol=1e-5)


def test_default_alpha_follows_the_score_spread() -> None:
    generator, assessor = LinearStyle(), MeanLuma()
    source = LatentSource(generator, "z")
    a = default_alpha_max(source, assessor, samples=16, k=2.0, seed=5)
    _, latent = source.draw(8, torch.Generator().manual_seed(5))
    assert 0 < a < 0.5
    # the same draws the function makes: two batches of 8 from the seeded stream
    rng = torch.Generator().manual_seed(5)
    scores = torch.cat([assessor(generator.render(source.draw(8, rng)[1])) for _ in range(2)])
    assert a == pytest.approx(min(0.5, 2 * float(scores.std())), abs=1e-4)


def test_renormalisation_keeps_each_latent_norm() -> None:
    generator, assessor = LinearStyle(), MeanLuma()
    settings = GanalyzeSettings(space="z", renormalize=True, **FAST)
    direction = run_to_end(train_ganalyze(generator, assessor, settings))
    latent = LatentSource(generator, "z").draw(5, torch.Generator().manual_seed(1))[1]
    edited = apply_directions(latent, [(direction, 0.1)])
    torch.testing.assert_close(edited.values.norm(dim=1), latent.values.norm(dim=1))
    assert not torch.allclose(edited.values, latent.values)
    x = torch.randn(3, 4, 5)
    torch.testing.assert_close(renormalize(2 * x + 1, x).flatten(1).norm(dim=1), x.flatten(1).norm(dim=1))


def test_photo_editing_learns_exposure_for_brightness() -> None:
    g = torch.Generator().manual_seed(0)
    photos = 0.2 + 0.4 * torch.rand(8, 3, 16, 16, generator=g)
    train, heldout = PhotoEditor(photos[:6]), PhotoEditor(photos[6:])
    settings = GanalyzeSettings(steps=60, lr=0.1, batch_size=4, alpha_max=0.1, preview_every=20, checkpoint_every=0)
    job = train_ganalyze(train, MeanLuma(), settings)
    previews = []
    while True:
        try:
            step = next(job)
        except StopIteration as stop:
            direction = stop.value
            break
        if step.preview is not None:
            previews.append(step.preview)
    assert direction.space == "edit" and direction.vector.shape == (len(PARAMETER_INDEX),)
    assert direction.vector[PARAMETER_INDEX["exposure"]] > 0
    assert previews and previews[0].shape == (1, 3, 16, 5 * 16)
    evidence = run_to_end(evaluate_direction(heldout, MeanLuma(), direction, factors={}))
    assert evidence["num_samples"] == 2
    assert evidence["beta"] > 0.7


def test_runs_on_a_test_sized_stylegan2(tmp_path) -> None:
    from memstudio.core.generators.stylegan2 import StyleGAN2Generator

    torch.manual_seed(0)
    generator = (
        StyleGAN2Generator(
            z_dim=16,
            c_dim=0,
            w_dim=16,
            img_resolution=8,
            mapping_kwargs={"num_layers": 1},
            synthesis_kwargs={"channel_base": 64, "channel_max": 8},
        )
        .eval()
        .requires_grad_(False)
    )
    settings = GanalyzeSettings(space="w", steps=4, batch_size=2, alpha_max=0.1, checkpoint_every=2)
    direction = run_to_end(train_ganalyze(generator, MeanLuma(), settings, checkpoint=tmp_path / "sg.pt"))
    assert direction.vector.shape == (16,) and direction.generator["family"] == "stylegan2"
    assert float(direction.vector.norm()) > 0.01  # moved from its 1e-3 start
    edited = apply_directions(generator.sample(3), [(direction, 0.1)])  # a W direction edits the W+ sample
    assert edited.space == "w+" and edited.values.shape == (1, generator.num_ws, 16)
