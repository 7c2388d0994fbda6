"""The Qt-free studio session and the faces/generators commands, on a pipeline without a window.

Generators are tiny StyleGAN2s of the real architecture with seeded random weights, written as NVIDIA
pickles (so they carry a checkpoint hash like any opened file); the inversion target is a rendered seed, so no
face model is needed for the latent-keeping checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_ui_generators import two_stylegan2_pickles

from memstudio.core.errors import MemstudioError
from memstudio.core.faces.latent_file import load_latent
from memstudio.core.imaging import tensor_to_pil
from memstudio.core.jobs import run_to_end
from memstudio.core.pipeline import Pipeline, generator_hash
from memstudio.core.requests import LatentSubject, PhotoSubject, RenderRequest, SeedSubject
from memstudio.core.session.faces import InvertFace
from memstudio.core.session.generators import OpenGenerator, OpenLatent, RenderThumbnails, SaveLatent
from memstudio.core.session.studio import GeneratorRef, StudioSession

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def pickles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return two_stylegan2_pickles(tmp_path_factory.mktemp("switch"), ('gen-a', 'gen-b'))


def open_in(pipeline: Pipeline, source: Path) -> dict:
    return run_to_end(OpenGenerator(str(source)).steps(pipeline))


def latent_request(key: str, generator: str | None, request_id: int = 1) -> RenderRequest:
    return RenderRequest(request_id, LatentSubject(key), generator=generator)


# ----- the session model -------------------------------------------------------------------------------
def test_requests_name_the_subjects_generator_and_its_ovalize_setting() -> None:
    session = StudioSession()
    session.set_generator(GeneratorRef("a" * 64, "gen-a", family="stylegan2"))
    session.values.subject = SeedSubject(3)
    session.values.generator = session.generator_of(SeedSubject(3))
    session.values.alphas["d1"] = 0.5
    request = session.render_request(7, ("resmem", "brightness"))
    assert request.generator == "a" * 64 and request.directions == (("d1", 0.5),) and request.ovalize == ()

    # Ovalize is per assessor and per subject: ticking it on one subject leaves the others as they were.
    assert session.set_ovalize("resmem", True) == {"resmem"}
    assert session.render_request(8, ("resmem", "brightness")).ovalize == ("resmem",)
    assert session.render_request(9, ("brightness",)).ovalize == ()  # only assessors this request scores
    assert session.ovalized(SeedSubject(4)) == frozenset()
    session.values.subject = PhotoSubject("/photos/astronaut.png")
    photo = session.render_request(10, ("resmem",))
    assert photo.generator is None and photo.ovalize == ()

    # The subject keeps the generator it is an image of: after a switch its request still names generator A.
    session.values.subject = SeedSubject(3)
    session.set_generator(GeneratorRef("b" * 64, "gen-b", family="stylegan2"))
    assert session.render_request(11).generator == "a" * 64
    assert not session.shows(SeedSubject(3))  # seed 3 of B is another image than seed 3 of A
    session.add_latent("face:x", "x", "a" * 64)
    assert session.latents() == {} and session.latents("a" * 64) == {"face:x": "x"}
    assert session.generator_of(LatentSubject("face:x")) == "a" * 64


def test_a_session_without_a_subject_has_nothing_to_render() -> None:
    with pytest.raises(MemstudioError, match="nothing to render"):
        StudioSession().render_request(1)


# ----- generator switch with live latents --------------------------------------------------------------
def test_switching_generators_keeps_each_ones_latents_and_refuses_the_others(pickles, tmp_path) -> None:
    a_path, b_path = pickles
    pipeline = Pipeline("cpu")
    info_a = open_in(pipeline, a_path)
    a_hash = info_a["sha256"]
    assert a_hash == pipeline.generator.checkpoint_hash == generator_hash(pipeline.generator)
    saved = SaveLatent(RenderRequest(0, SeedSubject(7, 0.7), generator=a_hash), str(tmp_path / "seed7.npz")).run(
        pipeline
    )
    held = OpenLatent(saved, "latent-1:seed7").run(pipeline)
    assert held == {"key": "latent-1:seed7", "generator_hash": a_hash}
    on_a = pipeline.render(latent_request("latent-1:seed7", a_hash)).clone()
    assert torch.equal(on_a, pipeline.render(RenderRequest(2, SeedSubject(7, 0.7), generator=a_hash)))

    info_b = open_in(pipeline, b_path)
    b_hash = info_b["sha256"]
    assert b_hash != a_hash and pipeline.latents == {}
    # A's latent asked for as an image of A: refused, naming both generators.
    with pytest.raises(MemstudioError) as refused:
        pipeline.render(latent_request("latent-1:seed7", a_hash))
    text = str(refused.value)
    assert "'gen-a'" in text and a_hash[:12] in text and "'gen-b'" in text and b_hash[:12] in text
    # Asked for as an image of B (a stale key): refused too, naming who made it.
    with pytest.raises(MemstudioError, match=r"latent 'latent-1:seed7' was made with generator 'gen-a'.*'gen-b'"):
        pipeline.render(latent_request("latent-1:seed7", b_hash))
    # A seed of A is not rendered by B either.
    with pytest.raises(MemstudioError, match=r"belongs to generator 'gen-a'.*the open generator is 'gen-b'"):
        pipeline.render(RenderRequest(3, SeedSubject(7, 0.7), generator=a_hash))
    # Thumbnails asked for A's grid draw nothing once B is open.
    assert RenderThumbnails(a_hash, (0, 1), 1.0, None, 16).run(pipeline) is None
    assert len(RenderThumbnails(b_hash, (0, 1), 1.0, None, 16).run(pipeline)) == 2

    open_in(pipeline, a_path)  # switching back restores A's latents
    assert list(pipeline.latents) == ["latent-1:seed7"]
    assert torch.equal(pipeline.render(latent_request("latent-1:seed7", a_hash)), on_a)


def test_inversion_keeps_its_latent_for_its_generator_even_after_a_switch(pickles, tmp_path) -> None:
    a_path, b_path = pickles
    pipeline = Pipeline("cpu")
    a_hash = open_in(pipeline, a_path)["sha256"]
    with torch.no_grad():
        target = tensor_to_pil(pipeline.render(RenderRequest(1, SeedSubject(2))))
    command = InvertFace(
        target=target,
        key="face:seed2",
        label="seed2",
        latent_path=str(tmp_path / "seed2.npz"),
        settings={"space": "w+", "num_steps": 6, "w_first": 0.0, "w_avg_samples": 64},
        loss="pixel",
    )
    steps = command.steps(pipeline)
    with torch.enable_grad():
        for _ in range(3):
            next(steps)
    b_hash = open_in(pipeline, b_path)["sha256"]  # the user opens B while the inversion runs
    steps.close()  # and cancels it: the best latent so far is kept, for A
    outcome = command.outcome
    assert outcome["key"] == "face:seed2" and not outcome["registered"] and outcome["generator_hash"] == a_hash
    # The best latent of the steps taken (recorded before its step's update), not a finished inversion.
    assert outcome["steps"] < 3 and np.isfinite(outcome["loss"]) and outcome["thumbnail"].shape == (32, 32, 3)
    assert load_latent(outcome["path"]).label == "seed2"
    assert "face:seed2" not in pipeline.latents
    with pytest.raises(MemstudioError, match=r"was made with generator 'gen-a'.*'gen-b'"):
        pipeline.render(latent_request("face:seed2", b_hash))
    open_in(pipeline, a_path)
    frame = pipeline.render(latent_request("face:seed2", a_hash))
    assert frame.shape == (1, 3, 32, 32) and np.isfinite(frame.numpy()).all()


# ----- the commands through the engine -----------------------------------------------------------------
def test_commands_run_on_the_engine_and_report_on_their_own_handles(qtbot, pickles, tmp_path) -> None:
    from memstudio.engine import Engine

    a_path, b_path = pickles
    engine = Engine(device="cpu")
    engine.start()
    try:
        # No generator yet: the one-shot fails on its handle with the core's message, the thread serves on.
        refused = engine.request(OpenLatent(str(tmp_path / "nothing.npz"), "k"))
        failed = qtbot.waitSignal(refused.failed, timeout=30_000)
        failed.wait()
        assert "nothing.npz: open the generator it was made with first" in failed.args[0].message

        opened = engine.submit(OpenGenerator(str(a_path)), "open-a")
        done = qtbot.waitSignal(opened.done, timeout=30_000)
        done.wait()
        info = done.args[0]
        assert opened.job_id == "open-a" and info["name"] == "gen-a"
        assert info["sha256"] == engine.pipeline.generator_hash

        # Thumbnails asked for A's grid once B is open come back None, not B's seeds.
        switch = engine.submit(OpenGenerator(str(b_path)))
        qtbot.waitSignal(switch.done, timeout=30_000).wait()
        stale = engine.request(RenderThumbnails(info["sha256"], (0, 1, 2), 1.0, None, 16))
        late = qtbot.waitSignal(stale.done, timeout=30_000)
        late.wait()
        assert late.args[0] is None

    finally:
        assert engine.stop()


def test_layer_weights_go_with_a_generator_change_and_stay_with_the_same_one() -> None:
    session = StudioSession()
    session.set_generator(GeneratorRef("a" * 64, "gen-a"))
    session.values.layer_weights = (1.0, 0.0, 1.0)
    session.set_generator(GeneratorRef("a" * 64, "gen-a", source="reopened.pkl"))  # the same network again
    assert session.values.layer_weights == (1.0, 0.0, 1.0)
    session.set_generator(GeneratorRef("b" * 64, "gen-b"))  # another network: maybe another layer count
    assert session.values.layer_weights is None
