"""What a user sees in the studio (issue 13): undo steps, honest scores, the wheel, layout, Help, leak checks."""

from __future__ import annotations

import bad_images
import numpy as np
import pytest
import qt_leaks
import torch
from conftest import check_no_live_qt_objects
from PySide6.QtCore import QPoint, QPointF, Qt, QThread, QTimer
from PySide6.QtGui import QDesktopServices, QKeySequence, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QTableWidget
from test_model_store import write_nvidia_pickle
from test_ui_generators import tiny_stylegan2, wait_grid

from memstudio import __version__
from memstudio.core.directions.base import Direction
from memstudio.core.generators.edit_params import PARAMETER_INDEX, PARAMETERS
from memstudio.core.requests import PhotoSubject
from memstudio.engine import Frame, ScoreResult
from memstudio.ui.main_window import MainWindow

TIMEOUT = 60_000


def open_and_wait(qtbot, win, path) -> None:
    with qtbot.waitSignal(win.scores_shown, timeout=TIMEOUT):
        win.open_paths([path])


def settle(qtbot, win) -> None:
    qtbot.waitUntil(
        lambda: win.last_scores is not None and win.last_scores.request_id == win.last_request_id, timeout=TIMEOUT
    )


def undo_text(win) -> str:
    return win.state.undo_stack.undoText()


# ----- undo ---------------------------------------------------------------------------------------------------
def test_a_mouse_drag_and_a_groove_click_are_one_undo_step_each(qtbot, window, photos_dir) -> None:
    open_and_wait(qtbot, window, photos_dir / "chelsea.png")
    assert window.state.undo_stack.count() == 0  # the first photo is not a step back to an empty canvas
    inner = window.strip.sliders["exposure"]._slider
    middle = QPoint(inner.width() // 2, inner.height() // 2)
    QTest.mousePress(inner, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, middle)
    for x in (0.6, 0.7, 0.8, 0.9):
        QTest.mouseMove(inner, QPoint(int(inner.width() * x), middle.y()))
    QTest.mouseRelease(
        inner, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(int(inner.width() * 0.9), middle.y())
    )
    dragged = window.state.values.edits["exposure"]
    assert dragged > 0.5
    assert window.state.undo_stack.count() == 1  # press (Qt's jump), moves and release merged
    assert undo_text(window) == "Exposure"
    edit_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    assert edit_menu.actions()[0].text() == "&Undo Exposure"  # the Edit menu names the command

    # A click on the groove away from the handle: a page step, one entry of its own.
    far = QPoint(int(inner.width() * 0.1), middle.y())
    QTest.mouseClick(inner, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, far)
    assert window.state.values.edits.get("exposure", 0.0) != dragged
    assert window.state.undo_stack.count() == 2
    window.state.undo_stack.undo()
    assert window.state.values.edits["exposure"] == pytest.approx(dragged)
    window.state.undo_stack.undo()
    settle(qtbot, window)
    assert window.state.values.edits == {} and window.strip.sliders["exposure"].value() == 0.0


def test_changing_the_photo_is_undone_with_its_edits_and_the_browser_follows(qtbot, window, photos_dir) -> None:
    open_and_wait(qtbot, window, photos_dir / "chelsea.png")
    window.state.set_value("edit", "saturation", -0.5)
    window.browser.add_paths([photos_dir / "coffee.png"])
    window.open_photo(str(photos_dir / "coffee.png"))
    settle(qtbot, window)
    assert undo_text(window) == "Open coffee.png"
    window.state.set_value("edit", "saturation", 0.4)
    window.state.undo_stack.undo()
    window.state.undo_stack.undo()  # back to chelsea, with chelsea's edit
    settle(qtbot, window)
    assert window.state.subject == PhotoSubject(str(photos_dir / "chelsea.png"))
    assert window.state.values.edits == {"saturation": -0.5}
    assert window.browser.list.currentItem().text() == "chelsea.png"
    assert all(s.isEnabled() for s in window.strip.sliders.values())  # no half state: the photo is editable
    window.state.undo_stack.undo()
    assert window.state.subject is not None  # nothing undoes the first photo away
    window.state.undo_stack.redo()
    window.state.undo_stack.redo()
    assert window.state.subject == PhotoSubject(str(photos_dir / "coffee.png"))
    assert window.state.values.edits == {"saturation": -0.5}


def test_layer_weights_and_removing_a_direction_are_undo_steps(qtbot, window, photos_dir, tmp_path) -> None:
    open_and_wait(qtbot, window, photos_dir / "chelsea.png")
    window.state.set_layer_weights((1.0, 0.0, 1.0))
    assert undo_text(window) == "Layer weights"
    window.state.undo_stack.undo()
    assert window.state.values.layer_weights is None

    feature = window.features["directions"]
    vector = torch.zeros(len(PARAMETERS))
    vector[PARAMETER_INDEX["exposure"]] = 1.0
    path = Direction("lighter", "brightness", "edit", vector, alpha_range=(-1.0, 1.0)).save(tmp_path / "lighter.json")
    with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT) as loaded:
        feature.open_direction(path)
    direction_id = loaded.args[0]["id"]
    feature.sliders.rows[direction_id].slider.setValue(0.5)
    settle(qtbot, window)
    lit = window.last_scores.values["brightness"]
    assert undo_text(window) == "lighter"  # α steps are named after the direction
    feature.sliders.rows[direction_id].remove.click()
    settle(qtbot, window)
    assert undo_text(window) == "Remove lighter"
    assert direction_id not in feature.sliders.rows and window.state.values.alphas == {}
    assert window.last_scores.values["brightness"] < lit
    window.state.undo_stack.undo()  # the slider comes back with its α, and so does the image
    settle(qtbot, window)
    assert feature.sliders.rows[direction_id].slider.value() == pytest.approx(0.5)
    assert window.state.values.alphas == {direction_id: pytest.approx(0.5)}
    assert window.last_scores.values["brightness"] == pytest.approx(lit, abs=1e-4)


