"""GAN generators in the studio: open one (menu, chooser, drag & drop), browse its seeds, keep latents.

Every model operation runs on the engine thread: opening is a job (indeterminate progress, then "loaded"),
seed thumbnails are ``engine.call`` tasks of :attr:`GeneratorsFeature.BATCH` seeds rendered as one batch,
latent files are read and written there too. The GUI thread only keeps track of which page is shown: each
page gets a generation number, batches of an older page are skipped by the engine when it reaches them
and their results are dropped if they arrive anyway (the newest page wins).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from memstudio.core.requests import LatentSubject, RenderRequest, SeedSubject
from memstudio.engine import Failure, JobDone, TaskDone
from memstudio.ui.generator_chooser import GeneratorChooser
from memstudio.ui.generator_panel import GeneratorPanel

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

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.info: dict[str, Any] | None = None
        self.panel = GeneratorPanel(self.PAGE_SIZE)
        self.dock = window.add_feature_dock(
            self.panel, "Generator", "generatorDock", Qt.DockWidgetArea.LeftDockWidgetArea
        )
        window.splitDockWidget(window.browser_dock, self.dock, Qt.Orientation.Vertical)
        self.dock.hide()  # an empty dock takes no room: it shows itself when a generator loads (or from View)
        self.chooser: GeneratorChooser | None = None
        self._ids = itertools.count(1)
        self._open_jobs: set[str] = set()
        self._generation = 0
        # Read by the engine thread to skip batches of a page that is no longer shown.
        self._live = {"generation": 0}
        self._thumb_tasks: dict[str, int] = {}
        self._tasks: dict[str, str] = {}  # task id → what it does ("models", "save", "open")
        self._build_menu()

        self.panel.open_requested.connect(self.choose_generator)
        self.panel.seed_chosen.connect(self.show_seed)
        self.panel.page_requested.connect(self.show_page)
        self.panel.truncation_changed.connect(self._truncation_changed)
        self.panel.class_changed.connect(self._class_changed)
        self.panel.save_latent_requested.connect(self.choose_latent_to_save)
        self.panel.open_latent_requested.connect(self.choose_latent_to_open)
        window.engine.task_done.connect(self._task_done)
        window.engine.failed.connect(self._failed)
        window.engine.job_finished.connect(self._job_finished)
        window.state.subject_changed.connect(self._subject_changed)
        window.closing.connect(self._close_chooser)
        window.path_handlers.append(self.claim_paths)

    def _build_menu(self) -> None:
        menu = self.window.file_menu
        first_separator = next((a for a in menu.actions() if a.isSeparator()), None)
        entries = [
            ("Open &generator…", self.choose_generator, QKeySequence("Ctrl+Shift+O")),
            ("Save &latent…", self.choose_latent_to_save, None),
            ("Open la&tent…", self.choose_latent_to_open, None),
        ]
        separator = QAction(self.window)
        separator.setSeparator(True)
        menu.insertAction(first_separator, separator)
        for text, slot, shortcut in entries:
            action = QAction(text, self.window)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            menu.insertAction(first_separator, action)

    # ----- opening --------------------------------------------------------------------------------------
    def choose_generator(self) -> GeneratorChooser:
        """Show the chooser (stored models, checkpoint file, model folder); the list comes from the engine."""
        if self.chooser is None:
            self.chooser = GeneratorChooser(self.window)
            self.chooser.chosen.connect(self.open_generator)
        self.chooser.set_models([])
        self.chooser.set_problem("Reading the imported models…")
        task_id = f"{PREFIX}models-{next(self._ids)}"
        self._tasks[task_id] = "models"
        self.window.engine.call(task_id, _list_stored_models)
        self.chooser.open()
        return self.chooser

    def open_generator(self, source: str | Path) -> str:
        """Open ``source`` (checkpoint file, model folder or stored-model name) in the engine; the job id."""
        text = str(source)
        name = Path(text).name or text
        job_id = f"{PREFIX}open-{next(self._ids)}"
        title = f"Opening generator {name}"
        row = self.window.jobs.add_job(job_id, title)
        row.bar.setRange(0, 0)  # one long call: a busy bar until it returns
        self._open_jobs.add(job_id)
        # Thumbnails of the old generator would only delay the load; the page is redrawn afterwards.
        self._bump_generation()

        def factory(pipeline: Any) -> Any:
            from memstudio.ui.generator_tasks import open_generator_job

            return open_generator_job(text)(pipeline)

        self.window.engine.submit_job(job_id, title, factory)
        self.window.statusBar().showMessage(f"opening generator {name}…", 10_000)
        return job_id

    def _job_finished(self, done: JobDone) -> None:
        if done.job_id not in self._open_jobs:
            return
        self._open_jobs.discard(done.job_id)
        row = self.window.jobs.rows.get(done.job_id)
        if row is not None:
            row.bar.setRange(0, 1000)
            row.bar.setValue(1000 if done.result is not None else 0)
        if done.error or done.cancelled or done.result is None:
            if self.info is not None:
                self._render_page()  # the old generator is still current: finish its grid
            return
        self._generator_loaded(done.result)

    def _generator_loaded(self, info: dict[str, Any]) -> None:
        self.info = info
        self.panel.show_generator(info)
        self.dock.show()
        self.dock.raise_()
        self._make_room_for_the_grid()
        self._render_page()
        self._show(SeedSubject(0, self.panel.truncation_value(), self.panel.class_index()))
        self.window.statusBar().showMessage(
            f"loaded {info['name']} ({info['family']}, {info['resolution']} px)", 10_000
        )
        self.generator_loaded.emit(info)

    def _make_room_for_the_grid(self) -> None:
        """Give the seed grid most of the column it shares with the photo list, unless the user moved it."""
        window, browser = self.window, self.window.browser_dock
        if self.dock.isFloating() or browser.isFloating() or browser.isHidden():
            return
        if window.dockWidgetArea(browser) != window.dockWidgetArea(self.dock):
            return
        column = browser.height() + self.dock.height()
        if self.dock.height() < 0.6 * column:
            sizes = [column // 4, column - column // 4]
            window.resizeDocks([browser, self.dock], sizes, Qt.Orientation.Vertical)

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
        self.panel.select_seed(getattr(self.window.state.subject, "seed", None))
        self._render_page()

    def _bump_generation(self) -> int:
        self._generation += 1
        self._live["generation"] = self._generation
        return self._generation

    def _render_page(self) -> None:
        generation = self._bump_generation()
        seeds = self.panel.page_seeds()
        truncation, class_index = self.panel.truncation_value(), self.panel.class_index()
        for offset in range(0, len(seeds), self.BATCH):
            batch = seeds[offset : offset + self.BATCH]
            task_id = f"{PREFIX}thumbs-{generation}-{batch[0]}"
            self._thumb_tasks[task_id] = generation
            self.window.engine.call(
                task_id,
                _thumbnail_task(self._live, generation, batch, truncation, class_index, self.THUMB_SIZE),
            )
        self.panel.status.setText(f"rendering {len(seeds)} seeds…")

    def _truncation_changed(self, truncation: float) -> None:
        if self.info is None:
            return
        self._render_page()
        subject = self.window.state.subject
        if isinstance(subject, SeedSubject) and subject.truncation != truncation:
            self._show(SeedSubject(subject.seed, truncation, subject.class_index))

    def _class_changed(self, class_index: int | None) -> None:
        if self.info is None:
            return
        self._render_page()
        subject = self.window.state.subject
        if isinstance(subject, SeedSubject) and subject.class_index != class_index:
            self._show(SeedSubject(subject.seed, subject.truncation, class_index))

    def _subject_changed(self) -> None:
        subject = self.window.state.subject
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
        if self.window.state.subject == subject:
            self.window.request_frame()  # same subject, new generator or latent: render it again
        else:
            self.window.state.set_subject(subject)

    # ----- latents --------------------------------------------------------------------------------------
    def choose_latent_to_save(self) -> None:
        if self.info is None:
            self.window.messages.show_problem("Open a generator first: a latent belongs to a generator.")
            return
        subject = self.window.state.subject
        stem = (
            f"{self.info['name']}-seed{subject.seed}"
            if isinstance(subject, SeedSubject)
            else self.info["name"]
        )
        path, _ = QFileDialog.getSaveFileName(self.window, "Save latent", f"{stem}.npz", "Latents (*.npz)")
        if path:
            self.save_latent(path)

    def choose_latent_to_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open latent", "", "Latents (*.npz);;All files (*)"
        )
        if path:
            self.open_latent(path)

    def save_latent(self, path: str | Path) -> str:
        """Write the latent on the canvas (directions applied) to ``path`` in the engine; the task id."""
        values = self.window.state.values
        if values.subject is None:
            self.window.messages.show_problem("Nothing on the canvas to save.")
            return ""
        request = RenderRequest(
            request_id=0,
            subject=values.subject,
            photo_edits=tuple(sorted(values.edits.items())),
            directions=tuple(sorted(values.alphas.items())),
            layer_weights=values.layer_weights,
        )
        text = str(path)
        task_id = f"{PREFIX}save-{next(self._ids)}"
        self._tasks[task_id] = "save"

        def task(pipeline: Any) -> str:
            from memstudio.ui.generator_tasks import save_latent_file

            return str(save_latent_file(pipeline, request, text))

        self.window.engine.call(task_id, task)
        return task_id

    def open_latent(self, path: str | Path) -> str:
        """Read a latent file in the engine and show it (a LatentSubject); the task id."""
        text = str(path)
        key = f"latent-{next(self._ids)}:{Path(text).stem}"
        task_id = f"{PREFIX}open-latent-{key}"
        self._tasks[task_id] = "open"

        def task(pipeline: Any) -> str:
            from memstudio.ui.generator_tasks import open_latent_file

            return open_latent_file(pipeline, text, key)

        self.window.engine.call(task_id, task)
        return task_id

    # ----- engine results -------------------------------------------------------------------------------
    def _task_done(self, done: TaskDone) -> None:
        if not done.task_id.startswith(PREFIX):
            return
        if done.task_id in self._thumb_tasks:
            generation = self._thumb_tasks.pop(done.task_id)
            if generation != self._generation or done.result is None:
                return  # a page no longer shown
            for seed, pixels in done.result:
                self.panel.set_thumbnail(seed, pixels)
            self._quiet_status(f"{done.task_id}: done")
            rendered, total = len(self.panel.rendered_seeds()), len(self.panel.page_seeds())
            self.panel.status.setText("" if rendered == total else f"rendered {rendered} of {total} seeds…")
            return
        kind = self._tasks.pop(done.task_id, None)
        if kind == "models" and self.chooser is not None:
            self.chooser.set_models(done.result)
        elif kind == "save":
            self.window.statusBar().showMessage(f"saved latent → {done.result}", 10_000)
            self.latent_saved.emit(done.result)
        elif kind == "open":
            self._show(LatentSubject(done.result))
            self.panel.select_seed(None)
            self.latent_opened.emit(done.result)

    def _quiet_status(self, text: str) -> None:
        """Clear the window's generic "<task id>: done" note: thumbnail batches are not news to the user."""
        bar = self.window.statusBar()
        QTimer.singleShot(0, lambda: bar.clearMessage() if bar.currentMessage() == text else None)

    def _failed(self, failure: Failure) -> None:
        ident = str(failure.ident)
        if failure.origin != "task" or not ident.startswith(PREFIX):
            return
        if self._thumb_tasks.pop(ident, None) == self._generation:
            self.panel.status.setText(f"thumbnails failed: {failure.message}")
        elif self._tasks.pop(ident, None) == "models" and self.chooser is not None:
            self.chooser.set_problem(f"could not list the imported models: {failure.message}")


def _list_stored_models(_pipeline: Any) -> list[dict[str, Any]]:
    from memstudio.core.generators.store import list_models

    return [
        {"name": m.name, "family": m.family, "resolution": m.resolution, "source_file": m.source_file}
        for m in list_models()
    ]


def _thumbnail_task(
    live: dict[str, int],
    generation: int,
    seeds: list[int],
    truncation: float,
    class_index: int | None,
    size: int,
) -> Any:
    def task(pipeline: Any) -> list[tuple[int, Any]] | None:
        if live["generation"] != generation or pipeline.generator is None:
            return None  # the page moved on (or the generator is being replaced): nothing to draw
        from memstudio.ui.generator_tasks import render_seed_thumbnails

        pixels = render_seed_thumbnails(pipeline.generator, seeds, truncation, class_index, size)
        return list(zip(seeds, pixels, strict=True))

    return task


def install(window: Any) -> GeneratorsFeature:
    return GeneratorsFeature(window)
