"""File ▸ Save session… / Open session… as a user drives them: the saved file renders from the CLI to the very
pixels the canvas showed, and opening it in a studio brings back the subject, the edits and the sliders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_figures_support import make_photo
from test_model_store import write_nvidia_pickle
from test_session_file import _cli_pixels
from test_ui_generators import tiny_stylegan2

from memstudio.core.directions.base import Direction
from memstudio.core.generators.edit_params import PARAMETERS
from memstudio.core.requests import PhotoSubject, SeedSubject
from memstudio.ui.main_window import MainWindow

TIMEOUT = 60_000
pytestmark = pytest.mark.usefixtures("single_thread")


def _frame_settled(window: MainWindow) -> bool:
    frame = window.current_frame
    return frame is not None and frame.request_id == window.last_request_id


def _photo_with_edits(qtbot, window: MainWindow, tmp_path: Path) -> str:
    photo = make_photo(tmp_path / "photo.png", size=(40, 32))
    vector = torch.zeros(len(PARAMETERS))
    vector[0], vector[2] = 0.6, -0.4
    direction = Direction(name="brighter", property="brightness", space="edit", vector=vector)
    path = direction.save(tmp_path / "brighter")
    with qtbot.waitSignal(window.scores_shown, timeout=TIMEOUT):
        window.open_paths([photo])
    directions = window.features["directions"]
    with qtbot.waitSignal(directions.direction_loaded, timeout=TIMEOUT) as loaded:
        directions.open_direction(path)
    direction_id = loaded.args[0]["id"]
    window.state.set_value("edit", "contrast", 0.3)
    window.state.set_value("alpha", direction_id, 0.7)
    qtbot.waitUntil(lambda: _frame_settled(window), timeout=TIMEOUT)
    return direction_id


def test_saved_photo_session_renders_the_canvas_from_the_cli_and_opens_again(qtbot, window, tmp_path, capsys) -> None:
    direction_id = _photo_with_edits(qtbot, window, tmp_path)
    shown = window.current_frame.pixels.copy()
    qtbot.waitUntil(lambda: window.last_scores.request_id == window.last_request_id, timeout=TIMEOUT)
    brightness = window.last_scores.values["brightness"]
    feature = window.features["session"]
    target = tmp_path / "studio.json"
    with qtbot.waitSignal(feature.saved, timeout=TIMEOUT):
        feature.save(target)
    capsys.readouterr()
    assert np.array_equal(_cli_pixels(target, tmp_path / "cli.png"), shown)
    assert f"brightness: {brightness:.4f}" in capsys.readouterr().out  # the live assessors, scored as live

    window.state.reset_edits()
    qtbot.waitUntil(lambda: _frame_settled(window), timeout=TIMEOUT)
    assert not np.array_equal(window.current_frame.pixels, shown)
    with qtbot.waitSignal(feature.opened, timeout=TIMEOUT):
        feature.open(target)
    assert window.state.values.edits == {"contrast": 0.3}
    assert window.state.values.alphas == {direction_id: 0.7}
    assert isinstance(window.state.subject, PhotoSubject)
    assert window.features["directions"].sliders.rows[direction_id].isVisibleTo(window)
    assert window.state.undo_stack.count() == 0  # a session is a fresh start, not an undo step
    qtbot.waitUntil(lambda: _frame_settled(window), timeout=TIMEOUT)
    assert np.array_equal(window.current_frame.pixels, shown)


def test_a_tampered_session_input_is_refused_and_the_studio_keeps_its_state(qtbot, window, tmp_path) -> None:
    _photo_with_edits(qtbot, window, tmp_path)
    feature = window.features["session"]
    target = tmp_path / "studio.json"
    with qtbot.waitSignal(feature.saved, timeout=TIMEOUT):
        feature.save(target)
    tensors = tmp_path / "brighter.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0x01
    tensors.write_bytes(bytes(data))
    before = window.state.values.copy()
    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT) as failed:
        feature.open(target)
    assert "brighter.safetensors: the file changed since the session was made" in failed.args[0].message
    assert window.state.values == before


def test_seed_session_of_an_nvidia_pickle_renders_the_canvas(qtbot, window, tmp_path) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        pickle = write_nvidia_pickle(tiny_stylegan2(), tmp_path / "tiny-ffhq.pkl", monkeypatch)
    generators = window.features["generators"]
    with qtbot.waitSignal(generators.generator_loaded, timeout=TIMEOUT):
        generators.open_generator(pickle)
    generators.show_seed(11)
    qtbot.waitUntil(lambda: window.state.subject == SeedSubject(11, 1.0, None), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: _frame_settled(window), timeout=TIMEOUT)
    shown = window.current_frame.pixels.copy()
    feature = window.features["session"]
    target = tmp_path / "seed.json"
    with qtbot.waitSignal(feature.saved, timeout=TIMEOUT):
        feature.save(target)
    assert np.array_equal(_cli_pixels(target, tmp_path / "cli.png"), shown)

    generators.show_seed(3)
    qtbot.waitUntil(lambda: window.state.subject == SeedSubject(3, 1.0, None), timeout=TIMEOUT)
    with qtbot.waitSignal(feature.opened, timeout=TIMEOUT):
        feature.open(target)
    assert window.state.subject == SeedSubject(11, 1.0, None)
    assert window.state.values.generator == window.state.session.generator_hash
    qtbot.waitUntil(lambda: _frame_settled(window), timeout=TIMEOUT)
    assert np.array_equal(window.current_frame.pixels, shown)
    texts = [a.text() for a in window.file_menu.actions()]
    assert texts[:2] == ["Open session…", "Save session…"]


def test_a_seed_session_with_a_w_direction_opens_with_its_alpha_in_a_fresh_studio(qtbot, window, tmp_path) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        pickle = write_nvidia_pickle(tiny_stylegan2(), tmp_path / "tiny-ffhq.pkl", monkeypatch)
    generators, directions = window.features["generators"], window.features["directions"]
    with qtbot.waitSignal(generators.generator_loaded, timeout=TIMEOUT):
        generators.open_generator(pickle)
    path = Direction("w-probe", "brightness", "w", torch.linspace(-1.0, 1.0, 32)).save(tmp_path / "w-probe")
    with qtbot.waitSignal(directions.direction_loaded, timeout=TIMEOUT) as loaded:
        directions.open_direction(path)
    direction_id = loaded.args[0]["id"]
    generators.show_seed(11)
    qtbot.waitUntil(lambda: window.state.subject == SeedSubject(11, 1.0, None), timeout=TIMEOUT)
    window.state.set_value("alpha", direction_id, 2.0)
    qtbot.waitUntil(lambda: _frame_settled(window), timeout=TIMEOUT)
    shown = window.current_frame.pixels.copy()
    target = tmp_path / "seed-w.json"
    with qtbot.waitSignal(window.features["session"].saved, timeout=TIMEOUT):
        window.features["session"].save(target)

    # A studio with no generator open: the session opens the generator and the direction, and keeps the α
    # (the new generator's check of the directions must not drop what the session brought).
    fresh = MainWindow(assessors=("brightness",))
    qtbot.addWidget(fresh)
    fresh.show()
    try:
        qtbot.waitUntil(lambda: fresh.live_assessors is not None, timeout=TIMEOUT)
        with qtbot.waitSignal(fresh.features["session"].opened, timeout=TIMEOUT):
            fresh.features["session"].open(target)
        qtbot.wait(300)  # the engine's recheck of the directions against the opened generator lands
        assert fresh.state.values.alphas == {direction_id: 2.0}
        qtbot.waitUntil(lambda: _frame_settled(fresh), timeout=TIMEOUT)
        assert np.array_equal(fresh.current_frame.pixels, shown)
    finally:
        fresh.close()