# ----- scores ---------------------------------------------------------------------------------------------
def test_scores_of_an_older_frame_are_marked_until_the_frame_on_screen_has_its_own(qtbot, window) -> None:
    pixels = np.full((16, 16, 3), 128, np.uint8)
    live = window.features["canvas"].live
    live.show_frame(Frame(10_000, pixels, 1.0, torch.zeros(1)))
    live.show_scores(ScoreResult(10_000, {"brightness": 0.5}, {}, 1.0))
    [line] = window.canvas.score_marks()
    assert not line.stale and line.text() == "brightness 0.500"
    live.show_frame(Frame(10_001, pixels, 1.0, torch.zeros(1)))
    [line] = window.canvas.score_marks()
    assert line.stale and line.request_id == 10_000
    assert line.text() == "brightness 0.500 · updating… (frame 10000)"
    shown: list[int] = []
    window.scores_shown.connect(shown.append)
    live.show_scores(ScoreResult(10_001, {"brightness": 0.6}, {}, 1.0, complete=False))
    assert window.canvas.score_marks()[0].text() == "brightness 0.600"  # cheap scores show at once
    assert shown == []  # …but the frame is not "scored" until the slow ones are in
    live.show_scores(ScoreResult(10_001, {}, {}, 1.0, complete=True, ovalized=("brightness",)))
    assert shown == [10_001] and window.last_scores.values == {"brightness": 0.6}
    live.show_scores(ScoreResult(10_001, {"brightness": 0.7}, {}, 1.0, ovalized=("brightness",)))
    assert window.canvas.score_marks()[0].text() == "brightness 0.700 · ovalized"


