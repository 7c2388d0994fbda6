"""GAN generators in the studio: open one (menu, chooser, drag & drop), browse its seeds, keep latents.

Every model operation is a command of :mod:`memstudio.core.session.generators` run on the engine thread and
handled on its own handle: opening is a job (``engine.submit``: indeterminate progress, then "loaded"), seed
thumbnails are one-shot requests (``engine.request``) of :attr:`GeneratorsFeature.BATCH` seeds rendered as one
batch, latent files are read and written there too. The GUI thread only keeps track of which page is shown: each
page gets a generation number, batches of an older page are cancelled when a newer page is asked for and their
results are dropped if they arrive anyway (the newest page wins). A loaded generator becomes the session's current
one by content hash: the seed browser lists the latents made with it, and those of other generators come back when
theirs is opened again.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from memstudio.core.requests import LatentSubject, SeedSubject
from memstudio.core.session.generators import (
    ListStoredModels,
    OpenGenerator,
    OpenLatent,
    RenderThumbnails,
    SaveLatent,
)
from memstudio.core.session.studio import GeneratorRef
from memstudio.engine import Failure
from memstudio.engine.commands import RequestHandle
from memstudio.ui.features.generators.chooser import GeneratorChooser
from memstudio.ui.features.generators.panel import GeneratorPanel
from memstudio.ui.studio_context import StudioContext

PREFIX = "generators:"
_CHECKPOINT_SUFFIXES = (".pkl", ".pt", ".pth")


def is_generator_path(path: Path) -> bool:
    """Whether a dropped path is a generator to open (decided from names only: this runs on a drop).

    Files: NVIDIA pickles and PyTorch checkpoints, BigGAN's ``pytorch_model.bin``, a stored model's weights.
    Folders: a BigGAN folder or an imported model (``config.json`` beside the weights); other folders are
    photo folders and stay with the seed browser.
    """
    if path.is_dir():
        return (path / "config.json").is_file() and (
            (path / "pytorch_model.bin").is_file() or (path / "weights.safetensors").is_file()
        )
    if path.name in ("pytorch_model.bin", "weights.safetensors"):
        return (path.parent / "config.json").is_file()
    return path.suffix.lower() in _CHECKPOINT_SUFFIXES


class GeneratorsFeature(QObject):
    """The Generator dock and its menu entries. ``generator_loaded(info)``, ``latent_saved(path)`` and
    ``latent_opened(key)`` say when engine work the user asked for has landed."""

    generator_loaded = Signal(object)
    latent_saved = Signal(str)
    latent_opened = Signal(str)

    #: Seeds per page of the grid, and per engine task (one batched render each).
    PAGE_SIZE = 32
    BATCH = 16
    THUMB_SIZE = 96

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.info: dict[str, Any] | None = None
        self.panel = GeneratorPanel(self.PAGE_SIZE)
        self.dock = studio.add_feature_dock(
            self.panel, "Generator", "generatorDock", Qt.DockWidgetArea.LeftDockWidgetArea
        )
        studio.splitDockWidget(studio.browser_dock, self.dock, Qt.Orientation.Vertical)
        self.dock.hide()  # an empty dock takes no room: it shows itself when a generator loads (or from View)
        self.chooser: GeneratorChooser | None = None
        self._ids = itertools.count(1)
        self._generation = 0
        self._thumb_handles: dict[str, RequestHandle] = {}  # job id → thumbnails of the page shown
        self._build_menu()

        self.panel.open_requested.connect(self.choose_generator)
        self.panel.seed_chosen.connect(self.show_seed)
        self.panel.page_requested.connect(self.show_page)
        self.panel.truncation_changed.connect(self._truncation_changed)
        self.panel.class_changed.connect(self._class_changed)
        self.panel.save_latent_requested.connect(self.choose_latent_to_save)
        self.panel.open_latent_requested.connect(self.choose_latent_to_open)
        studio.state.subject_changed.connect(self._subject_changed)
        studio.state.generator_opened.connect(self._generator_loaded)  # by a session file
        studio.closing.connect(self._close_chooser)
        studio.path_handlers.append(self.claim_paths)

    def _build_menu(self) -> None:
        menu = self.studio.file_menu
        first_separator = next((a for a in menu.actions() if a.isSeparator()), None)
        entries = [
            ("Open &generator…", self.choose_generator, QKeySequence("Ctrl+Shift+O")),
            ("Save &latent…", self.choose_latent_to_save, None),
            ("Open la&tent…", self.choose_latent_to_open, None),
        ]
        separator = QAction(self.studio)
        separator.setSeparator(True)
        menu.insertAction(first_separator, separator)
        for text, slot, shortcut in entries:
            action = QAction(text, self.studio)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            menu.insertAction(first_separator, action)

    # ----- opening --------------------------------------------------------------------------------------
    def choose_generator(self) -> GeneratorChooser:
        """Show the chooser (stored models, checkpoint file, model folder); the list comes from the engine."""
        if self.chooser is None:
            self.chooser = GeneratorChooser(self.studio)
            self.chooser.chosen.connect(self.open_generator)
        self.chooser.set_models([])
        self.chooser.set_problem("Reading the imported models…")
        _, handle = self._submit("models", ListStoredModels())
        handle.done.connect(self._models_listed)
        handle.failed.connect(self._models_failed)
        self.chooser.open()
        return self.chooser

    def _submit(self, kind: str, command: Any) -> tuple[str, RequestHandle]:
        """A one-shot command as an engine request (no job card), and the id it goes by."""
        job_id = f"{PREFIX}{kind}-{next(self._ids)}"
        return job_id, self.studio.engine.request(command)

    def _models_listed(self, models: list[dict[str, Any]]) -> None:
        if self.chooser is not None:
            self.chooser.set_models(models)

    def _models_failed(self, failure: Failure) -> None:
        if self.chooser is not None:
            self.chooser.set_problem(f"could not list the imported models: {failure.message}")

    def open_generator(self, source: str | Path) -> str:
        """Open ``source`` (checkpoint file, model folder or stored-model name) in the engine; the job id."""
        text = str(source)
        command = OpenGenerator(text)
        job_id = f"{PREFIX}open-{next(self._ids)}"
        # Thumbnails of the old generator would only delay the load; the page is redrawn afterwards.
        self._bump_generation()
        handle = self.studio.engine.submit(command, job_id)
        card = self.studio.jobs.card(job_id)
        if card is not None:
            card.set_busy()  # one long call: a busy bar until it returns
        handle.done.connect(lambda info: self._open_ended(job_id, info, text))
        handle.failed.connect(lambda _failure: self._open_ended(job_id, None, text))
        handle.cancelled.connect(lambda: self._open_ended(job_id, None, text))
        self.studio.statusBar().showMessage(f"opening generator {Path(text).name or text}…", 10_000)
        return job_id

    def _open_ended(self, job_id: str, info: dict[str, Any] | None, source: str) -> None:
        if info is None:
            if self.info is not None:
                self._render_page()  # the old generator is still current: finish its grid
            return
        self._generator_loaded(info, source)

    def _generator_loaded(self, info: dict[str, Any], source: str = "") -> None:
        self.info = info
        state = self.studio.state
        state.set_generator(GeneratorRef(info["sha256"], info["name"], source, info["family"]))
        # The latents made with this generator (again, if it was open before); those of others wait for theirs.
        self.studio.browser.show_latents(list(state.session.latents()))
        self.panel.show_generator(info)
        self.dock.show()
        self.dock.raise_()
        self._make_room_for_the_grid()
        self._render_page()
        self._show(SeedSubject(0, self.panel.truncation_value(), self.panel.class_index()))
        self.studio.statusBar().showMessage(
            f"loaded {info['name']} ({info['family']}, {info['resolution']} px)", 10_000
        )
        self.generator_loaded.emit(info)

    def _make_room_for_the_grid(self) -> None:
        """Give the seed grid most of the column it shares with the photo list, unless the user moved it."""
        studio, browser = self.studio, self.studio.browser_dock
        if self.dock.isFloating() or browser.isFloating() or browser.isHidden():
            return
        if studio.dockWidgetArea(browser) != studio.dockWidgetArea(self.dock):
            return
        column = browser.height() + self.dock.height()
        if self.dock.height() < 0.6 * column:
            sizes = [column // 4, column - column // 4]
            studio.resizeDocks([browser, self.dock], sizes, Qt.Orientation.Vertical)

    # ----- drag & drop ----------------------------------------------------------------------------------
    def claim_paths(self, paths: list[Path]) -> tuple[list[Path], list[str]]:
        """The window's path handler: generator checkpoints dropped or given on the command line open here."""
        generators = [p for p in paths if is_generator_path(p)]
        if not generators:
            return paths, []
        self.open_generator(generators[0])
        said = [f"opening generator {generators[0].name}"]
        if len(generators) > 1:
            said.append(f"ignored {', '.join(p.name for p in generators[1:])} (one generator at a time)")
        return [p for p in paths if p not in generators], said

    def _close_chooser(self) -> None:
        if self.chooser is not None:
            self.chooser.close()  # a child window would otherwise outlive the studio on screen

    # ----- seeds ----------------------------------------------------------------------------------------
    def show_seed(self, seed: int) -> None:
        """Put ``seed`` (with the dock's ψ and class) on the canvas."""
        if self.info is not None:
            self._show(SeedSubject(int(seed), self.panel.truncation_value(), self.panel.class_index()))

    def show_page(self, start: int) -> None:
        """Show the page of seeds from ``start`` and render its thumbnails."""
        if self.info is None:
            return
        self.panel.set_page_start(start)
        self.panel.select_seed(getattr(self.studio.state.subject, "seed", None))
        self._render_page()

    def _bump_generation(self) -> int:
        """A new page (or generator): batches of the old page still waiting are cancelled."""
        self._generation += 1
        for handle in self._thumb_handles.values():
            handle.cancel()
        self._thumb_handles.clear()
        return self._generation

    def _render_page(self) -> None:
        generation = self._bump_generation()
        seeds = self.panel.page_seeds()
        truncation, class_index = self.panel.truncation_value(), self.panel.class_index()
        for offset in range(0, len(seeds), self.BATCH):
            batch = tuple(seeds[offset : offset + self.BATCH])
            command = RenderThumbnails(self.info["sha256"], batch, truncation, class_index, self.THUMB_SIZE)
            job_id = f"{PREFIX}thumbs-{generation}-{batch[0]}"
            handle = self.studio.engine.request(command)
            self._thumb_handles[job_id] = handle
            handle.done.connect(lambda result, job_id=job_id: self._thumbnails_ready(job_id, generation, result))
            handle.failed.connect(lambda failure, job_id=job_id: self._thumbnails_failed(job_id, generation, failure))
        self.panel.status.setText(f"rendering {len(seeds)} seeds…")

    def _thumbnails_ready(self, job_id: str, generation: int, result: list[tuple[int, Any]] | None) -> None:
        self._thumb_handles.pop(job_id, None)
        if generation != self._generation or result is None:
            return  # a page no longer shown
        for seed, pixels in result:
            self.panel.set_thumbnail(seed, pixels)
        rendered, total = len(self.panel.rendered_seeds()), len(self.panel.page_seeds())
        self.panel.status.setText("" if rendered == total else f"rendered {rendered} of {total} seeds…")

    def _thumbnails_failed(self, job_id: str, generation: int, failure: Failure) -> None:
        self._thumb_handles.pop(job_id, None)
        if generation == self._generation:
            self.panel.status.setText(f"thumbnails failed: {failure.message}")

    def _truncation_changed(self, truncation: float) -> None:
        if self.info is None:
            return
        self._render_page()
        subject = self.studio.state.subject
        if isinstance(subject, SeedSubject) and subject.truncation != truncation:
            self._show(SeedSubject(subject.seed, truncation, subject.class_index))

    def _class_changed(self, class_index: int | None) -> None:
        if self.info is None:
            return
        self._render_page()
        subject = self.studio.state.subject
        if isinstance(subject, SeedSubject) and subject.class_index != class_index:
            self._show(SeedSubject(subject.seed, subject.truncation, class_index))

    def _subject_changed(self) -> None:
        subject = self.studio.state.subject
        if not isinstance(subject, SeedSubject) or self.info is None:
            self.panel.select_seed(None)
            return
        # Undo can bring back another ψ or class: the controls follow the image, and so does the grid.
        stale = False
        if subject.truncation != self.panel.truncation_value():
            self.panel.truncation.blockSignals(True)
            self.panel.truncation.setValue(subject.truncation)
            self.panel.truncation.blockSignals(False)
            stale = True
        if subject.class_index is not None and subject.class_index != self.panel.class_index():
            self.panel.class_combo.blockSignals(True)
            self.panel.set_class_index(subject.class_index)
            self.panel.class_combo.blockSignals(False)
            stale = True
        if stale:
            self._render_page()
        self.panel.select_seed(subject.seed)

    def _show(self, subject: Any) -> None:
        if self.studio.state.session.shows(subject):
            self.studio.request_frame()  # same subject of the same generator, a new latent: render it again
        else:
            self.studio.state.set_subject(subject)

    # ----- latents --------------------------------------------------------------------------------------
    def choose_latent_to_save(self) -> None:
        if self.info is None:
            self.studio.messages.show_problem("Open a generator first: a latent belongs to a generator.")
            return
        subject = self.studio.state.subject
        stem = (
            f"{self.info['name']}-seed{subject.seed}"
            if isinstance(subject, SeedSubject)
            else self.info["name"]
        )
        path, _ = QFileDialog.getSaveFileName(self.studio, "Save latent", f"{stem}.npz", "Latents (*.npz)")
        if path:
            self.save_latent(path)

    def choose_latent_to_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.studio, "Open latent", "", "Latents (*.npz);;All files (*)"
        )
        if path:
            self.open_latent(path)

    def save_latent(self, path: str | Path) -> str:
        """Write the latent on the canvas (directions applied) to ``path`` in the engine; the task id."""
        state = self.studio.state
        if state.subject is None:
            self.studio.messages.show_problem("Nothing on the canvas to save.")
            return ""
        job_id, handle = self._submit("save", SaveLatent(state.render_request(0), str(path)))
        handle.done.connect(self._latent_saved)
        return job_id

    def _latent_saved(self, path: str) -> None:
        self.studio.statusBar().showMessage(f"saved latent → {path}", 10_000)
        self.latent_saved.emit(path)

    def open_latent(self, path: str | Path) -> str:
        """Read a latent file in the engine and show it (a LatentSubject); the job id."""
        text = str(path)
        key = f"latent-{next(self._ids)}:{Path(text).stem}"
        job_id, handle = self._submit("open-latent", OpenLatent(text, key))
        handle.done.connect(lambda held: self._latent_held(held, Path(text).stem))
        return job_id

    def _latent_held(self, held: dict[str, str], label: str) -> None:
        key = held["key"]
        self.studio.state.session.add_latent(key, label, held["generator_hash"])
        self.studio.browser.add_latent(key, label)  # listed with the latents of its generator
        self._show(LatentSubject(key))
        self.panel.select_seed(None)
        self.latent_opened.emit(key)


def install(studio: StudioContext) -> GeneratorsFeature:
    return GeneratorsFeature(studio)
