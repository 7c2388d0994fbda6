"""Starting the studio: the QApplication, the window on the built-in sample photos, and a clean exit."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from memstudio.core.heap import long_lived
from memstudio.core.samples import assets_dir, sample_photos


def resources_dir() -> Path:
    return assets_dir().parent / "resources"


def run_studio(
    paths: list[str] | None = None, screenshot: str | None = None, report_startup: bool = False
) -> int:
    """Open the studio on ``paths`` (or the sample photos) and run until the window closes."""
    from memstudio.ui.platform_check import problems

    found = problems()
    if found and not QApplication.instance():
        for problem in found:
            print(f"memstudio: {problem}", file=sys.stderr)
        return 1
    from memstudio.core.logs import setup_logging
    from memstudio.ui.crash_dialog import install_excepthook

    setup_logging()
    install_excepthook()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("memstudio")
    app.setOrganizationName("memstudio")
    icon = resources_dir() / "icons" / "memstudio.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    style = resources_dir() / "styles" / "studio.qss"
    if style.is_file():
        app.setStyleSheet(style.read_text())
    with long_lived():  # the window's modules and widgets live as long as the process
        from memstudio.ui.main_window import MainWindow

        window = MainWindow()
    window.show()
    if report_startup:
        # For benchmarks/bench_studio.py: the parent process timestamps these lines as they arrive.
        app.processEvents()
        print("window-shown", flush=True)
        window.scores_shown.connect(lambda _id: (print("first-score", flush=True), window.close()))
    opened = [Path(p) for p in paths or []]
    if opened:
        window.open_paths(opened)
    else:
        samples = sample_photos()
        window.browser.add_paths(samples)
        if samples:
            window.open_photo(str(samples[0]))
    if screenshot:

        def grab(_request_id: int) -> None:
            # Give the thumbnails and the score box a moment to paint, then save and quit.
            QTimer.singleShot(1500, lambda: (window.grab().save(screenshot), window.close()))

        window.scores_shown.connect(grab)
    return app.exec()
