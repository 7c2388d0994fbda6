"""The Faces dock as a user drives it: detect → pick → align (landmarks) → ovalize → invert (job) → edit.

Real MTCNN and dlib models on scikit-image's astronaut photo; inversion into a tiny StyleGAN2 of the real
architecture (seeded random weights) written as an NVIDIA pickle by the test. Screenshots go to /tmp.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_commands import OnEngine
from PIL import Image
from test_model_store import write_nvidia_pickle
from test_ui_generators import tiny_stylegan2

from memstudio.core.directions.base import Direction
from memstudio.core.faces.invert import render_latent
from memstudio.core.faces.latent_file import check_latent_fits, load_latent
from memstudio.core.generators.base import Generator
from memstudio.core.generators.opening import open_generator
from memstudio.core.imaging import tensor_to_uint8
from memstudio.core.pipeline import edit_latent
from memstudio.core.requests import LatentSubject, PhotoSubject
from memstudio.ui.features.faces.feature import NO_STYLEGAN, FacesFeature
from memstudio.ui.main_window import MainWindow

ASTRONAUT = Path(__file__).resolve().parents[1] / "assets" / "photos" / "astronaut.png"
TIMEOUT = 60_000
SHOTS = Path("/tmp")


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def astronaut() -> Path:
    if not ASTRONAUT.is_file():
        pytest.skip(f"{ASTRONAUT} is missing (sample photos not installed)")
    return ASTRONAUT


@pytest.fixture(scope="module")
def sg2_pickle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    monkeypatch = pytest.MonkeyPatch()
    try:
        return write_nvidia_pickle(
            tiny_stylegan2(seed=11), tmp_path_factory.mktemp("sg2") / "tiny-faces.pkl", monkeypatch
        )
    finally:
        monkeypatch.undo()


@pytest.fixture(scope="module")
def sg2(sg2_pickle: Path) -> Generator:
    return open_generator(sg2_pickle)


def faces_of(window: MainWindow) -> FacesFeature:
    return window.features["faces"]


def settle(qtbot, window: MainWindow) -> None:
    """Wait until the newest frame asked for is on screen and scored (a late signal of an older frame, e.g.
    the seed shown when a generator loads, must not count)."""

    def done() -> bool:
        newest = window.last_request_id
        frame, scores = window.current_frame, window.last_scores
        return frame is not None and frame.request_id == newest and scores is not None and scores.request_id == newest

    qtbot.waitUntil(done, timeout=TIMEOUT)


def open_photo(qtbot, window: MainWindow, path: Path) -> None:
    window.open_paths([path])
    settle(qtbot, window)


def detect(qtbot, feature: FacesFeature):
    with qtbot.waitSignal(feature.detected, timeout=TIMEOUT):
        feature.panel.detect_button.click()
    return feature.detection


def align(qtbot, window: MainWindow, size: int = 0):
    feature = faces_of(window)
    feature.panel.size.setValue(size)
    with qtbot.waitSignal(feature.aligned, timeout=TIMEOUT):
        feature.panel.align_button.click()
    settle(qtbot, window)
    return feature.latest_aligned


def load_generator(qtbot, window: MainWindow, path: Path) -> None:
    generators = window.features["generators"]
    with qtbot.waitSignal(generators.generator_loaded, timeout=TIMEOUT):
        generators.open_generator(path)
    settle(qtbot, window)


def inside(points: np.ndarray, box: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = box
    return bool(np.all((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)))


def shown_points(window: MainWindow) -> np.ndarray | None:
    return window.canvas.points()


def test_astronaut_detect_align_landmarks_and_identity(qtbot, window, astronaut) -> None:
    feature = faces_of(window)
    assert window.findChild(type(feature.dock), "facesDock") is feature.dock
    open_photo(qtbot, window, astronaut)
    detection = detect(qtbot, feature)
    assert len(detection.faces) == 1 and detection.problem is None
    face = detection.faces[0]
    assert face.probability > 0.99 and 150 < face.box[0] < face.box[2] < 300
    assert feature.panel.face_list.count() == 1 and feature.panel.selected_face() == 0
    assert re.fullmatch(r"1\. \d+×\d+ px · p \d\.\d{3}", feature.panel.face_list.item(0).text())
    points = shown_points(window)
    assert points is not None and points.shape == (4 * 14 + 5, 2)
    assert inside(points[-5:], face.box)  # 512-px photo: canvas pixels are photo pixels
    window.grab().save(str(SHOTS / "memstudio_faces_detect.png"))

    aligned = align(qtbot, window, size=128)
    path = Path(aligned.path)
    assert path.is_file() and Image.open(path).size == (128, 128)
    assert path.parent.parent.name == "aligned"
    assert str(path) in window.browser.paths()
    assert window.state.subject == PhotoSubject(str(path))
    assert window.current_frame.pixels.shape == (128, 128, 3)
    points = shown_points(window)
    assert points.shape == (68, 2) and inside(points, (0, 0, 127, 127))
    # FFHQ geometry: the eyes (dlib 36–47) a quarter of the side apart, above the mouth (48–67).
    eyes = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    assert abs(np.hypot(*(eyes[1] - eyes[0])) - 32) < 5 and points[48:, 1].min() > eyes[0][1]

    shown = qtbot.waitSignal(feature.identity_shown, timeout=TIMEOUT)
    shown.wait()
    result = shown.args[0]
    assert result["distance"] is not None and result["distance"] < 0.6 and result["same_person"]
    text = feature.panel.identity.text()
    assert re.fullmatch(r"identity distance \d\.\d\d — same person \(< 0\.6\)", text), text
    window.grab().save(str(SHOTS / "memstudio_faces_landmarks.png"))

    with qtbot.waitSignal(window.frame_shown, timeout=TIMEOUT):
        window.open_photo(str(astronaut))
    assert shown_points(window) is None  # the aligned face's landmarks do not belong to this photo


def test_several_faces_are_listed_largest_first_and_can_be_picked(qtbot, window, astronaut, tmp_path) -> None:
    photo = Image.open(astronaut).convert("RGB")
    face = photo.crop((150, 20, 320, 220))
    group = Image.new("RGB", (640, 360), (90, 90, 90))
    group.paste(face, (30, 80))
    group.paste(face.resize((255, 300), Image.Resampling.LANCZOS), (330, 30))
    path = tmp_path / "two.png"
    group.save(path)
    feature = faces_of(window)
    open_photo(qtbot, window, path)
    detection = detect(qtbot, feature)
    assert len(detection.faces) == 2 and detection.faces[0].area > detection.faces[1].area
    assert "2 faces found; the largest is selected" in feature.panel.status.text()
    assert feature.panel.selected_face() == 0 and detection.faces[0].box[0] > 300
    assert inside(shown_points(window)[-5:], detection.faces[0].box)
    feature.panel.face_list.setCurrentRow(1)
    assert inside(shown_points(window)[-5:], detection.faces[1].box)
    aligned = align(qtbot, window, size=64)
    assert aligned.face_index == 1 and Path(aligned.path).name == "two-face2-64.png"


def test_no_face_a_tiny_face_and_an_extreme_pose_show_the_core_messages(qtbot, window, astronaut, tmp_path) -> None:
    gradient = tmp_path / "gradient.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (256, 1))).convert("RGB").save(gradient)
    feature = faces_of(window)
    open_photo(qtbot, window, gradient)
    detection = detect(qtbot, feature)
    assert detection.faces == [] and feature.panel.face_list.count() == 0
    assert "gradient.png: no face found" in window.messages.text()
    assert "no face found" in feature.panel.status.text()
    window.messages.hide()
    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT):
        feature.panel.align_button.click()  # the engine refuses with the same message
    assert "gradient.png: no face found" in window.messages.text()
    assert feature.panel.align_button.isEnabled()

    tiny = tmp_path / "tiny.png"
    Image.open(astronaut).convert("RGB").resize((256, 256), Image.Resampling.LANCZOS).save(tiny)
    open_photo(qtbot, window, tiny)
    detection = detect(qtbot, feature)
    assert len(detection.faces) == 1
    assert "under the 64-px minimum" in window.messages.text()
    assert feature.panel.face_list.item(0).text().endswith("too small")
    window.messages.hide()
    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT):
        feature.panel.align_button.click()
    assert "tiny.png: the face is" in window.messages.text() and "64-px minimum" in window.messages.text()

    # Rotated by 64°: MTCNN still finds the face, dlib measures a roll of about −61°, past the ±60° limit.
    tilted = tmp_path / "tilted.png"
    Image.open(astronaut).convert("RGB").rotate(64, resample=Image.Resampling.BICUBIC, expand=True).save(tilted)
    open_photo(qtbot, window, tilted)
    assert len(detect(qtbot, feature).faces) == 1
    window.messages.hide()
    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT):
        feature.panel.align_button.click()
    assert "tilted.png: the face is tilted by -61°" in window.messages.text()
    assert "rotate the photo upright" in feature.panel.status.text()


def test_ovalize_before_scoring_changes_the_live_score(qtbot, window, astronaut) -> None:
    feature = faces_of(window)
    open_photo(qtbot, window, astronaut)
    before = window.last_scores.values["brightness"]
    check = feature.panel.ovalize_checks["brightness"]
    with qtbot.waitSignal(feature.ovalize_applied, timeout=TIMEOUT) as applied:
        check.setChecked(True)
    assert applied.args[0] == ["brightness"]
    # The white surround of the oval raises the mean luma of a dark-background portrait.
    qtbot.waitUntil(lambda: window.last_scores.values.get("brightness", 0) > before + 0.1, timeout=TIMEOUT)
    assert window.canvas.score_lines()[0][0] == "brightness"
    assert window.last_scores.ovalized == ("brightness",)
    # The setting belongs to the subject: another photo is scored whole, and the astronaut ovalized again.
    other = Path(__file__).resolve().parents[1] / "assets" / "photos" / "chelsea.png"
    open_photo(qtbot, window, other)
    assert not check.isChecked() and window.last_scores.ovalized == ()
    open_photo(qtbot, window, astronaut)
    assert check.isChecked() and window.last_scores.ovalized == ("brightness",)
    with qtbot.waitSignal(feature.ovalize_applied, timeout=TIMEOUT):
        check.setChecked(False)
    qtbot.waitUntil(lambda: abs(window.last_scores.values.get("brightness", 0) - before) < 1e-6, timeout=TIMEOUT)


def test_invert_needs_a_stylegan(qtbot, window, astronaut) -> None:
    feature = faces_of(window)
    open_photo(qtbot, window, astronaut)
    assert feature.invert() == ""
    assert NO_STYLEGAN in window.messages.text() and window.jobs.rows == {}


def test_invert_into_a_tiny_stylegan_gives_an_editable_latent_entry(qtbot, window, astronaut, sg2_pickle, sg2) -> None:
    feature = faces_of(window)
    load_generator(qtbot, window, sg2_pickle)
    open_photo(qtbot, window, astronaut)
    aligned = align(qtbot, window)  # auto size: the generator's resolution
    assert aligned.size == 32 and Image.open(aligned.path).size == (32, 32)
    feature.panel.steps.setValue(20)
    feature.panel.space.setCurrentIndex(1)  # W → W+
    outcomes: list[dict] = []
    feature.inverted.connect(outcomes.append)
    with qtbot.waitSignal(feature.inverted, timeout=TIMEOUT):
        job_id = feature.invert()
    settle(qtbot, window)
    outcome = outcomes[0]
    assert not outcome["cancelled"] and outcome["steps"] == 20 and outcome["space"] == "w+"
    assert outcome["key"] == "face:astronaut" and outcome["label"] == "astronaut"
    assert window.browser.latent_keys() == ["face:astronaut"]
    assert window.browser.list.currentItem().text() == "astronaut"
    assert window.state.subject == LatentSubject("face:astronaut")

    latent_path = Path(outcome["path"])
    assert latent_path.parent == Path(aligned.path).parent and latent_path.suffix == ".npz"
    latent = load_latent(latent_path)
    check_latent_fits(latent, sg2)
    assert latent.label == "astronaut" and set(latent.extras["noise"]) and latent.values.shape[1] == sg2.num_ws
    with torch.no_grad():
        expected = tensor_to_uint8(render_latent(sg2, latent))[0]
    assert np.array_equal(window.current_frame.pixels, expected)

    row = window.jobs.rows[job_id]
    assert row.eta.text() == "done" and not row.preview.pixmap().isNull()
    assert "PSNR" in row.message.text() and "astronaut" in row.message.text()
    shown = qtbot.waitSignal(feature.identity_shown, timeout=TIMEOUT)
    shown.wait()
    assert isinstance(shown.args[0]["distance"], float)
    assert re.match(r"identity distance \d+\.\d\d — (same|different) person", feature.panel.identity.text())
    window.grab().save(str(SHOTS / "memstudio_faces_inverted.png"))

    # Editable with every direction: a W+ direction applied to the entry renders like the core edit.
    vector = torch.randn(1, sg2.num_ws, 32, generator=torch.Generator().manual_seed(3))[0]
    direction = Direction(name="probe", property="brightness", space="w+", vector=vector)
    handle = window.engine.request(OnEngine(lambda p: p.directions.__setitem__("probe", direction)))
    qtbot.waitSignal(handle.done, timeout=TIMEOUT).wait()
    window.state.set_value("alpha", "probe", 0.8, dragging=False)
    settle(qtbot, window)
    with torch.no_grad():
        edited = edit_latent(sg2, latent, [(direction, 0.8)])
        expected_edit = tensor_to_uint8(render_latent(sg2, edited))[0]
    assert np.array_equal(window.current_frame.pixels, expected_edit)
    assert not np.array_equal(expected_edit, expected)


def test_cancel_keeps_the_best_latent_so_far(qtbot, window, astronaut, sg2_pickle, sg2) -> None:
    feature = faces_of(window)
    load_generator(qtbot, window, sg2_pickle)
    open_photo(qtbot, window, astronaut)
    align(qtbot, window)
    feature.panel.steps.setValue(5000)
    feature.panel.space.setCurrentIndex(0)  # W+
    job_id = feature.invert()

    def steps_done() -> int:
        found = re.search(r"step (\d+)/", window.jobs.rows[job_id].message.text())
        return int(found.group(1)) if found else 0

    # Early steps barely move (the learning rate ramps up over 250 steps while the w noise is at its largest),
    # so the best latent may still be the first one after a few: cancel once the optimisation has moved.
    qtbot.waitUntil(lambda: steps_done() >= 50, timeout=TIMEOUT)
    with qtbot.waitSignal(feature.inverted, timeout=TIMEOUT) as signal:
        window.jobs.rows[job_id].cancel.click()
    outcome = signal.args[0]
    assert outcome["cancelled"] and 0 < outcome["steps"] < 5000
    assert "kept the best latent so far" in feature.panel.status.text()
    row = window.jobs.rows[job_id]
    assert row.eta.text() == "cancelled" and "kept the best" in row.message.text()
    latent = load_latent(outcome["path"])
    check_latent_fits(latent, sg2)
    assert latent.extras["steps"] == outcome["steps"] and np.isfinite(latent.extras["loss"])
    assert window.browser.latent_keys() == [outcome["key"]]
    qtbot.waitUntil(lambda: window.state.subject == LatentSubject(outcome["key"]), timeout=TIMEOUT)
