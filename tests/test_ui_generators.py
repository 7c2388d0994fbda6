"""The Generator dock as a user drives it: open (menu function, chooser, drop), seed grid, ψ, class, latents.

The generators are tiny networks of the real architectures with seeded random weights, written by the test
in the real formats (an NVIDIA-structured pickle, a pytorch-pretrained-biggan folder, the model store).
"""

from __future__ import annotations

import gc
import pickle
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_commands import OnEngine
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from test_biggan import tiny_biggan_folder
from test_model_store import _RunsCode, write_nvidia_pickle

from memstudio.core.generators import store
from memstudio.core.generators.base import Generator
from memstudio.core.generators.biggan import load_biggan_folder
from memstudio.core.generators.opening import open_generator
from memstudio.core.imaging import tensor_to_uint8
from memstudio.core.requests import LatentSubject, PhotoSubject, SeedSubject
from memstudio.core.session.generators import render_seed_thumbnails
from memstudio.ui.features.generators.feature import GeneratorsFeature, is_generator_path
from memstudio.ui.features.generators.panel import HINT, MAX_SEED
from memstudio.ui.main_window import MainWindow

LOAD_TIMEOUT = 30_000


pytestmark = pytest.mark.usefixtures("single_thread")


def tiny_stylegan2(c_dim: int = 0, seed: int = 5) -> Generator:
    """A 32 px StyleGAN2 with seeded random weights large enough to give varied images."""
    cls = store.family_class("stylegan2")
    generator = cls(
        z_dim=32,
        c_dim=c_dim,
        w_dim=32,
        img_resolution=32,
        mapping_kwargs={"num_layers": 2},
        synthesis_kwargs={"channel_base": 512, "channel_max": 32},
    )
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(generator.parameters()) + list(generator.buffers()):
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=gen) * 0.2)
    return generator.eval()


@pytest.fixture(scope="module")
def sg2_pickle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    monkeypatch = pytest.MonkeyPatch()
    try:
        return write_nvidia_pickle(tiny_stylegan2(), tmp_path_factory.mktemp("sg2") / "tiny-ffhq.pkl", monkeypatch)
    finally:
        monkeypatch.undo()


@pytest.fixture(scope="module")
def sg2(sg2_pickle: Path) -> Generator:
    """The pickle as the core opens it: what the studio must show, pixel for pixel."""
    return open_generator(sg2_pickle)


@pytest.fixture(scope="module")
def biggan_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_biggan_folder(tmp_path_factory.mktemp("bg") / "biggan-tiny", seed=21)


def two_stylegan2_pickles(folder: Path, names: tuple[str, str]) -> tuple[Path, Path]:
    """Two different tiny StyleGAN2s (seeds 5 and 9) written as NVIDIA pickles ``folder/<name>.pkl``."""
    monkeypatch = pytest.MonkeyPatch()
    try:
        return tuple(
            write_nvidia_pickle(tiny_stylegan2(seed=seed), folder / f"{name}.pkl", monkeypatch)
            for seed, name in zip((5, 9), names, strict=True)
        )
    finally:
        monkeypatch.undo()


def feature_of(window: MainWindow) -> GeneratorsFeature:
    return window.features["generators"]


def pixels_of(generator: Generator, seed: int, truncation: float = 1.0, class_index: int | None = None) -> np.ndarray:
    with torch.no_grad():
        return tensor_to_uint8(generator.render(generator.sample(seed, truncation, class_index)))[0]


def load(qtbot, window: MainWindow, source: Path | str) -> dict:
    feature = feature_of(window)
    with qtbot.waitSignals([feature.generator_loaded, window.frame_shown], timeout=LOAD_TIMEOUT):
        feature.open_generator(source)
    return feature.info


