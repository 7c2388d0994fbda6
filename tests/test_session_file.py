"""Session files: the studio's frame saved as JSON renders again, pixel for pixel, from ``memstudio session``;
a changed input or a file that is not a session this version reads is refused, naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_figures_support import make_photo
from test_model_store import write_nvidia_pickle
from test_ui_generators import tiny_stylegan2

from memstudio.cli import main
from memstudio.core.atomic import OverwriteInputError
from memstudio.core.directions.base import Direction
from memstudio.core.errors import MemstudioError
from memstudio.core.generators.edit_params import PARAMETERS
from memstudio.core.imaging import tensor_to_uint8
from memstudio.core.jobs import run_to_end
from memstudio.core.pipeline import Pipeline
from memstudio.core.requests import LatentSubject, PhotoSubject, RenderRequest, SeedSubject
from memstudio.core.session.directions import OpenDirection
from memstudio.core.session.generators import OpenGenerator, OpenLatent, SaveLatent
from memstudio.core.session.session_file import (
    VERSION,
    OpenSession,
    SaveSession,
    apply_snapshot,
    read_session,
    snapshot,
)
from memstudio.core.session.studio import GeneratorRef, StudioSession

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def sg2_pickle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny StyleGAN2 written as NVIDIA's training loop pickles it (the studio's File ▸ Open generator…)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return write_nvidia_pickle(tiny_stylegan2(), tmp_path_factory.mktemp("sg2") / "tiny-ffhq.pkl", monkeypatch)


def _generator_session(pickle: Path) -> tuple[Pipeline, StudioSession]:
    """A pipeline and session with ``pickle`` open, as File ▸ Open generator… leaves them."""
    pipeline = Pipeline("cpu")
    info = run_to_end(OpenGenerator(str(pickle)).steps(pipeline))
    session = StudioSession()
    session.set_generator(GeneratorRef(info["sha256"], info["name"], str(pickle), info["family"]))
    return pipeline, session


def _photo_direction(tmp_path: Path) -> Path:
    vector = torch.zeros(len(PARAMETERS))
    vector[0], vector[2] = 0.6, -0.4  # exposure up, saturation down
    return Direction(name="brighter", property="brightness", space="edit", vector=vector).save(tmp_path / "brighter")


def _studio_frame(pipeline: Pipeline, session: StudioSession, assessors: tuple[str, ...] = ()) -> np.ndarray:
    """What the engine shows for the session (``Engine._serve_render``: render, then quantise)."""
    return tensor_to_uint8(pipeline.render(session.render_request(1, assessors)))[0]


def _photo_session(tmp_path: Path) -> tuple[Pipeline, StudioSession, Path]:
    photo = make_photo(tmp_path / "photo.png", size=(40, 32))
    direction = _photo_direction(tmp_path)
    pipeline = Pipeline("cpu")
    OpenDirection(str(direction), "d1").run(pipeline)
    session = StudioSession()
    session.values.subject = PhotoSubject(str(photo))
    session.values.edits = {"contrast": 0.3, "vignette": 0.2}
    session.values.alphas = {"d1": 0.7}
    session.set_ovalize("resmem", True)
    return pipeline, session, direction


def test_photo_session_renders_the_studio_frame_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pipeline, session, _ = _photo_session(tmp_path)
    studio = _studio_frame(pipeline, session)
    target = tmp_path / "s.json"
    SaveSession(str(target), snapshot(session, ("brightness",))).run(pipeline)
    document = read_session(target)
    assert document["version"] == VERSION and document["ovalize"] == ["resmem"]
    assert document["directions"][0]["alpha"] == 0.7 and document["edits"] == {"contrast": 0.3, "vignette": 0.2}

    out = tmp_path / "out.png"
    assert main(["session", "render", str(target), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), studio)
    brightness = pipeline.score(pipeline.render(session.render_request(1)), ("brightness",)).values["brightness"]
    assert f"brightness: {brightness:.4f}" in printed
    bare = RenderRequest(request_id=2, subject=session.values.subject)  # the same photo, unedited
    unedited = tensor_to_uint8(Pipeline("cpu").render(bare))[0]
    assert not np.array_equal(unedited, studio)  # the edits and the direction are in the rendered frame

    assert main(["session", "show", str(target)]) == 0
    shown = capsys.readouterr().out
    assert "d1: α +0.7" in shown and "contrast +0.3" in shown and "face oval for: resmem" in shown


def test_opening_restores_the_session_model(tmp_path: Path) -> None:
    pipeline, session, _ = _photo_session(tmp_path)
    target = tmp_path / "s.json"
    SaveSession(str(target), snapshot(session, ("brightness", "resmem"))).run(pipeline)
    fresh = Pipeline("cpu")
    shot = OpenSession(str(target)).run(fresh)
    restored = StudioSession()
    apply_snapshot(restored, shot)
    assert restored.values.edits == session.values.edits and restored.values.alphas == session.values.alphas
    assert restored.ovalized() == {"resmem"} and shot.assessors == ("brightness", "resmem")
    assert restored.render_request(1, ("resmem",)) == session.render_request(1, ("resmem",))
    assert np.array_equal(_studio_frame(fresh, restored), _studio_frame(pipeline, session))


def test_a_changed_direction_file_is_refused_and_the_pipeline_left_alone(tmp_path: Path) -> None:
    pipeline, session, direction = _photo_session(tmp_path)
    target = tmp_path / "s.json"
    SaveSession(str(target), snapshot(session)).run(pipeline)
    tensors = direction.with_suffix(".safetensors")
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0x01  # one bit of the vector
    tensors.write_bytes(bytes(data))
    fresh = Pipeline("cpu")
    with pytest.raises(MemstudioError, match=r"brighter\.safetensors: the file changed since the session"):
        OpenSession(str(target)).run(fresh)
    assert fresh.directions == {}
    assert main(["session", "render", str(target), "-o", str(tmp_path / "x.png")]) != 0
    assert not (tmp_path / "x.png").exists()


def test_a_changed_photo_is_refused(tmp_path: Path) -> None:
    pipeline, session, _ = _photo_session(tmp_path)
    target = tmp_path / "s.json"
    SaveSession(str(target), snapshot(session)).run(pipeline)
    make_photo(Path(session.values.subject.path), size=(40, 32), seed=9)
    with pytest.raises(MemstudioError, match=r"photo\.png: the file changed since the session was made"):
        OpenSession(str(target)).run(Pipeline("cpu"))


def test_saving_over_an_input_of_the_session_is_refused_and_loses_nothing(tmp_path: Path) -> None:
    pipeline, session, direction = _photo_session(tmp_path)
    photo = Path(session.values.subject.path)
    for target in (photo, direction):
        before = target.read_bytes()
        with pytest.raises(OverwriteInputError, match="refusing to write over an input"):
            SaveSession(str(target), snapshot(session)).run(pipeline)
        assert target.read_bytes() == before
    saved = tmp_path / "s.json"
    SaveSession(str(saved), snapshot(session)).run(pipeline)
    before = photo.read_bytes()
    assert main(["session", "render", str(saved), "-o", str(photo)]) != 0  # the CLI refuses it too
    assert photo.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "unreadable JSON"),
        (json.dumps({"kind": "grid", "version": 1}), "not a memstudio session file"),
        (json.dumps({"format": "memstudio-session", "version": VERSION + 1, "subject": {}}), "is newer than"),
        (json.dumps({"format": "memstudio-session", "version": "1"}), "no valid version"),
        (json.dumps({"format": "memstudio-session", "version": 1, "subject": {"kind": "seed"}}), "malformed"),
        (
            json.dumps({"format": "memstudio-session", "version": 1, "subject": {"kind": "seed", "seed": 3}}),
            "malformed",  # a seed without a generator
        ),
        (json.dumps({"format": "memstudio-session", "version": 1, "subject": 3}), "malformed"),
        (
            json.dumps(
                {
                    "format": "memstudio-session",
                    "version": 1,
                    "subject": {"kind": "photo", "path": "p.png"},
                    "directions": [{"id": "d", "alpha": "much"}],
                }
            ),
            "malformed",
        ),
    ],
)
def test_bad_session_files_are_refused(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(MemstudioError, match=reason) as caught:
        read_session(path)
    assert str(path) in str(caught.value)


def test_seed_session_with_a_w_direction_and_layer_weights_and_a_swapped_generator_refused(
    tmp_path: Path, sg2_pickle: Path
) -> None:
    pipeline, session = _generator_session(sg2_pickle)
    w_dim, num_ws = pipeline.generator.w_dim, pipeline.generator.num_ws
    vector = torch.randn(w_dim, generator=torch.Generator().manual_seed(3))
    path = Direction(name="memo", property="memorability", space="w", vector=vector).save(tmp_path / "memo")
    OpenDirection(str(path), "memo").run(pipeline)
    session.values.subject = SeedSubject(7, 0.8)
    session.values.generator = session.generator_hash
    session.values.alphas = {"memo": 2.5}
    session.values.layer_weights = tuple(1.0 if i < num_ws // 2 else 0.0 for i in range(num_ws))
    studio = _studio_frame(pipeline, session)
    unweighted = StudioSession()
    unweighted.set_generator(session.generator)
    unweighted.values = session.values.copy()
    unweighted.values.layer_weights = None
    assert not np.array_equal(_studio_frame(pipeline, unweighted), studio)  # the weights change the frame
    target = tmp_path / "seed.json"
    SaveSession(str(target), snapshot(session)).run(pipeline)
    assert read_session(target)["layer_weights"] == list(session.values.layer_weights)
    assert np.array_equal(_cli_pixels(target, tmp_path / "seed.png"), studio)

    document = json.loads(target.read_text())
    document["generator"]["sha256"] = "0" * 64  # as if the pickle had been swapped for another network
    target.write_text(json.dumps(document))
    with pytest.raises(MemstudioError, match="generator .*tiny-ffhq.pkl.*changed since the session"):
        OpenSession(str(target)).run(Pipeline("cpu"))


def test_latent_session_names_the_latent_file_it_was_opened_from(tmp_path: Path, sg2_pickle: Path) -> None:
    pipeline, session = _generator_session(sg2_pickle)
    seed = RenderRequest(request_id=1, subject=SeedSubject(4, 0.7), generator=session.generator_hash)
    latent_file = SaveLatent(seed, str(tmp_path / "face.npz")).run(pipeline)
    OpenLatent(latent_file, "latent-1:face").run(pipeline)  # the studio's key, not the path
    session.add_latent("latent-1:face", "face")
    session.values.subject = LatentSubject("latent-1:face")
    session.values.generator = session.generator_hash
    studio = _studio_frame(pipeline, session)
    target = tmp_path / "latent.json"
    SaveSession(str(target), snapshot(session)).run(pipeline)
    assert read_session(target)["subject"]["path"] == str(Path(latent_file).resolve())
    assert np.array_equal(_cli_pixels(target, tmp_path / "out.png"), studio)

    with np.load(latent_file) as held:
        arrays = {name: held[name] for name in held.files}
    first = next(name for name, array in arrays.items() if array.dtype.kind == "f")
    arrays[first] = arrays[first] + 1.0
    np.savez(latent_file, **arrays)
    with pytest.raises(MemstudioError, match=r"face\.npz: the file changed since the session was made"):
        OpenSession(str(target)).run(Pipeline("cpu"))


def _cli_pixels(session: Path, out: Path) -> np.ndarray:
    assert main(["session", "render", str(session), "-o", str(out)]) == 0
    return np.asarray(Image.open(out).convert("RGB"))


def test_save_latent_from_the_cli_writes_the_studios_latent(tmp_path: Path, sg2_pickle: Path) -> None:
    """``session save-latent`` runs File ▸ Save latent… (``SaveLatent``) on the session's frame: the same
    latent, its direction applied, as the studio writes."""
    pipeline, session = _generator_session(sg2_pickle)
    vector = torch.randn(pipeline.generator.w_dim, generator=torch.Generator().manual_seed(5))
    path = Direction(name="memo", property="memorability", space="w", vector=vector).save(tmp_path / "memo")
    OpenDirection(str(path), "memo").run(pipeline)
    session.values.subject = SeedSubject(3, 0.9)
    session.values.generator = session.generator_hash
    session.values.alphas = {"memo": 1.5}
    target = tmp_path / "seed.json"
    SaveSession(str(target), snapshot(session)).run(pipeline)
    studio = SaveLatent(session.render_request(1), str(tmp_path / "studio.npz")).run(pipeline)

    cli = tmp_path / "cli.npz"
    assert main(["session", "save-latent", str(target), "-o", str(cli)]) == 0
    with np.load(studio) as expected, np.load(cli) as written:
        assert sorted(written.files) == sorted(expected.files)
        for name in expected.files:
            assert np.array_equal(written[name], expected[name], equal_nan=expected[name].dtype.kind == "f"), name
    bare = SaveLatent(RenderRequest(2, SeedSubject(3, 0.9)), str(tmp_path / "bare.npz")).run(pipeline)
    with np.load(bare) as unedited, np.load(cli) as written:
        assert not np.array_equal(unedited["values"], written["values"])  # the direction is in the latent
    assert main(["session", "save-latent", str(target), "-o", str(target)]) == 2  # never over the session
    assert read_session(target)["directions"][0]["alpha"] == 1.5


def test_session_render_gives_the_faces_docks_identity_readout(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from memstudio.core.session.faces import AlignFace, MeasureIdentity, identity_text

    astronaut = Path(__file__).resolve().parents[1] / "assets" / "photos" / "astronaut.png"
    session = StudioSession()
    session.values.subject = PhotoSubject(str(astronaut))
    session.values.edits = {"exposure": 0.5}
    target = tmp_path / "face.json"
    SaveSession(str(target), snapshot(session, ("brightness",))).run(Pipeline("cpu"))
    assert main(["session", "render", str(target), "-o", str(tmp_path / "f.png"), "--identity", str(astronaut)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    # What the Faces dock shows for this frame: the same two commands, run as the studio runs them.
    pipeline = Pipeline("cpu")
    face = AlignFace(str(astronaut)).run(pipeline)
    studio = MeasureIdentity.of(pipeline.render(session.render_request(1)), face, on_source=True).run(pipeline)
    assert studio["same_person"] and line == identity_text(studio)

    session.values.subject = PhotoSubject(str(make_photo(tmp_path / "pattern.png", size=(64, 64))))
    SaveSession(str(target), snapshot(session, ("brightness",))).run(Pipeline("cpu"))
    assert main(["session", "render", str(target), "-o", str(tmp_path / "g.png"), "--identity", str(astronaut)]) == 0
    # Another picture: the aligned landmarks stand in where MTCNN finds no face, and dlib says it is not her.
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("— different person (≥ 0.6)")


def test_an_inverted_face_is_saved_in_a_session_by_its_latent_file(tmp_path: Path, sg2_pickle: Path) -> None:
    from memstudio.core.imaging import tensor_to_pil
    from memstudio.core.session.faces import InvertFace

    pipeline, session = _generator_session(sg2_pickle)
    with torch.no_grad():
        target = tensor_to_pil(pipeline.render(RenderRequest(1, SeedSubject(2), generator=session.generator_hash)))
    settings = {"space": "w+", "num_steps": 2, "w_first": 0.0, "w_avg_samples": 64}
    command = InvertFace(target, "face:seed2", "seed2", str(tmp_path / "seed2.npz"), settings, loss="pixel")
    with torch.enable_grad():
        outcome = run_to_end(command.steps(pipeline))
    session.add_latent(outcome["key"], outcome["label"], outcome["generator_hash"])
    session.values.subject = LatentSubject("face:seed2")
    studio = _studio_frame(pipeline, session)
    saved = tmp_path / "face.json"
    SaveSession(str(saved), snapshot(session)).run(pipeline)  # refused before: "latent 'face:seed2' has no file"
    assert read_session(saved)["subject"]["path"] == str((tmp_path / "seed2.npz").resolve())
    assert np.array_equal(_cli_pixels(saved, tmp_path / "out.png"), studio)
