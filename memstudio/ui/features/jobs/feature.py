"""The Jobs dock: every job the engine runs gets a card that follows the job's own handle.

The engine says when a job is submitted (``Engine.job_submitted``, inside ``submit``), so this room connects to
the handle before the feature that submitted it does: the card shows the generic outcome first, and a feature
that has more to say about its job (an inversion's latent, a Resume button) writes on the card afterwards. A job
that fails says so where the user looks: its card comes into view and the message bar names it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QScrollArea

from memstudio.engine import JobDone, JobHandle
from memstudio.ui.features.jobs.panel import JobsPanel
from memstudio.ui.studio_context import StudioContext


def summarise(result: Any) -> tuple[str, tuple[str, ...]]:
    """The one line a finished job's card shows, and its warnings, from what the job returned."""
    warnings = tuple(getattr(result, "warnings", ()))
    if isinstance(getattr(result, "summary", None), str):
        return result.summary, warnings
    if isinstance(result, dict) and isinstance(result.get("summary"), str):
        return result["summary"], warnings
    if isinstance(result, dict) and "csv" in result:
        return f"{result['scored']} scored, {result['failed']} failed → {result['csv']}", warnings
    return "", warnings


class JobsFeature(QObject):
    """Owns the Jobs panel and its dock (under the photos, so the canvas keeps the window's full height)."""

    def __init__(self, studio: StudioContext) -> None:
        super().__init__(studio)
        self.studio = studio
        self.panel = JobsPanel()
        self.dock = studio.add_feature_dock(self.panel, "Jobs", "jobsDock", Qt.DockWidgetArea.LeftDockWidgetArea)
        studio.engine.job_submitted.connect(self._follow)

    def _follow(self, handle: JobHandle) -> None:
        if not handle.listed:
            return
        row = self.panel.add_job(handle.job_id, handle.title)
        row.cancel.clicked.connect(handle.cancel)
        handle.progress.connect(row.update_progress)
        handle.ended.connect(self._ended)

    def _ended(self, done: JobDone) -> None:
        row = self.panel.card(done.job_id)
        summary, warnings = summarise(done.result)
        if row is not None:
            row.finish(done, summary, warnings)
        if done.error and not done.cancelled:
            message = f"{done.title} failed: {done.error}"
            self.dock.show()
            self.dock.raise_()
            scroll = self.dock.widget()
            if isinstance(scroll, QScrollArea) and row is not None:
                scroll.ensureWidgetVisible(row)
            self.studio.messages.show_problem(message, done.details)
            self.studio.statusBar().showMessage(message, 10_000)
        elif summary:
            self.studio.statusBar().showMessage(" · ".join([summary, *warnings]), 10_000)
        self.panel.card_finished.emit(done)


def install(studio: StudioContext) -> JobsFeature:
    return JobsFeature(studio)
