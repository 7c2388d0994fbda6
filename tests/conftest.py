"""Suite-wide fixtures: headless Qt, a private cache and settings folder, and leak checks for Qt objects.

Every test runs with ``QT_QPA_PLATFORM=offscreen`` and with memstudio's cache (converted weights, imported
models) and QSettings redirected to a temporary folder, so the suite never reads or writes the user's files.
The ResMem safetensors conversion is shared by the whole session to avoid re-converting 500 MB per test.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One torch thread per worker: the workers already use every core, and oversubscribed intra-op
    # threads slow small networks down several-fold.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
os.environ.setdefault("MEMSTUDIO_DEVICE", "cpu")
# Windows start without the shipped directions, so each test's sliders are its own; the first-start test
# (tests/test_shipped_directions.py) turns them on.
os.environ.setdefault("MEMSTUDIO_SHIPPED_DIRECTIONS", "0")
_SESSION_CACHE = Path(tempfile.mkdtemp(prefix="memstudio-test-cache-"))
# Each pytest process (the controller and every xdist worker) converts ResMem into its own folder: 500 MB that
# would otherwise stay in /tmp after every run and fill the disk within weeks.
atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)
os.environ["MEMSTUDIO_CACHE_DIR"] = str(_SESSION_CACHE)
# The log goes beside the cache, never into the user's log folder.
os.environ["MEMSTUDIO_LOG_DIR"] = str(_SESSION_CACHE / "logs")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """QSettings of each test go to a fresh folder (INI format), never to the user's."""
    settings_dir = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("MEMSTUDIO_SETTINGS_DIR", str(settings_dir))


@pytest.fixture(scope="module")
def single_thread():
    """One intra-op thread for a module of tiny networks: they run fastest so, and two xdist workers share the
    machine's cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip with a reason where it is missing."""
    if not SHARED.is_dir():
        pytest.skip("../shared (reference data from the official code) is not beside this checkout")
    return SHARED


@pytest.fixture
def photos_dir() -> Path:
    return REPO / "assets" / "photos"


@pytest.fixture(autouse=True)
def _no_leaked_qt_objects(request: pytest.FixtureRequest):
    """Fail a test that leaves a QThread running, a QTimer active or a top-level window open."""
    if "qtbot" in request.fixturenames or "qapp" in request.fixturenames:
        import qt_leaks

        qt_leaks.track()
    yield
    if "qtbot" not in request.fixturenames and "qapp" not in request.fixturenames:
        return
    from memstudio.engine.engine import live_engines

    leaked = live_engines()
    for engine in leaked:
        engine.stop()
    assert not leaked, "test left an inference engine thread running"
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    app.processEvents()
    visible = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    for w in visible:
        w.close()
    assert not visible, f"test left top-level widgets open: {[type(w).__name__ for w in visible]}"
    check_no_live_qt_objects()


def check_no_live_qt_objects() -> None:
    """Raise AssertionError naming every tracked QThread still running and QTimer still active (then stop
    them, so one leak fails one test, not every test after it)."""
    import qt_leaks

    threads, timers = qt_leaks.running()
    for timer in timers:
        timer.stop()
    for thread in threads:
        thread.quit()
        thread.wait(5_000)
    assert not threads, f"test left QThreads running: {qt_leaks.describe(threads)}"
    assert not timers, f"test left QTimers active: {qt_leaks.describe(timers)}"


@pytest.fixture
def window(qtbot):
    """The studio window scoring brightness only (fast), with its engine ready; closed and joined after."""
    from memstudio.ui.main_window import MainWindow

    win = MainWindow(assessors=("brightness",))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.engine.pipeline is not None, timeout=20_000)
    qtbot.waitUntil(lambda: win.live_assessors is not None, timeout=20_000)  # listed by the engine
    yield win
    win.close()
    assert not win.engine.is_running()


@pytest.fixture
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """memstudio's rotating log in a temporary folder, detached again after the test."""
    import logging

    from memstudio.core.logs import setup_logging

    monkeypatch.setenv("MEMSTUDIO_LOG_DIR", str(tmp_path / "logs"))
    logger = logging.getLogger("memstudio")
    before = list(logger.handlers)
    path = setup_logging()
    yield path
    for handler in [h for h in logger.handlers if h not in before]:
        logger.removeHandler(handler)
        handler.close()
