"""Switching generators with live latents in the studio: each generator keeps its own latents.

Two tiny StyleGAN2s of the real architecture (seeded random weights, written as NVIDIA pickles). A latent of
generator A is listed and rendered while A is open; opening B hides it, and undoing back to it is refused with
a message naming both generators (the canvas keeps B's image); opening A again lists it and renders it as
before, pixel for pixel.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_ui_generators import feature_of, load, two_stylegan2_pickles

from memstudio.core.requests import LatentSubject, SeedSubject

TIMEOUT = 30_000

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def two_pickles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return two_stylegan2_pickles(tmp_path_factory.mktemp("two"), ('tiny-a', 'tiny-b'))


def test_generator_switch_with_live_latents(qtbot, window, two_pickles, tmp_path) -> None:
    a_path, b_path = two_pickles
    feature = feature_of(window)
    info_a = load(qtbot, window, a_path)
    with qtbot.waitSignal(window.frame_shown, timeout=TIMEOUT):
        feature.show_seed(7)
    seed7 = window.current_frame.pixels.copy()
    with qtbot.waitSignal(feature.latent_saved, timeout=TIMEOUT):
        feature.save_latent(tmp_path / "seed7.npz")
    keys: list[str] = []
    feature.latent_opened.connect(keys.append)
    with qtbot.waitSignals([feature.latent_opened, window.frame_shown], timeout=TIMEOUT):
        feature.open_latent(tmp_path / "seed7.npz")
    key = keys[0]
    assert window.state.subject == LatentSubject(key) and window.browser.latent_keys() == [key]
    assert np.array_equal(window.current_frame.pixels, seed7)
    assert window.state.session.latents() == {key: "seed7"}

    info_b = load(qtbot, window, b_path)
    assert info_b["sha256"] != info_a["sha256"] and window.state.session.generator_hash == info_b["sha256"]
    assert window.browser.latent_keys() == []  # A's latent is not B's
    assert window.state.subject == SeedSubject(0, 1.0, None)
    b_seed0 = window.current_frame.pixels.copy()

    # Undo brings back A's latent as the subject: its request names A, and the engine refuses it.
    window.messages.hide()
    with qtbot.waitSignal(
        window.engine.failed, timeout=TIMEOUT, check_params_cb=lambda f: f.origin == "render"
    ) as refused:
        window.state.undo_stack.undo()
    message = refused.args[0].message
    assert "'tiny-a'" in message and info_a["sha256"][:12] in message
    assert "'tiny-b'" in message and info_b["sha256"][:12] in message
    assert "'tiny-a'" in window.messages.text()
    assert window.state.subject == SeedSubject(0, 1.0, None)  # back to what the canvas shows
    assert np.array_equal(window.current_frame.pixels, b_seed0)

    load(qtbot, window, a_path)  # switching back restores A's latents
    assert window.browser.latent_keys() == [key]
    window.features["faces"].show_latent(key)
    # A frame of A's seed may still be on its way from the load: wait for the latent's own frame.
    qtbot.waitUntil(lambda: window.shown_subject == LatentSubject(key), timeout=TIMEOUT)
    assert window.state.subject == LatentSubject(key)
    assert np.array_equal(window.current_frame.pixels, seed7)