def test_a_frame_arrives_with_its_old_scores_dimmed(qtbot, window, photos_dir) -> None:
    open_and_wait(qtbot, window, photos_dir / "rocket.jpg")
    seen = []
    window.frame_shown.connect(lambda rid: seen.append((rid, window.canvas.score_marks())))
    window.state.set_value("edit", "exposure", 1.0)
    settle(qtbot, window)
    rid, marks = seen[-1]
    assert marks[0].stale and marks[0].request_id < rid  # on screen before its own score arrived
    assert not window.canvas.score_marks()[0].stale  # and no longer once it did


def test_cheap_assessors_do_not_wait_for_slow_ones(qtbot, photos_dir, monkeypatch) -> None:
    from memstudio.core.assessors import registry

    monkeypatch.setattr(registry, "per_frame", lambda name: name == "brightness")  # entropy plays ResMem
    win = MainWindow(assessors=("brightness", "entropy"))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.engine.pipeline is not None, timeout=20_000)
    results: list[ScoreResult] = []
    win.engine.scored.connect(results.append)
    open_and_wait(qtbot, win, photos_dir / "coffee.png")
    qtbot.waitUntil(lambda: any(r.complete for r in results), timeout=TIMEOUT)  # queued to this slot too
    first, second = results[-2:]
    assert first.request_id == second.request_id
    assert (set(first.values), first.complete) == ({"brightness"}, False)
    assert (set(second.values), second.complete) == ({"entropy"}, True)
    assert [name for name, _, _ in win.canvas.score_lines()] == ["brightness", "entropy"]
    win.close()


# ----- controls -------------------------------------------------------------------------------------------
def wheel(widget) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        widget.mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_changes_no_value_without_focus(qtbot, window) -> None:
    faces = window.features["faces"]
    faces.dock.raise_()
    steps = faces.panel.steps
    qtbot.waitUntil(steps.isVisible, timeout=5_000)
    before = steps.value()
    wheel(steps)
    assert steps.value() == before
    assert steps.focusPolicy() == Qt.FocusPolicy.StrongFocus  # the wheel does not give it focus either
    slider = window.strip.sliders["contrast"]._slider
    wheel(slider)
    assert window.state.values.edits == {}
    window.activateWindow()
    steps.setFocus()
    qtbot.waitUntil(steps.hasFocus, timeout=5_000)
    wheel(steps)
    assert steps.value() != before  # with focus the wheel works as usual


def test_a_broken_photo_is_not_left_selected(qtbot, window, photos_dir, tmp_path) -> None:
    open_and_wait(qtbot, window, photos_dir / "coffee.png")
    bad = bad_images.text_as_jpeg(tmp_path)
    with qtbot.waitSignal(window.engine.failed, timeout=TIMEOUT):
        window.open_paths([bad])
    assert window.state.subject == PhotoSubject(str(photos_dir / "coffee.png"))
    assert window.browser.list.currentItem().text() == "coffee.png"
    assert window.browser.selected_paths() == [str(photos_dir / "coffee.png")]
    assert window.state.undo_stack.count() == 0  # no "Open notes.jpg" to redo into a failure
    assert str(bad) in window.messages.text()


@pytest.fixture(scope="module")
def sg2_pickle(tmp_path_factory: pytest.TempPathFactory):
    monkeypatch = pytest.MonkeyPatch()
    try:
        return write_nvidia_pickle(tiny_stylegan2(), tmp_path_factory.mktemp("sg2") / "tiny.pkl", monkeypatch)
    finally:
        monkeypatch.undo()


def test_invert_says_what_it_needs_until_a_stylegan_is_loaded(qtbot, window, sg2_pickle) -> None:
    button = window.features["faces"].panel.invert_button
    assert not button.isEnabled() and "open a StyleGAN generator first" in button.toolTip()
    generators = window.features["generators"]
    with qtbot.waitSignals([generators.generator_loaded, window.frame_shown], timeout=TIMEOUT):
        generators.open_generator(sg2_pickle)
    assert button.isEnabled() and "needs" not in button.toolTip()
    assert generators.dock.isVisible()  # the Generator dock shows itself with the generator
    wait_grid(qtbot, generators)  # the seed grid's thumbnails are done before the window closes