def drop(window: MainWindow, *paths: Path) -> None:
    """Drag ``paths`` over the window and drop them, through Qt's delivery (event filters included)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPointF(10, 10), *args)
    assert QApplication.sendEvent(window, enter) and enter.isAccepted()  # Qt drops a drop nobody entered
    QApplication.sendEvent(window, QDropEvent(QPointF(10, 10), *args))


def wait_grid(qtbot, feature: GeneratorsFeature) -> None:
    qtbot.waitUntil(
        lambda: bool(feature.panel.page_seeds()) and feature.panel.rendered_seeds() == feature.panel.page_seeds(),
        timeout=LOAD_TIMEOUT,
    )


def test_photo_mode_shows_the_hint(qtbot, window, photos_dir) -> None:
    panel = feature_of(window).panel
    assert window.findChild(type(feature_of(window).dock), "generatorDock") is not None
    assert not feature_of(window).dock.isVisible()  # no generator: the dock keeps no room (issue 13)
    assert panel.hint.isVisibleTo(panel) and panel.hint.text() == HINT  # what View ▸ Generator shows
    assert not panel.controls.isVisibleTo(panel)
    with qtbot.waitSignal(window.scores_shown, timeout=LOAD_TIMEOUT):
        window.open_paths([photos_dir / "coffee.png"])
    assert isinstance(window.state.subject, PhotoSubject) and window.canvas.has_image()
    texts = [a.text() for a in window.file_menu.actions()]
    assert "Open &generator…" in texts and texts.index("Open &generator…") < texts.index("&Quit")


def test_open_pickle_shows_seed_zero_grid_and_clicks(qtbot, window, sg2_pickle, sg2) -> None:
    feature = feature_of(window)
    info = load(qtbot, window, sg2_pickle)
    assert (info["name"], info["family"], info["resolution"]) == ("tiny-ffhq", "stylegan2", 32)
    assert info["num_ws"] == sg2.num_ws and info["checkpoint_sha256"] == sg2.checkpoint_hash
    panel = feature.panel
    assert "tiny-ffhq" in panel.info.text() and f"num_ws {sg2.num_ws}" in panel.info.text()
    assert not panel.hint.isVisible() and not panel.class_combo.isVisible()
    assert window.state.subject == SeedSubject(0, 1.0, None)
    assert np.array_equal(window.current_frame.pixels, pixels_of(sg2, 0))
    qtbot.waitUntil(  # seed images are scored live like photos
        lambda: window.last_scores is not None and window.last_scores.request_id == window.current_frame.request_id,
        timeout=LOAD_TIMEOUT,
    )
    assert window.canvas.score_lines()[0][0] == "brightness"

    wait_grid(qtbot, feature)
    assert panel.page_seeds() == list(range(feature.PAGE_SIZE))
    item = panel.item_for(5)
    rect = panel.grid.visualItemRect(item)
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        qtbot.mouseClick(panel.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.state.subject == SeedSubject(5, 1.0, None)
    assert np.array_equal(window.current_frame.pixels, pixels_of(sg2, 5))
    assert not np.array_equal(pixels_of(sg2, 5), pixels_of(sg2, 0))

    panel.next.click()
    wait_grid(qtbot, feature)
    assert panel.page_seeds()[0] == feature.PAGE_SIZE
    panel.go_seed.setValue(MAX_SEED)
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        panel.go_to_seed()
    assert window.state.subject.seed == MAX_SEED
    assert panel.page_seeds()[-1] == MAX_SEED and MAX_SEED in panel.page_seeds()
    wait_grid(qtbot, feature)
    assert panel.grid.currentItem() is panel.item_for(MAX_SEED)


def test_thumbnails_are_the_seeds_rendered_in_a_batch(sg2, biggan_folder) -> None:
    seeds = [0, 3, 2**32 - 1]
    thumbs = render_seed_thumbnails(sg2, seeds, 0.7, None, 96)
    for seed, thumb in zip(seeds, thumbs, strict=True):
        single = pixels_of(sg2, seed, 0.7)
        assert thumb.shape == single.shape == (32, 32, 3)
        assert np.abs(thumb.astype(int) - single.astype(int)).max() <= 1  # batch vs single rounding
    big = load_biggan_folder(biggan_folder)
    small = render_seed_thumbnails(big, [1, 2], 0.4, 207, 16)
    assert [t.shape for t in small] == [(16, 16, 3)] * 2 and not np.array_equal(small[0], small[1])


def test_truncation_rerenders_seed_and_grid(qtbot, window, sg2_pickle, sg2) -> None:
    feature = feature_of(window)
    load(qtbot, window, sg2_pickle)
    wait_grid(qtbot, feature)
    before = window.current_frame.pixels.copy()
    generation = feature._generation
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        feature.panel.truncation.setValue(0.5)
    assert window.state.subject == SeedSubject(0, 0.5, None)
    assert not np.array_equal(window.current_frame.pixels, before)
    assert np.array_equal(window.current_frame.pixels, pixels_of(sg2, 0, 0.5))
    assert feature._generation > generation
    wait_grid(qtbot, feature)
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        window.state.undo_stack.undo()  # the slider follows the image back
    assert feature.panel.truncation_value() == 1.0


def test_biggan_drop_class_picker_and_switch_frees_the_previous(qtbot, window, sg2_pickle, biggan_folder) -> None:
    feature = feature_of(window)
    load(qtbot, window, sg2_pickle)
    refs: list[weakref.ref] = []
    handle = window.engine.request(OnEngine(lambda p: refs.append(weakref.ref(p.generator))))
    qtbot.waitSignal(handle.done, timeout=LOAD_TIMEOUT).wait()

    with qtbot.waitSignals([feature.generator_loaded, window.frame_shown], timeout=LOAD_TIMEOUT):
        drop(window, biggan_folder)
    assert window.browser.paths() == []  # the seed browser did not take the folder as photos
    panel = feature.panel
    assert window.state.subject == SeedSubject(0, 0.4, 0)
    assert panel.truncation_value() == 0.4 and panel.truncation.maximum() == 1.0
    assert panel.class_combo.isVisible() and panel.class_combo.count() == 1000
    assert panel.class_combo.itemText(207) == "207: golden retriever"
    big = load_biggan_folder(biggan_folder)
    assert np.array_equal(window.current_frame.pixels, pixels_of(big, 0, 0.4, 0))
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        panel.set_class_index(207)
    assert window.state.subject == SeedSubject(0, 0.4, 207)
    assert np.array_equal(window.current_frame.pixels, pixels_of(big, 0, 0.4, 207))
    wait_grid(qtbot, feature)

    names: list[str] = []
    handle = window.engine.request(OnEngine(lambda p: names.append(p.generator.family)))
    qtbot.waitSignal(handle.done, timeout=LOAD_TIMEOUT).wait()
    assert names == ["biggan"] and feature.info["family"] == "biggan"
    gc.collect()
    assert refs[0]() is None  # the StyleGAN2 is gone, not kept beside the BigGAN


def test_chooser_opens_a_stored_conditional_model(qtbot, window, tmp_path) -> None:
    source = tmp_path / "cond.pkl"
    source.write_bytes(b"stands for the imported file; only its hash is recorded")
    conditional = tiny_stylegan2(c_dim=4, seed=9)
    store.save_model(conditional, "tiny-cond", source, "0" * 64)
    feature = feature_of(window)
    chooser = feature.choose_generator()
    qtbot.waitUntil(lambda: chooser.models.count() == 1, timeout=LOAD_TIMEOUT)
    assert chooser.models.item(0).text().startswith("tiny-cond")
    with qtbot.waitSignals([feature.generator_loaded, window.frame_shown], timeout=LOAD_TIMEOUT):
        chooser.open_button.click()
    assert not chooser.isVisible()
    panel = feature.panel
    assert [panel.class_combo.itemText(i) for i in range(panel.class_combo.count())] == ["0", "1", "2", "3"]
    assert window.state.subject == SeedSubject(0, 1.0, 0)
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        panel.set_class_index(3)
    assert np.array_equal(window.current_frame.pixels, pixels_of(conditional, 0, 1.0, 3))


def test_hostile_pickle_is_refused_and_nothing_runs(qtbot, window, tmp_path, sg2_pickle) -> None:
    feature = feature_of(window)
    load(qtbot, window, sg2_pickle)
    marker = tmp_path / "pwned"
    hostile = tmp_path / "network-snapshot.pkl"
    hostile.write_bytes(pickle.dumps({"G_ema": _RunsCode(marker)}, protocol=4))
    opening = lambda done: done.job_id.startswith("generators:open-")  # noqa: E731 - not the thumbnail jobs
    with qtbot.waitSignal(window.jobs.card_finished, timeout=LOAD_TIMEOUT, check_params_cb=opening) as done:
        drop(window, hostile)
    assert done.args[0].error and "refused" in done.args[0].error
    assert str(hostile) in window.messages.text() and "refused to load" in window.messages.text()
    assert not marker.exists()
    assert feature.info["name"] == "tiny-ffhq"  # the studio goes on with the generator it had
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        feature.show_seed(2)
    assert window.state.subject == SeedSubject(2, 1.0, None)


def test_latent_round_trip(qtbot, window, tmp_path, sg2_pickle, sg2) -> None:
    feature = feature_of(window)
    load(qtbot, window, sg2_pickle)
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        feature.panel.truncation.setValue(0.7)
    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        feature.show_seed(7)
    shown = window.current_frame.pixels.copy()
    path = tmp_path / "seed7.npz"
    with qtbot.waitSignal(feature.latent_saved, timeout=LOAD_TIMEOUT):
        feature.save_latent(path)
    with np.load(path, allow_pickle=False) as data:
        assert str(data["space"]) == "w+" and data["values"].shape == (1, sg2.num_ws, 32)
        assert int(data["seed"]) == 7 and float(data["truncation"]) == pytest.approx(0.7)
        assert str(data["generator_name"]) == "tiny-ffhq"
        assert str(data["generator_sha256"]) == sg2.checkpoint_hash

    with qtbot.waitSignal(window.frame_shown, timeout=LOAD_TIMEOUT):
        feature.show_seed(1)
    with qtbot.waitSignals([feature.latent_opened, window.frame_shown], timeout=LOAD_TIMEOUT):
        feature.open_latent(path)
    assert isinstance(window.state.subject, LatentSubject)
    assert np.array_equal(window.current_frame.pixels, shown)


def test_dropped_paths_are_sorted_by_kind(tmp_path, sg2_pickle, biggan_folder) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    assert is_generator_path(sg2_pickle) and is_generator_path(biggan_folder)
    assert is_generator_path(biggan_folder / "pytorch_model.bin")
    assert not is_generator_path(photos) and not is_generator_path(tmp_path / "a.png")
    assert not is_generator_path(tmp_path / "direction.safetensors")
