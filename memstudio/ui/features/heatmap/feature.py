"""Memorability heatmaps over the image (issue 6, papers 003 and 004): the map follows the current frame.

Each new frame on the canvas (an edit, a direction slider, another photo) cancels the map being computed for
an older frame at once — it would be stale — and, after a quiet spell of :data:`DEBOUNCE_MS`, starts a map job
for the newest frame. The job is the typed command :class:`~memstudio.core.session.heatmaps.ComputeMap`
(``Engine.submit``): the core's map, as the CLI makes it, at the same cost per window. The engine answers
pending renders between its batches, so the studio stays live; the job is transient, so it is not listed in
the Jobs dock but in the Heatmap dock's own progress line. Each preview (the coarse map first, then one per
refined scale) is coloured on the GUI thread with a lookup table — a few milliseconds for a photo-sized map —
and drawn by the canvas at the chosen opacity, so opacity and colormap changes never recompute. Previews of
any job but the current one are dropped: their frame is gone.

Save map and the emphasis check (paper 004 §5) work on the last *finished* map and the frame it was made
from, on the engine thread; a trained VMS checkpoint (paper 003) becomes one more method. The colour bar is
numbered in the finished map's units, and the value under the mouse is shown under it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFileDialog

from memstudio.core.maps.scale import MapScale
from memstudio.core.session.heatmaps import (
    ComputeMap,
    DescribeVms,
    EmphasisCheck,
    ExportHeatmapFigure,
    HeatmapSetup,
    MapResult,
    MapSettings,
    SaveMap,
)
from memstudio.engine import Command, Failure, Frame, JobHandle, JobUpdate, RequestHandle
from memstudio.ui.debounce import Debouncer
from memstudio.ui.features.heatmap.panel import EMPHASIS_THUMB, SCALED_METHODS, HeatmapPanel, ScalesError
from memstudio.ui.studio_context import StudioContext

PREFIX = "heatmap:"  # of this feature's job ids (transient: never listed in the Jobs dock)
#: Quiet time after the last frame before a map is started: a slider drag yields a frame every few tens of
#: ms, and a map costs seconds, so only the frame the user stops at is worth mapping.
DEBOUNCE_MS = 400
#: Windows per assessor call; None: the core's choice for the engine's device (:func:`~memstudio.core.session.
#: heatmaps.map_batch`).
MAP_BATCH: int | None = None
NO_MAP = "no finished map yet: tick “Show heatmap” and wait for the map of the frame"


@dataclass
class RunningMap:
    """The map job now running (at most one: a newer frame cancels it)."""

    job_id: str
    frame: Frame
    settings: MapSettings
    passes: int | None  # previews to expect (one per scale), None when unknown
    handle: JobHandle
    previews: int = 0


class HeatmapFeature(QObject):
    """The Heatmap dock. Signals say when work has landed (tests and other features wait on them):
    ``map_shown(dict)`` for every map put on the canvas (``frame_id``, ``job_id``, ``final``, ``preview``),
    ``emphasis_done(dict)``, ``map_saved(str)``, ``vms_loaded(str)``, ``job_cancelled(str)``."""

    map_shown = Signal(object)
    emphasis_done = Signal(object)
    map_saved = Signal(str)
    figure_saved = Signal(object)  # the paths written
    vms_loaded = Signal(str)
    job_cancelled = Signal(str)

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.panel = HeatmapPanel([])
        studio.assessors_changed.connect(lambda live: self.panel.set_assessors([a.name for a in live]))
        self.dock = studio.add_feature_dock(self.panel, "Heatmap", "heatmapDock", Qt.DockWidgetArea.RightDockWidgetArea)
        self._ids = itertools.count(1)
        self._luts: dict[str, np.ndarray] = {}
        self._default_scales: dict[str, tuple[float, ...]] = {}
        self.job: RunningMap | None = None
        #: Every map job started, as (job id, frame id), and those cancelled because they went stale.
        self.submitted: list[tuple[str, int]] = []
        self.cancelled: list[str] = []
        #: The map on the canvas as colormap indices (uint8 [H, W]) and the frame it belongs to.
        self.index_map: np.ndarray | None = None
        self.map_frame_id: int | None = None
        self._rgba: np.ndarray | None = None
        self._rgba_colormap: str | None = None
        #: The last finished map (float [H, W] in [0, 1]), its frame and settings: what Save and the emphasis
        #: check use.
        self.final_map: np.ndarray | None = None
        self.final_frame: Frame | None = None
        self.final_settings: MapSettings | None = None
        #: What the finished map's 0 and 1 stand for (the colour bar's numbers).
        self.final_scale: MapScale | None = None
        self.vms_checkpoint: str | None = None
        self.last_emphasis: dict[str, Any] | None = None
        self._debounce = Debouncer(DEBOUNCE_MS, self.recompute, self)
        studio.closing.connect(self._debounce.stop)  # no map job starts after the window closed

        self.panel.show_toggled.connect(self.set_enabled)
        self.panel.settings_changed.connect(self.recompute)
        self.panel.look_changed.connect(self._look_changed)
        self.panel.vms_requested.connect(self.choose_vms)
        self.panel.save_requested.connect(self.choose_save_path)
        self.panel.figure_requested.connect(self.choose_figure_path)
        self.panel.emphasis_requested.connect(self.run_emphasis)
        studio.frame_changed.connect(self._frame_changed)
        studio.state.subject_changed.connect(self._subject_changed)
        self.canvas = studio.canvas  # read once: its event filter sees every paint of the canvas
        self.canvas.setMouseTracking(True)
        self.canvas.installEventFilter(self)
        self._request("setup", HeatmapSetup()).done.connect(self._set_up)

    # ----- showing and following the frame -------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.panel.show_box.isChecked()

    def set_enabled(self, on: bool) -> None:
        """Show (and compute) or hide the overlay; hiding cancels the running map."""
        if self.panel.show_box.isChecked() != on:
            self.panel.show_box.setChecked(on)  # comes back here through the toggled signal
            return
        if on:
            self.recompute()
            return
        self._debounce.stop()
        self._cancel_running()
        self.canvas.set_overlay(None)
        self.panel.set_progress(None)
        self.panel.set_status("Heatmap hidden.")

    def _frame_changed(self, frame: Frame) -> None:
        if not self.enabled:
            return
        if self.job is not None and self.job.frame.request_id < frame.request_id:
            self._cancel_running()  # at once: its map would be of a frame no longer shown
        self._debounce.throttle()
        self._say_waiting(frame)

    def _subject_changed(self) -> None:
        # Another photo or seed: the old map says nothing about it, so it goes at once.
        self._cancel_running()
        self.index_map = None
        self.map_frame_id = None
        self._rgba = None
        self.canvas.set_overlay(None)

    def _say_waiting(self, frame: Frame) -> None:
        shown = f"showing the map of frame #{self.map_frame_id}; " if self.index_map is not None else ""
        self.panel.set_status(f"{shown}frame #{frame.request_id} changed: mapping it when the edits settle…")

    def settings(self) -> MapSettings:
        """The dock's current choices (raises ScalesError for a bad scales field)."""
        method = self.panel.method_id()
        return MapSettings(
            method=method,
            assessor=self.panel.assessor_name(),
            scales=self.panel.chosen_scales(),
            vms_checkpoint=self.vms_checkpoint if method == "vms" else None,
        )

    def recompute(self) -> str:
        """Start a map of the current frame with the current settings; returns the job id ("" if none)."""
        self._debounce.stop()
        frame = self.studio.current_frame
        if not self.enabled or frame is None:
            return ""
        try:
            settings = self.settings()
        except ScalesError as exc:
            self.panel.set_status(str(exc), problem=True)
            return ""
        if settings.method == "vms" and settings.vms_checkpoint is None:
            self.panel.set_status("open a VMS model first (Open VMS model…)", problem=True)
            return ""
        running = self.job
        if running is not None:
            if running.frame.request_id == frame.request_id and running.settings == settings:
                return running.job_id  # already mapping exactly this
            self._cancel_running()
        if (
            self.final_frame is not None
            and self.final_frame.request_id == frame.request_id
            and self.final_settings == settings
        ):
            self._show(_to_index(self.final_map), frame.request_id, final=True, job_id="")
            if self.final_scale is not None:
                self.panel.set_scale(self.final_scale)
            self.panel.set_status(f"map of frame #{frame.request_id} ({self._describe(settings)})")
            return ""
        job_id = f"{PREFIX}map-{next(self._ids)}"
        passes = self._passes(settings)
        command = ComputeMap(frame.tensor, settings, frame.request_id, MAP_BATCH)
        handle = self.studio.engine.submit(command, job_id, listed=False)  # its progress is in the dock
        running = RunningMap(job_id, frame, settings, passes, handle)
        handle.progress.connect(lambda update, running=running: self._job_progress(running, update))
        handle.done.connect(lambda result, running=running: self._map_done(running, result))
        handle.failed.connect(lambda failure, running=running: self._map_failed(running, failure))
        handle.cancelled.connect(lambda job_id=job_id: self.job_cancelled.emit(job_id))
        self.job = running
        self.submitted.append((job_id, frame.request_id))
        # Until it finishes the bar has no units: the previews' raw range is not known on this thread.
        self.panel.set_scale(MapScale(f"map of frame #{frame.request_id}, refining"))
        self.panel.set_progress(0.0)
        self.panel.set_status(f"coarse map of frame #{frame.request_id}… ({self._describe(settings)})")
        return job_id

    def _passes(self, settings: MapSettings) -> int | None:
        if settings.method in SCALED_METHODS:
            scales = settings.scales or self._default_scales.get(settings.method)
            return len(scales) if scales else None
        return 1

    def _describe(self, settings: MapSettings) -> str:
        return settings.describe(len(self._default_scales.get(settings.method, ())) or None)

    def _cancel_running(self) -> None:
        running, self.job = self.job, None
        if running is None:
            return
        running.handle.cancel()
        self.cancelled.append(running.job_id)
        self.panel.set_progress(None)

    # ----- engine results -------------------------------------------------------------------------------
    def _job_progress(self, running: RunningMap, update: JobUpdate) -> None:
        if running is not self.job:
            return  # a map of a frame that is gone
        self.panel.set_progress(update.fraction)
        if update.preview is None:
            return
        running.previews += 1
        frame_id = running.frame.request_id
        self._show(np.ascontiguousarray(update.preview[..., 0]), frame_id, final=False, job_id=running.job_id)
        done, total = running.previews, running.passes
        if total is not None and done < total:
            head = f"coarse map of frame #{frame_id}; " if done == 1 else f"frame #{frame_id}: "
            self.panel.set_status(f"{head}refining {done + 1}/{total}…")
        else:
            self.panel.set_status(f"frame #{frame_id}: {update.message}")

    def _map_failed(self, running: RunningMap, failure: Failure) -> None:
        if running is not self.job:
            return
        self.job = None
        self.panel.set_progress(None)
        self.panel.set_status(f"the map of frame #{running.frame.request_id} failed: {failure.message}", problem=True)

    def _map_done(self, running: RunningMap, result: MapResult) -> None:
        if running is not self.job:
            return
        self.job = None
        self.panel.set_progress(None)
        frame_id = running.frame.request_id
        final = result.map
        self.final_map, self.final_frame, self.final_settings = final, running.frame, running.settings
        self.final_scale = result.scale
        self.panel.set_scale(result.scale)
        self._show(_to_index(final), frame_id, final=True, job_id=running.job_id)
        self.panel.set_map_ready(True)
        self.panel.set_status(f"map of frame #{frame_id} ({self._describe(running.settings)})")

    def _show(self, index_map: np.ndarray, frame_id: int, final: bool, job_id: str) -> None:
        self.index_map = index_map
        self.map_frame_id = frame_id
        self._recolour()
        self.map_shown.emit({"frame_id": frame_id, "job_id": job_id, "final": final})

    # ----- the value under the mouse ---------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.canvas:
            if event.type() == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
                self.show_value_at(event.position().x(), event.position().y())
            elif event.type() == QEvent.Type.Leave:
                self.panel.set_hover("")
        return False

    def value_at(self, x: float, y: float) -> str:
        """The map's reading at canvas point (x, y): units where the finished map has them; "" off the map."""
        if self.index_map is None or not self.enabled:
            return ""
        rect = self.canvas.image_rect()
        if rect.isEmpty() or not rect.contains(int(x), int(y)):
            return ""
        height, width = self.index_map.shape
        col = min(int((x - rect.x()) * width / rect.width()), width - 1)
        row = min(int((y - rect.y()) * height / rect.height()), height - 1)
        final = (
            self.final_map is not None
            and self.final_frame is not None
            and self.final_frame.request_id == self.map_frame_id
            and self.final_map.shape == self.index_map.shape
        )
        if final and self.final_scale is not None:
            reading = self.final_scale.describe(float(self.final_map[row, col]))
        else:
            reading = f"{self.index_map[row, col] / 255.0:.2f} (normalised, map still refining)"
        return f"at ({col}, {row}): {reading}"

    def show_value_at(self, x: float, y: float) -> None:
        self.panel.set_hover(self.value_at(x, y))

    # ----- colours --------------------------------------------------------------------------------------
    def _look_changed(self) -> None:
        if self.panel.colormap_name() != self._rgba_colormap:
            self._recolour()
        else:
            self._apply_opacity()

    def _recolour(self) -> None:
        name = self.panel.colormap_name()
        lut = self._luts.get(name)
        if lut is not None:
            self.panel.set_legend(lut)
        if self.index_map is None or lut is None:
            return  # the colour tables arrive from the engine before any map can
        rgba = np.empty((*self.index_map.shape, 4), dtype=np.uint8)
        rgba[..., :3] = lut[self.index_map]
        rgba[..., 3] = 255  # the canvas applies the opacity to the whole overlay
        self._rgba, self._rgba_colormap = rgba, name
        self._apply_opacity()

    def _apply_opacity(self) -> None:
        if self.enabled and self._rgba is not None:
            self.canvas.set_overlay(self._rgba, self.panel.opacity_value())

    # ----- VMS models -----------------------------------------------------------------------------------
    def choose_vms(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.panel, "Open a VMS checkpoint folder (vms train output)")
        if folder:
            self.load_vms(folder)

    def load_vms(self, path: str | Path) -> RequestHandle:
        """Check the checkpoint on the engine; once it loads, the VMS method is chosen."""
        path = str(path)
        self.panel.set_status(f"opening the VMS model {Path(path).name}…")
        handle = self._request("vms", DescribeVms(path))
        handle.done.connect(self._vms_described)
        return handle

    def _vms_described(self, described: dict[str, str]) -> None:
        self.vms_checkpoint = described["path"]
        self.panel.set_vms_model(described["path"], described["summary"])
        self.panel.set_status(f"VMS model ready: {described['summary']}")
        self.vms_loaded.emit(described["path"])
        if self.panel.method_id() == "vms":
            self.recompute()  # another checkpoint for the method already chosen
        else:
            self.panel.select_method("vms")

    # ----- saving ---------------------------------------------------------------------------------------
    def choose_save_path(self) -> None:
        if self.final_map is None:
            self.panel.set_status(NO_MAP, problem=True)
            return
        label = Path(self.studio.state.subject_label() or "image").stem
        stem = f"{label}-{self.final_settings.method}-map"
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
        path, chosen = QFileDialog.getSaveFileName(
            self.panel, "Save the heatmap", f"{stem}.png", "PNG picture (*.png);;NumPy values (*.npy)"
        )
        if not path:
            return
        if Path(path).suffix.lower() not in (".png", ".npy"):
            path += ".npy" if "npy" in chosen else ".png"
        self.save_map(path)

    def save_map(self, path: str | Path) -> RequestHandle | None:
        """Write the last finished map to ``path`` (.npy values or .png in the chosen colormap), on the
        engine thread; ``map_saved`` reports the path. None when there is no map."""
        if self.final_map is None:
            self.panel.set_status(NO_MAP, problem=True)
            return None
        handle = self._request("save", SaveMap(self.final_map, str(path), self.panel.colormap_name()))
        frame_id = self.final_frame.request_id
        handle.done.connect(lambda written: self._map_written(frame_id, written))
        return handle

    def _map_written(self, frame_id: int, path: str) -> None:
        self.panel.set_status(f"saved the map of frame #{frame_id} → {path}")
        self.studio.statusBar().showMessage(f"heatmap saved → {path}", 8000)
        self.map_saved.emit(path)

    def choose_figure_path(self) -> None:
        if self.final_map is None:
            self.panel.set_status(NO_MAP, problem=True)
            return
        label = Path(self.studio.state.subject_label() or "image").stem
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{label}-heatmap")
        path, chosen = QFileDialog.getSaveFileName(
            self.panel,
            "Export the heatmap figure",
            f"{stem}.pdf",
            "PDF figure (*.pdf);;SVG figure (*.svg);;PNG figure (*.png)",
        )
        if not path:
            return
        if Path(path).suffix.lower() not in (".pdf", ".svg", ".png"):
            path += "." + chosen.split("*.")[-1].rstrip(")") if "*." in chosen else ".pdf"
        self.export_figure(path)

    def export_figure(self, path: str | Path) -> RequestHandle | None:
        """The figure of the last finished map (image, overlay at the dock's opacity, numbered colour bar),
        written on the engine thread with the frame beside it for ``heatmap --from``; None without a map."""
        if self.final_map is None or self.final_frame is None or self.final_scale is None:
            self.panel.set_status(NO_MAP, problem=True)
            return None
        command = ExportHeatmapFigure(
            self.final_frame.pixels,
            self.final_map,
            self.final_scale,
            self.final_settings,
            str(path),
            self.panel.colormap_name(),
            self.panel.opacity_value(),
        )
        handle = self._request("figure", command)
        handle.done.connect(self._figure_written)
        return handle

    def _figure_written(self, paths: list[str]) -> None:
        self.panel.set_status(f"heatmap figure → {', '.join(paths)}")
        self.studio.statusBar().showMessage(f"heatmap figure saved → {paths[0]}", 8000)
        self.figure_saved.emit(paths)

    # ----- emphasis check -------------------------------------------------------------------------------
    def run_emphasis(self) -> RequestHandle | None:
        """Paper 004 §5 on the last finished map and its frame, scored by the dock's assessor."""
        if self.final_map is None or self.final_frame is None:
            self.panel.set_status(NO_MAP, problem=True)
            return None
        frame, name = self.final_frame, self.panel.assessor_name()
        self.panel.set_status(f"emphasis check of frame #{frame.request_id} with {name}…")
        command = EmphasisCheck(frame.tensor, self.final_map, name, frame.request_id, EMPHASIS_THUMB)
        handle = self._request("emphasis", command)
        handle.done.connect(self._emphasis_checked)
        return handle

    def _emphasis_checked(self, result: dict[str, Any]) -> None:
        self.last_emphasis = result
        self.panel.show_emphasis(result)
        verdict = "holds" if result["order_holds"] else "does not hold"
        self.panel.set_status(f"emphasis check: high > medium > low {verdict}")
        self.emphasis_done.emit(result)

    # ----- engine requests ------------------------------------------------------------------------------
    def _request(self, kind: str, command: Command) -> RequestHandle:
        """Send ``command``; its failure is said in the dock, naming ``kind``."""
        handle = self.studio.engine.request(command)
        handle.failed.connect(lambda failure: self.panel.set_status(f"{kind} failed: {failure.message}", problem=True))
        return handle

    def _set_up(self, setup: dict[str, Any]) -> None:
        self._luts = setup["luts"]
        self._default_scales = setup["scales"]
        self.panel.set_defaults(self._default_scales, sorted(self._luts))
        self._recolour()


def _to_index(map_: np.ndarray) -> np.ndarray:
    """A float map in [0, 1] → colormap indices 0..255 (the lookup tables' resolution)."""
    return np.round(np.clip(map_, 0.0, 1.0) * 255.0).astype(np.uint8)


def install(studio: StudioContext) -> HeatmapFeature:
    return HeatmapFeature(studio)