def test_a_failed_generator_job_card_shows_its_status(qtbot, window, tmp_path) -> None:
    window.resize(1400, 900)
    broken = tmp_path / "broken.pkl"
    broken.write_bytes(b"not a pickle at all")
    with qtbot.waitSignal(window.jobs.card_finished, timeout=TIMEOUT) as done:
        job_id = window.features["generators"].open_generator(broken)
    assert done.args[0].error
    row = window.jobs.rows[job_id]
    assert row.bar.text() == "failed" and row.message.text() == done.args[0].error
    qtbot.waitUntil(lambda: not row.message.visibleRegion().isEmpty(), timeout=5_000)


# ----- layout ---------------------------------------------------------------------------------------------
def test_main_controls_show_without_scrolling_at_1400x900(qtbot, window) -> None:
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.width() == 1400, timeout=5_000)
    checks = {
        "propertyStripDock": window.strip.findChild(QPushButton, "resetEdits"),  # below the last slider
        "facesDock": window.features["faces"].panel.invert_button,
    }
    for name, widget in checks.items():
        dock = window.findChild(type(window.strip_dock), name)
        dock.raise_()
        qtbot.waitUntil(widget.isVisible, timeout=5_000)
        rect = widget.visibleRegion().boundingRect()
        assert rect.height() == widget.height(), f"{name}: {widget.objectName()} is cut off"


def test_the_canvas_gets_the_space_of_a_small_window(qtbot, window) -> None:
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.canvas.width() >= 420, timeout=5_000)  # 322 px before issue 13
    generator_dock = window.features["generators"].dock
    # The empty Generator dock keeps no space: it waits, hidden, for a generator (View ▸ Generator shows it).
    assert not generator_dock.isVisible() and generator_dock.toggleViewAction() in window.view_menu.actions()
    assert window.canvas.height() >= 600


# ----- Help -----------------------------------------------------------------------------------------------
def test_help_menu(qtbot, window, monkeypatch) -> None:
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert [a.text() for a in help_menu.actions()] == [
        "&About memstudio",
        "Model &licences",
        "&Keyboard shortcuts",
        "Open the &log folder",
    ]
    about = window.help.about()
    assert f"memstudio {__version__}" in about.findChild(type(window._device_label), "aboutText").text()
    licences = window.help.model_licences()
    table = licences.findChild(QTableWidget, "modelLicences")
    rows = {table.item(i, 1).text(): table.item(i, 3).text() for i in range(table.rowCount())}
    assert rows["resmem"] == "ResMem Non-commercial License (University of Chicago)"
    assert ("Edit ▸ Undo", QKeySequence(QKeySequence.StandardKey.Undo).toString()) in window.help.shortcut_rows()
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    folder = window.help.open_log_folder()
    assert opened == [folder] and folder.endswith("logs")
    window.close()
    assert not about.isVisible() and not licences.isVisible()


# ----- leak checks ----------------------------------------------------------------------------------------
def test_the_leak_check_sees_a_parentless_thread_and_an_active_timer(qapp) -> None:
    qt_leaks.track()
    thread = QThread()  # no parent: QApplication.findChildren(QThread) cannot see it
    thread.start()
    assert thread not in qapp.findChildren(QThread)
    with pytest.raises(AssertionError, match=r"QThreads running: \[\"QThread\(''\) \(no parent\)\"\]"):
        check_no_live_qt_objects()
    assert thread.wait(5_000) and not thread.isRunning()  # the check stopped it for the next test
    timer = QTimer()
    timer.start(60_000)
    with pytest.raises(AssertionError, match="QTimers active"):
        check_no_live_qt_objects()
    assert not timer.isActive()
    check_no_live_qt_objects()  # nothing left running: it passes
