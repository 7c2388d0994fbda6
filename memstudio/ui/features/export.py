"""File ▸ Export figure…: strips, grids and plots of the current image with a live preview (issue 7, item 5).

The dialog's choices become a :class:`~memstudio.core.figures.request.FigureRequest`; everything that touches
a model runs on the engine thread: the preview as a task (debounced by 300 ms, one in flight, the newest
choice wins), the export and batch export as jobs with progress and cancel in the jobs dock. The engine runs
the same core jobs as ``memstudio strip | grid | plot``, so the files are the CLI's files.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

from memstudio.core.errors import MemstudioError
from memstudio.core.figures.request import FigureRequest
from memstudio.core.figures.spec import parse_seeds
from memstudio.core.requests import PhotoSubject, SeedSubject
from memstudio.ui.export_dialog import ExportDialog, edit_parameter_items

PREVIEW_TASK = "export-preview:"
INVENTORY_TASK = "export-inventory:"
DIRECTION_TASK = "export-direction:"
JOB_PREFIX = "export-job-"
#: Quiet time after the last change before the preview re-renders: typing "0.25" is one render, not four.
DEBOUNCE_MS = 300


def install(window: Any) -> ExportFeature:
    return ExportFeature(window)


class ExportFeature(QObject):
    """Owns the dialog and its traffic with the engine; one per window."""

    #: A preview was put on screen (its serial number).
    preview_shown = Signal(int)
    #: An export or batch job of this feature ended (``engine.JobDone``).
    export_finished = Signal(object)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.engine = window.engine
        self.dialog: ExportDialog | None = None
        self.action = QAction("Export &figure…", window)
        self.action.setObjectName("exportFigureAction")
        self.action.setShortcut(QKeySequence("Ctrl+E"))
        self.action.triggered.connect(self.open_dialog)
        actions = window.file_menu.actions()
        # Before the separator that precedes Quit, beside the other "do something with images" entries.
        anchor = actions[-2] if len(actions) >= 2 and actions[-2].isSeparator() else None
        if anchor is not None:
            window.file_menu.insertAction(anchor, self.action)
        else:
            window.file_menu.addAction(self.action)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._send_preview)
        self._serial = 0  # of the newest preview sent
        self._in_flight: int | None = None
        self._pending = False
        self.previews_sent = 0
        self._inventory: dict[str, Any] = {"generator": None, "num_ws": 0, "directions": []}
        self._file_directions: dict[str, tuple[str, str]] = {}  # key → (label, space)
        self._jobs: set[str] = set()
        self._job_serial = 0
        self._inventory_serial = 0
        self.last_result: Any = None

        self.engine.task_done.connect(self._task_done)
        self.engine.failed.connect(self._failed)
        self.engine.job_finished.connect(self._job_finished)
        window.state.subject_changed.connect(self._subject_changed)
        window.closing.connect(self._close_dialog)
        window.assessors_changed.connect(self._assessors_changed)
        window.closing.connect(self._timer.stop)  # a pending preview must not outlive the window

    # ----- opening --------------------------------------------------------------------------------------
    def _choices(self) -> tuple[list[str], list[str]]:
        """Every available assessor, and those ticked by default: the live ones but valence (a figure needs
        a number for every frame, and photos without a face have none; the user ticks it for faces)."""
        names = [a.name for a in self.window.available_assessors]
        return names, [n for n in self.window.strip.score_labels if n != "valence"] or ["brightness"]

    def _assessors_changed(self, _available: object) -> None:
        if self.dialog is not None:
            self.dialog.set_assessors(*self._choices())

    def open_dialog(self) -> ExportDialog:
        """Show the dialog (non-modal) for the current image and start its preview."""
        if self.dialog is None:
            names, checked = self._choices()
            self.dialog = ExportDialog(names, checked, self.window)
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
        subject = self.window.state.subject
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
                selected = self.window.browser.selected_paths()
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
            self._timer.start()

    def _send_preview(self) -> None:
        if self._in_flight is not None:
            self._pending = True  # sent when the one in flight comes back: never a queue of stale renders
            return
        try:
            request = self.request()
        except MemstudioError as exc:
            self.dialog.show_preview_message(str(exc))
            return
        from memstudio.core.figures.request import preview_pixels

        self._serial += 1
        self._in_flight = self._serial
        self.previews_sent += 1
        self.dialog.show_preview_message("rendering preview…")
        self.engine.call(f"{PREVIEW_TASK}{self._serial}", partial(_preview_task, preview_pixels, request))

    def _preview_done(self, serial: int, result: tuple[str, Any]) -> None:
        self._in_flight = None
        if self._pending:
            self._pending = False
            self._send_preview()  # newer choices exist: this result is already out of date
            return
        if self.dialog is None or serial != self._serial:
            return
        status, payload = result
        if status == "ok":
            self.dialog.show_preview(payload)
            self.preview_shown.emit(serial)
        else:
            self.dialog.show_preview_message(payload)

    # ----- export ---------------------------------------------------------------------------------------
    def choose_export_path(self) -> None:
        try:
            request = self.request()
        except MemstudioError as exc:
            self.window.messages.show_problem(str(exc), "")
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
        from memstudio.core.figures.request import export_job

        request = self.request()
        path = Path(path)
        return self._submit(
            f"Export {path.name}", partial(export_job, request=request, path=path, panels_dir=panels_dir)
        )

    def choose_batch_folder(self) -> None:
        try:
            self.request(batch=True)
        except MemstudioError as exc:
            self.window.messages.show_problem(str(exc), "")
            return
        folder = QFileDialog.getExistingDirectory(self.dialog, "Export one strip per selected image into")
        if folder:
            panels = Path(folder) / "panels" if self.dialog.choices()["panels"] else None
            self.batch_export(Path(folder), panels)

    def batch_export(self, out_dir: str | Path, panels_dir: str | Path | None = None) -> str:
        """One strip per selected photo (or typed seed) into ``out_dir``, as a job; returns its id."""
        from memstudio.core.figures.request import batch_job

        request = self.request(batch=True)
        fmt = self.dialog.choices()["format"]
        factory = partial(batch_job, request=request, out_dir=Path(out_dir), fmt=fmt, panels_dir=panels_dir)
        return self._submit(f"Batch export of {len(request.seeds)} strips → {Path(out_dir).name}", factory)

    def _submit(self, title: str, factory: Any) -> str:
        self._job_serial += 1
        job_id = f"{JOB_PREFIX}{self._job_serial}"
        self._jobs.add(job_id)
        self.window.jobs.add_job(job_id, title)
        self.engine.submit_job(job_id, title, lambda pipeline: factory(pipeline))
        if self.dialog is not None:
            self.dialog.show_preview_message(f"{title}: running (see Jobs)")
        return job_id

    def _job_finished(self, done: Any) -> None:
        if done.job_id not in self._jobs:
            return
        self._jobs.discard(done.job_id)
        self.last_result = done.result
        if done.cancelled:
            text = f"{done.title}: cancelled"
        elif done.error:
            text = f"{done.title}: failed ({done.error})"
        else:
            written = done.result if isinstance(done.result, list) else [done.result]
            text = f"{done.title}: wrote {len(written)} file(s), e.g. {written[0]}" if written else done.title
        self.window.statusBar().showMessage(text, 10_000)
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
        self.engine.call(f"{DIRECTION_TASK}{path}", partial(_direction_summary, path))

    def _ask_inventory(self) -> None:
        self._inventory_serial += 1
        self.engine.call(f"{INVENTORY_TASK}{self._inventory_serial}", _inventory)

    def _subject_changed(self) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self._refresh_subject()
            self._ask_inventory()
            self.schedule_preview()

    def _refresh_subject(self) -> None:
        subject = self.window.state.subject
        inv = self._inventory
        if isinstance(subject, PhotoSubject):
            text = f"Photo: {Path(subject.path).name}"
        elif isinstance(subject, SeedSubject):
            gen = inv["generator"] or "no generator loaded"
            text = f"Seed {subject.seed} of {gen} (ψ = {subject.truncation:g})"
        else:
            text = "No photo or seed is open: figures are drawn from one"
        self.dialog.set_subject(text, not isinstance(subject, SeedSubject), inv["num_ws"] > 0)
        self.dialog.set_directions(self._direction_items(subject))

    def _direction_items(self, subject: Any) -> list[tuple[str, str]]:
        photo = not isinstance(subject, SeedSubject)
        items = edit_parameter_items() if photo else []
        loaded = [
            (f"pipeline:{ident}", f"{name} ({space})", space)
            for ident, name, space in self._inventory["directions"]
        ]
        files = [(key, label, space) for key, (label, space) in self._file_directions.items()]
        for key, label, space in [*loaded, *files]:
            if (space == "edit") == photo:
                items.insert(0, (key, label))
        return items

    def _subject_stem(self) -> str:
        subject = self.window.state.subject
        if isinstance(subject, PhotoSubject):
            return Path(subject.path).stem
        if isinstance(subject, SeedSubject):
            return f"seed{subject.seed:04d}"
        return "figure"

    # ----- engine replies -------------------------------------------------------------------------------
    def _task_done(self, done: Any) -> None:
        task_id = str(done.task_id)
        if task_id.startswith(PREVIEW_TASK):
            self._preview_done(int(task_id[len(PREVIEW_TASK) :]), done.result)
        elif task_id.startswith(INVENTORY_TASK):
            self._inventory = done.result
            if self.dialog is not None:
                self._refresh_subject()
        elif task_id.startswith(DIRECTION_TASK):
            key, label, space = done.result
            self._file_directions[key] = (label, space)
            if self.dialog is not None:
                self._refresh_subject()
                if not self.dialog.select_direction(key):
                    self.dialog.show_preview_message(f"{label} does not fit the current image")

    def _failed(self, failure: Any) -> None:
        ident = str(failure.ident)
        if failure.origin != "task" or not ident.startswith("export-"):
            return
        if ident.startswith(PREVIEW_TASK):
            self._preview_done(int(ident[len(PREVIEW_TASK) :]), ("error", failure.message))
        elif self.dialog is not None:
            self.dialog.show_preview_message(failure.message)


def _preview_task(render: Any, request: FigureRequest, pipeline: Any) -> tuple[str, Any]:
    """Engine thread. A user error (no generator, wrong space) is an answer for the preview area, not a
    problem report."""
    try:
        return "ok", render(pipeline, request)
    except MemstudioError as exc:
        return "error", str(exc)


def _inventory(pipeline: Any) -> dict[str, Any]:
    """Engine thread: what the pipeline holds, as plain values for the GUI thread."""
    generator = pipeline.generator
    return {
        "generator": generator.name if generator is not None else None,
        "num_ws": int(generator.num_ws or 0) if generator is not None else 0,
        "directions": [(ident, d.name, d.space) for ident, d in pipeline.directions.items()],
    }


def _direction_summary(path: Path, pipeline: Any) -> tuple[str, str, str]:
    from memstudio.core.directions.base import Direction

    direction = Direction.load(path)
    return (
        f"file:{path.with_suffix('.json')}",
        f"{direction.name} ({direction.space}, {path.name})",
        direction.space,
    )
