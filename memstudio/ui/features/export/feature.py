"""File ▸ Export figure…: strips, grids and plots of the current image with a live preview (issue 7, item 5).

The dialog's choices become a :class:`~memstudio.core.figures.request.FigureRequest`; everything that touches
a model runs on the engine thread as a command of :mod:`memstudio.core.session.figures`: the preview as a
request (debounced by 300 ms; each supersedes the one before, so only the newest choice is ever shown), the
export and batch export as jobs with progress and cancel in the jobs dock. The engine runs the same core jobs
as ``memstudio strip | grid | plot``, so the files are the CLI's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from memstudio.core.errors import MemstudioError
from memstudio.core.figures.request import FigureRequest
from memstudio.core.figures.spec import parse_seeds
from memstudio.core.requests import PhotoSubject, SeedSubject
from memstudio.core.session.figures import (
    BatchExport,
    DirectionChoice,
    ExportFigure,
    Inventory,
    Preview,
    ReadDirectionFile,
    RenderPreview,
    TakeInventory,
)
from memstudio.engine import Failure, JobCommand, JobDone
from memstudio.ui.debounce import Debouncer
from memstudio.ui.features.export.dialog import ExportDialog, edit_parameter_items
from memstudio.ui.studio_context import StudioContext

JOB_PREFIX = "export-job-"
#: Quiet time after the last change before the preview re-renders: typing "0.25" is one render, not four.
DEBOUNCE_MS = 300


def install(studio: StudioContext) -> ExportFeature:
    return ExportFeature(studio)


class ExportFeature(QObject):
    """Owns the dialog and its traffic with the engine; one per window."""

    #: A preview was put on screen (its serial number).
    preview_shown = Signal(int)
    #: An export or batch job of this feature ended (``engine.JobDone``).
    export_finished = Signal(object)

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.engine = studio.engine
        self.dialog: ExportDialog | None = None
        self.action = QAction("Export &figure…", studio)
        self.action.setObjectName("exportFigureAction")
        self.action.setShortcut(QKeySequence("Ctrl+E"))
        self.action.triggered.connect(self.open_dialog)
        actions = studio.file_menu.actions()
        # Before the separator that precedes Quit, beside the other "do something with images" entries.
        anchor = actions[-2] if len(actions) >= 2 and actions[-2].isSeparator() else None
        if anchor is not None:
            studio.file_menu.insertAction(anchor, self.action)
        else:
            studio.file_menu.addAction(self.action)

        self._debounce = Debouncer(DEBOUNCE_MS, self._send_preview, self)
        self._serial = 0  # of the newest preview sent
        self.previews_sent = 0
        self._inventory = Inventory(None, 0, ())
        self._file_directions: dict[str, tuple[str, str]] = {}  # key → (label, space)
        self._job_serial = 0
        self.last_result: Any = None

        studio.state.subject_changed.connect(self._subject_changed)
        studio.closing.connect(self._close_dialog)
        studio.assessors_changed.connect(self._assessors_changed)
        studio.closing.connect(self._debounce.stop)  # a pending preview must not outlive the window

    # ----- opening --------------------------------------------------------------------------------------
    def _choices(self) -> tuple[list[str], list[str]]:
        """Every available assessor, and those ticked by default: the live ones but valence (a figure needs
        a number for every frame, and photos without a face have none; the user ticks it for faces)."""
        names = [a.name for a in self.studio.available_assessors]
        return names, [a.name for a in self.studio.live_assessors or [] if a.name != "valence"] or ["brightness"]

    def _assessors_changed(self, _available: object) -> None:
        if self.dialog is not None:
            self.dialog.set_assessors(*self._choices())

    def open_dialog(self) -> ExportDialog:
        """Show the dialog (non-modal) for the current image and start its preview."""
        if self.dialog is None:
            names, checked = self._choices()
            self.dialog = ExportDialog(names, checked, self.studio)
            self.dialog.options_changed.connect(self.schedule_preview)
            self.dialog.export_requested.connect(self.choose_export_path)
            self.dialog.batch_requested.connect(self.choose_batch_folder)
            self.dialog.load_direction_requested.connect(self.choose_direction_file)
        self._refresh_subject()
        self.dialog.show()
        self.dialog.raise_()
        self._ask_inventory()
        self.schedule_preview()
        return self.dialog

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.close()  # a child window would otherwise outlive the studio on screen

    # ----- what the dialog asks for ---------------------------------------------------------------------
    def request(self, batch: bool = False) -> FigureRequest:
        """The dialog's choices for the current image; bad input raises with a sentence for the user."""
        if self.dialog is None:
            raise MemstudioError("the Export dialog is not open")
        subject = self.studio.state.subject
        if not isinstance(subject, PhotoSubject | SeedSubject):
            raise MemstudioError("open a photo (or a seed of a loaded generator) to export a figure of it")
        try:
            choices = self.dialog.choices()
        except ValueError as exc:
            raise MemstudioError(str(exc)) from exc
        if not choices["direction"]:
            raise MemstudioError("no direction to show: load one, or pick an edit parameter for photos")
        kind = "strip" if batch else choices["kind"]
        seeds: tuple[int | str, ...] = ()
        if kind in ("grid", "plot") or batch:
            if isinstance(subject, PhotoSubject):
                selected = self.studio.browser.selected_paths()
                seeds = tuple(selected) if (batch or len(selected) > 1) else ()
            elif choices["seeds_text"]:
                seeds = tuple(parse_seeds([choices["seeds_text"]]))
        if batch and not seeds:
            raise MemstudioError(
                "a batch export needs several photos selected in the seed browser (or seeds typed above)"
            )
        return FigureRequest(
            kind=kind,
            subject=subject,
            direction=choices["direction"],
            alphas=tuple(choices["alphas"]) or (0.0,),
            assessors=choices["assessors"],
            seeds=seeds,
            layers=choices["layers"],
            label=choices["label"],
            output=choices["output"],
            heatmap=choices["heatmap"],
        )

    # ----- live preview ---------------------------------------------------------------------------------
    def schedule_preview(self) -> None:
        """(Re)start the debounce timer: only the last of a burst of changes is rendered."""
        if self.dialog is not None and self.dialog.isVisible():
            self._debounce.throttle()

    def _send_preview(self) -> None:
        try:
            request = self.request()
        except MemstudioError as exc:
            self.dialog.show_preview_message(str(exc))
            return
        self._serial += 1
        self.previews_sent += 1
        self.dialog.show_preview_message("rendering preview…")
        # Supersedes the preview sent before: never a queue of stale renders, and no stale one shown.
        handle = self.engine.request(RenderPreview(request), key=(id(self), "preview"))
        serial = self._serial
        handle.done.connect(lambda preview: self._preview_done(serial, preview))
        handle.failed.connect(lambda failure: self._preview_done(serial, Preview(None, failure.message)))

    def _preview_done(self, serial: int, preview: Preview) -> None:
        if self.dialog is None:
            return
        if preview.pixels is not None:
            self.dialog.show_preview(preview.pixels)
            self.preview_shown.emit(serial)
        else:
            self.dialog.show_preview_message(preview.message)

    # ----- export ---------------------------------------------------------------------------------------
    def choose_export_path(self) -> None:
        try:
            request = self.request()
        except MemstudioError as exc:
            self.studio.messages.show_problem(str(exc), "")
            return
        fmt = self.dialog.choices()["format"]
        default = f"{self._subject_stem()}_{request.kind}.{fmt}"
        path, _ = QFileDialog.getSaveFileName(
            self.dialog,
            "Export figure",
            default,
            f"{fmt.upper()} (*.{fmt});;PNG / PDF / SVG (*.png *.pdf *.svg)",
        )
        if path:
            target = Path(path)
            if not target.suffix:
                target = target.with_suffix(f".{fmt}")
            panels = target.with_name(f"{target.stem}_panels") if self.dialog.choices()["panels"] else None
            self.export_to(target, panels)

    def export_to(self, path: str | Path, panels_dir: str | Path | None = None) -> str:
        """Start the export job for the dialog's current choices; returns its job id."""
        panels = Path(panels_dir) if panels_dir is not None else None
        return self._submit(ExportFigure(self.request(), Path(path), panels))

    def choose_batch_folder(self) -> None:
        try:
            self.request(batch=True)
        except MemstudioError as exc:
            self.studio.messages.show_problem(str(exc), "")
            return
        folder = QFileDialog.getExistingDirectory(self.dialog, "Export one strip per selected image into")
        if folder:
            panels = Path(folder) / "panels" if self.dialog.choices()["panels"] else None
            self.batch_export(Path(folder), panels)

    def batch_export(self, out_dir: str | Path, panels_dir: str | Path | None = None) -> str:
        """One strip per selected photo (or typed seed) into ``out_dir``, as a job; returns its id."""
        request = self.request(batch=True)
        panels = Path(panels_dir) if panels_dir is not None else None
        return self._submit(BatchExport(request, Path(out_dir), self.dialog.choices()["format"], panels))

    def _submit(self, command: JobCommand) -> str:
        self._job_serial += 1
        job_id = f"{JOB_PREFIX}{self._job_serial}"
        handle = self.engine.submit(command, job_id)
        handle.ended.connect(self._job_finished)
        if self.dialog is not None:
            self.dialog.show_preview_message(f"{command.title}: running (see Jobs)")
        return job_id

    def _job_finished(self, done: JobDone) -> None:
        self.last_result = done.result
        if done.cancelled:
            text = f"{done.title}: cancelled"
        elif done.error:
            text = f"{done.title}: failed ({done.error})"
        else:
            written = done.result if isinstance(done.result, list) else [done.result]
            text = f"{done.title}: wrote {len(written)} file(s), e.g. {written[0]}" if written else done.title
        self.studio.statusBar().showMessage(text, 10_000)
        if self.dialog is not None:
            self.dialog.show_preview_message(text)
        self.export_finished.emit(done)

    # ----- directions and subject -----------------------------------------------------------------------
    def choose_direction_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.dialog, "Load a direction", "", "Direction (*.json)")
        if path:
            self.load_direction_file(Path(path))

    def load_direction_file(self, path: Path) -> None:
        """Read a direction file on the engine thread and offer it in the combo (selected when it arrives)."""
        handle = self.engine.request(ReadDirectionFile(str(path)))
        handle.done.connect(self._direction_read)
        handle.failed.connect(self._show_failure)

    def _direction_read(self, choice: DirectionChoice) -> None:
        self._file_directions[choice.key] = (choice.label, choice.space)
        if self.dialog is not None:
            self._refresh_subject()
            if not self.dialog.select_direction(choice.key):
                self.dialog.show_preview_message(f"{choice.label} does not fit the current image")

    def _show_failure(self, failure: Failure) -> None:
        if self.dialog is not None:
            self.dialog.show_preview_message(failure.message)

    def _ask_inventory(self) -> None:
        handle = self.engine.request(TakeInventory(), key=(id(self), "inventory"))
        handle.done.connect(self._inventory_arrived)

    def _inventory_arrived(self, inventory: Inventory) -> None:
        self._inventory = inventory
        if self.dialog is not None:
            self._refresh_subject()

    def _subject_changed(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self._refresh_subject()
            self._ask_inventory()
            self.schedule_preview()

    def _refresh_subject(self) -> None:
        subject = self.studio.state.subject
        inv = self._inventory
        if isinstance(subject, PhotoSubject):
            text = f"Photo: {Path(subject.path).name}"
        elif isinstance(subject, SeedSubject):
            gen = inv.generator or "no generator loaded"
            text = f"Seed {subject.seed} of {gen} (ψ = {subject.truncation:g})"
        else:
            text = "No photo or seed is open: figures are drawn from one"
        self.dialog.set_subject(text, not isinstance(subject, SeedSubject), inv.num_ws > 0)
        self.dialog.set_directions(self._direction_items(subject))

    def _direction_items(self, subject: Any) -> list[tuple[str, str]]:
        photo = not isinstance(subject, SeedSubject)
        items = edit_parameter_items() if photo else []
        loaded = [
            (f"pipeline:{ident}", f"{name} ({space})", space)
            for ident, name, space in self._inventory.directions
        ]
        files = [(key, label, space) for key, (label, space) in self._file_directions.items()]
        for key, label, space in [*loaded, *files]:
            if (space == "edit") == photo:
                items.insert(0, (key, label))
        return items

    def _subject_stem(self) -> str:
        subject = self.studio.state.subject
        if isinstance(subject, PhotoSubject):
            return Path(subject.path).stem
        if isinstance(subject, SeedSubject):
            return f"seed{subject.seed:04d}"
        return "figure"
