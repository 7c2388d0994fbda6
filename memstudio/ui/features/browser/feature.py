"""The seed browser room: the photos (and a generator's seeds and inverted faces) that go on the canvas, and
everything that opens things — File ▸ Add photos / Open folder, paths given on the command line, and files
dropped on the window.

Other rooms claim the paths they can open (checkpoints, directions, latents) through ``path_handlers``; what
is left that is an image or a folder becomes photos of the browser, and the first of them the subject.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from memstudio.core.imaging import IMAGE_SUFFIXES
from memstudio.core.requests import LatentSubject, PhotoSubject
from memstudio.ui.features.browser.panel import SeedBrowser
from memstudio.ui.studio_context import StudioContext

#: Takes dropped or command-line paths; returns those it left, plus sentences saying what it did with the others.
PathHandler = Callable[[list[Path]], tuple[list[Path], list[str]]]


class BrowserFeature(QObject):
    """Owns the seed browser, its dock (heading the left column) and the window's drops."""

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.browser = browser = SeedBrowser()
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        self.dock = studio.add_feature_dock(browser, "Seed browser", "seedBrowserDock", left)
        self.path_handlers: list[PathHandler] = []
        first = studio.file_menu.actions()[0] if studio.file_menu.actions() else None
        for text, slot, shortcut in (
            ("Add &photos…", browser.choose_files, QKeySequence.StandardKey.Open),
            ("Open &folder…", browser.choose_folder, None),
        ):
            action = QAction(text, studio)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            studio.file_menu.insertAction(first, action)
        studio.file_menu.insertSeparator(first)
        browser.photo_chosen.connect(self.open_photo)
        browser.problem.connect(lambda message: studio.statusBar().showMessage(message, 8000))
        studio.state.subject_changed.connect(self._follow_subject)
        studio.closing.connect(browser.shutdown)
        studio.setAcceptDrops(True)
        studio.installEventFilter(self)

    def open_paths(self, paths: list[Path]) -> str:
        """Open dropped or command-line paths; returns a sentence saying what was done with them."""
        said: list[str] = []
        for handler in self.path_handlers:
            paths, messages = handler(paths)
            said += messages
        images = [p for p in paths if p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES]
        unknown = [p for p in paths if p not in images]
        added = self.browser.add_paths(images)
        if added:
            self.open_photo(added[0])
            said.append(f"added {len(added)} photo(s) to the seed browser and opened {Path(added[0]).name}")
        elif any(p.is_file() for p in images):  # photos the browser already lists
            first = next(p for p in images if p.is_file())
            self.open_photo(str(first))
            said.append(f"opened {first.name}")
        elif images:  # folders with nothing new in them: the canvas keeps what it shows
            said.append(f"no new photos in {', '.join(p.name for p in images)}")
        if unknown:
            said.append(f"ignored {', '.join(p.name for p in unknown)} (not an image, folder or checkpoint)")
        message = "; ".join(said) or "nothing to open"
        self.studio.statusBar().showMessage(message, 10_000)
        return message

    def open_photo(self, path: str) -> None:
        """Make the photo at ``path`` the subject (its edits stay: comparing photos under one edit)."""
        self.browser.select(str(path))
        self.studio.state.set_subject(PhotoSubject(str(path)), keep_edits=True)

    def _follow_subject(self) -> None:
        """The title names the subject, and the browser selects it (after undo too), and nothing else."""
        state = self.studio.state
        subject = state.subject
        self.studio.setWindowTitle(f"memstudio — {state.subject_label()}" if subject else "memstudio")
        if isinstance(subject, LatentSubject):
            self.browser.select_latent(subject.key)
        else:
            self.browser.select(subject.path if isinstance(subject, PhotoSubject) else None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Files dropped anywhere on the window open as :meth:`open_paths` says."""
        # By type, not class: Qt's drag-enter event is a subclass of its drop event.
        kind = event.type()
        if watched is self.studio and kind == QEvent.Type.DragEnter and event.mimeData().hasUrls():
            event.acceptProposedAction()
            return True
        if watched is self.studio and kind == QEvent.Type.Drop:
            paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
            if paths:
                self.open_paths(paths)
                event.acceptProposedAction()
                return True
        return super().eventFilter(watched, event)


def install(studio: StudioContext) -> BrowserFeature:
    return BrowserFeature(studio)
