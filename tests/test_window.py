"""The studio window as a user drives it: photos in, sliders, undo, bad files, jobs, layout, closing."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import bad_images
import pytest
from engine_commands import OnEngine, StepsOf
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from memstudio.ui.main_window import MainWindow

FAST = ("brightness", "entropy")


@pytest.fixture
def window(qtbot):
    win = MainWindow(assessors=FAST)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.engine.is_running(), timeout=10_000)
    yield win
    win.close()
    assert not win.engine.is_running()


def settle(qtbot, win) -> None:
    """Wait until the newest frame requested is on screen and scored (not just any frame of a drag)."""
    qtbot.waitUntil(
        lambda: win.last_scores is not None and win.last_scores.request_id == win.last_request_id, timeout=30_000
    )


def open_and_wait(qtbot, win, path: Path) -> None:
    with qtbot.waitSignal(win.scores_shown, timeout=30_000):
        win.open_paths([path])


def test_photo_is_shown_with_scores_in_the_corner(qtbot, window, photos_dir):
    open_and_wait(qtbot, window, photos_dir / "coffee.png")
    assert window.canvas.has_image()
    lines = window.canvas.score_lines()
    assert [name for name, _, _ in lines] == list(FAST)
    brightness = float(lines[0][1])
    assert 0.3 < brightness < 0.5  # coffee.png is mid-dark (0.406 measured by the core)
    assert window.strip.score_labels["brightness"].text() == lines[0][1]
    assert window.browser.paths() == [str(photos_dir / "coffee.png")]


def test_slider_drag_is_one_undo_step(qtbot, window, photos_dir):
    open_and_wait(qtbot, window, photos_dir / "chelsea.png")
    before = float(window.canvas.score_lines()[0][1])
    window.state.begin_drag()
    for v in (0.1, 0.3, 0.5, 0.7):
        window.state.set_value("edit", "exposure", v, dragging=True)
    window.state.end_drag()
    qtbot.waitUntil(lambda: window.strip.sliders["exposure"].value() == pytest.approx(0.7), timeout=5_000)
    settle(qtbot, window)
    assert float(window.canvas.score_lines()[0][1]) > before + 0.05
    assert window.state.undo_stack.count() == 1  # one merged drag (the first photo is not an undo step)
    window.state.undo_stack.undo()
    settle(qtbot, window)
    assert window.state.values.edits == {}
    assert window.strip.sliders["exposure"].value() == 0.0
    assert float(window.canvas.score_lines()[0][1]) == pytest.approx(before, abs=1e-3)


def test_moving_a_slider_widget_renders_the_edit(qtbot, window, photos_dir):
    open_and_wait(qtbot, window, photos_dir / "rocket.jpg")
    window.strip.sliders["saturation"].setValue(-0.8)
    settle(qtbot, window)
    assert window.state.values.edits == {"saturation": pytest.approx(-0.8)}


@pytest.mark.parametrize("name", sorted(bad_images.BAD))
def test_bad_files_show_a_message_and_the_studio_goes_on(qtbot, window, tmp_path, photos_dir, name):
    path = bad_images.BAD[name](tmp_path)
    with qtbot.waitSignal(window.engine.failed, timeout=20_000):
        window.open_paths([path])
    assert window.messages.isVisible()
    assert str(path) in window.messages.text()
    open_and_wait(qtbot, window, photos_dir / "coffee.png")
    assert window.canvas.has_image()


@pytest.mark.parametrize("name", sorted(bad_images.AWKWARD))
def test_awkward_files_open(qtbot, window, tmp_path, name):
    path = bad_images.AWKWARD[name](tmp_path)
    open_and_wait(qtbot, window, path)
    assert not window.messages.isVisible()
    if name == "exif":
        assert window.canvas.image_size() == (40, 60)  # shown upright


def test_huge_photo_is_edited_reduced(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, bad_images.huge_jpeg(tmp_path))
    assert max(window.canvas.image_size()) == 1024


def test_drop_of_files_and_folders(qtbot, window, tmp_path, photos_dir):
    folder = tmp_path / "drop"
    folder.mkdir()
    for name in ("chelsea.png", "rocket.jpg"):
        shutil.copy(photos_dir / name, folder / name)
    (folder / "notes.txt").write_text("x")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPointF(10, 10), *args)
    assert QApplication.sendEvent(window, enter) and enter.isAccepted()  # Qt drops a drop nobody entered
    with qtbot.waitSignal(window.scores_shown, timeout=30_000):
        QApplication.sendEvent(window, QDropEvent(QPointF(10, 10), *args))
    assert sorted(Path(p).name for p in window.browser.paths()) == ["chelsea.png", "rocket.jpg"]
    assert "added 2 photo(s)" in window.statusBar().currentMessage()
    shown = window.state.subject
    assert window.open_paths([folder]) == "no new photos in drop" and window.state.subject == shown


def test_thumbnails_are_made(qtbot, window, photos_dir):
    window.browser.add_paths([photos_dir])
    qtbot.waitUntil(
        lambda: all(
            not window.browser.list.item(i).icon().isNull() for i in range(window.browser.list.count())
        ),
        timeout=20_000,
    )
    assert window.browser.list.count() == 6


def test_score_folder_job_writes_csv(qtbot, window, tmp_path, photos_dir):
    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(photos_dir / "coffee.png", folder / "a.png")
    shutil.copy(photos_dir / "chelsea.png", folder / "b.png")
    bad_images.text_as_jpeg(folder)
    out = tmp_path / "scores.csv"
    with qtbot.waitSignal(window.jobs.card_finished, timeout=60_000) as done:
        job_id = window.features["scoring"].score_folder(folder, out, assessors=("brightness",))
    assert not done.args[0].cancelled and done.args[0].error is None
    rows = list(csv.DictReader(out.open()))
    assert [Path(r["path"]).name for r in rows] == ["a.png", "b.png", "notes.jpg"]
    assert float(rows[0]["brightness"]) == pytest.approx(0.4064, abs=1e-3)
    assert "not an image" in rows[2]["error"]
    assert window.jobs.rows[job_id].eta.text() == "done"
    # The room's menu entry sits above Quit, after the entries of the rooms installed before it.
    texts = [a.text() for a in window.file_menu.actions() if not a.isSeparator()]
    assert texts[-2:] == ["Score a folder with ResMem…", "&Quit"]


def test_layout_has_stable_names_resets_and_persists(qtbot, window):
    names = {d.objectName() for d in (window.browser_dock, window.strip_dock, window.jobs_dock)}
    assert names == {"seedBrowserDock", "propertyStripDock", "jobsDock"}
    window.jobs_dock.hide()
    window.save_layout()
    second = MainWindow(assessors=FAST)
    qtbot.addWidget(second)
    second.show()
    assert second.jobs_dock.isHidden()  # the saved layout was restored
    second.reset_layout()
    assert not second.jobs_dock.isHidden()
    second.close()


def test_closing_stops_the_engine_thread(qtbot):
    win = MainWindow(assessors=FAST)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.engine.is_running(), timeout=10_000)
    win.close()
    assert not win.engine.is_running()


def test_close_waits_for_a_long_engine_step_then_closes_itself(qtbot):
    import time

    from memstudio.core.jobs import Progress

    win = MainWindow(assessors=FAST)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.engine.pipeline is not None, timeout=20_000)
    win.STOP_TIMEOUT_MS = 100
    started = []

    def long_step(pipeline):
        started.append(True)
        time.sleep(1.5)
        yield Progress(1.0)

    win.engine.submit(StepsOf("Long step", long_step), "long")
    qtbot.waitUntil(lambda: bool(started), timeout=5_000)
    assert win.close() is False  # stop() timed out: the window stays and says why
    assert win.isVisible() and not win.isEnabled() and win.engine.is_running()
    assert "waiting for the engine to finish its current step" in win.messages.text()
    win.close()  # a second close while waiting changes nothing
    assert win.isVisible()
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=10_000)
    assert not win.engine.is_running()


def test_the_window_says_when_the_engine_thread_dies(qtbot, window):
    def leave(pipeline):
        raise SystemExit("gone")

    qtbot.waitUntil(lambda: window.engine.pipeline is not None, timeout=20_000)
    with qtbot.waitSignal(window.engine.died, timeout=10_000):
        window.engine.request(OnEngine(leave))
    assert "The engine stopped" in window.messages.text() and "restart memstudio" in window.messages.text()
    assert window._device_label.text() == "device: engine stopped"


def test_a_failed_job_is_named_in_the_message_bar_and_on_its_card(qtbot, window):
    from memstudio.core.jobs import Progress

    def broken(pipeline):
        yield Progress(0.0, "starting")
        raise ValueError("the settings make no sense")

    qtbot.waitUntil(lambda: window.engine.pipeline is not None, timeout=20_000)
    broadcast = []
    window.engine.failed.connect(broadcast.append)
    with qtbot.waitSignal(window.jobs.card_finished, timeout=10_000):
        window.engine.submit(StepsOf("Broken job", broken), "broken")  # the card comes with the job
    assert window.messages.text() == "Broken job failed: ValueError: the settings make no sense"
    assert broadcast == []  # one report, through the job's handle: the message bar is not written twice
    row = window.jobs.rows["broken"]
    assert "failed" in row.title.text() and row.message.text() == "ValueError: the settings make no sense"
    assert row.bar.text() == "failed"
    assert not window.jobs_dock.visibleRegion().isEmpty()


def test_uncaught_exceptions_show_a_dialog_with_copyable_details(qtbot, log_file):
    import logging
    import sys

    from PySide6.QtWidgets import QApplication

    from memstudio.ui import crash_dialog

    before = sys.excepthook
    crash_dialog.install_excepthook()
    try:
        assert sys.excepthook is not before
        for message in ("first slot broke", "second slot broke"):
            try:
                raise KeyError(message)
            except KeyError:
                sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = before
    dialog = crash_dialog._open[0]
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and dialog.count == 2  # one dialog, not a pile
    assert "second slot broke" in dialog.summary.text() and "2 problems" in dialog.summary.text()
    assert "first slot broke" in dialog.details.toPlainText() and "Traceback" in dialog.details.toPlainText()
    dialog.copy.click()
    assert "second slot broke" in QApplication.clipboard().text()
    for handler in logging.getLogger("memstudio").handlers:
        handler.flush()
    assert "first slot broke" in log_file.read_text()
    dialog.close()
