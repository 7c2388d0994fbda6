"""The visual memory game (000 Fig. 6, 004 Fig. 2a) played locally, one participant per run.

Each image is shown for ``image_ms`` (600 ms in the papers), then a blank with a fixation cross for
``blank_ms`` (800 ms); the participant may press the response key (Space) at any time during those 1.4 s when
they recognise a repeat. Optional feedback turns the frame green for a hit and red for a false alarm. Key
times come from one QElapsedTimer (monotonic) relative to each image's onset. At the end the responses are
written with QSaveFile, so the file appears whole or not at all; Esc (or closing the window) aborts and
writes nothing. ``practice`` first plays the web game's practice block (``core/experiments/practice.py``:
abstract images, frames always on, nothing recorded), so local and browser sessions can start alike.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QEventLoop, QRect, QSaveFile, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

from memstudio.core.errors import ImageLoadError, MemstudioError
from memstudio.core.experiments.practice import PRACTICE_TRIALS, practice_images
from memstudio.core.experiments.protocol import (
    BLANK_MS,
    FEEDBACK_MS,
    IMAGE_MS,
    INSTRUCTIONS,
    PRACTICE_NOTE,
    check_timing,
    practice_done_text,
)
from memstudio.core.experiments.responses import ResponseRow, responses_to_csv
from memstudio.core.experiments.stimuli import REPEAT_KINDS, GameSequence

HIT_COLOR = QColor(40, 200, 60)
MISTAKE_COLOR = QColor(220, 40, 40)


class MemoryGameWindow(QWidget):
    """Plays ``sequence`` and writes its responses to ``output_path`` when the last trial ends."""

    #: Emitted at each image onset with the trial index (tests press keys from here).
    trial_started = Signal(int)
    #: Emitted at each practice image's onset with its index in ``PRACTICE_TRIALS`` (never recorded).
    practice_started = Signal(int)
    #: Emitted with the path of the written response file.
    finished = Signal(str)
    #: Emitted when the game was stopped before the end; nothing was written.
    aborted = Signal()
    #: Emitted with a message when the response file could not be written.
    failed = Signal(str)

    def __init__(
        self,
        sequence: GameSequence,
        image_root: str | Path,
        output_path: str | Path,
        participant: str | None = None,
        image_ms: int = IMAGE_MS,
        blank_ms: int = BLANK_MS,
        feedback: bool = False,
        feedback_ms: int = FEEDBACK_MS,
        response_key: Qt.Key = Qt.Key.Key_Space,
        practice: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        problem = check_timing(image_ms, blank_ms)
        if problem:
            raise MemstudioError(problem)
        self.setObjectName("memgameWindow")
        self.setWindowTitle("Memory game")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.sequence = sequence
        self.participant = participant or sequence.participant
        self.output_path = Path(output_path)
        self.image_ms, self.blank_ms, self.feedback, self.feedback_ms = (
            image_ms,
            blank_ms,
            feedback,
            feedback_ms,
        )
        self.response_key = response_key
        self.state = "instructions"  # → [practice: image ⇄ blank → between] → image ⇄ blank → done | aborted
        self.phase = "practice" if practice else "game"
        self.index = -1
        self.frame_color: QColor | None = None
        self._pixmaps = self._load_pixmaps(Path(image_root))
        self._rt_ms: list[float | None] = [None] * len(sequence.trials)
        self._practice = self._practice_pixmaps() if practice else []
        self._practice_pressed: list[bool] = [False] * len(self._practice)
        self._clock = QElapsedTimer()
        self._onset_ms = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._advance)
        self._feedback_timer = QTimer(self)
        self._feedback_timer.setSingleShot(True)
        self._feedback_timer.timeout.connect(self._clear_feedback)

    def _load_pixmaps(self, root: Path) -> dict[str, QPixmap]:
        """Decode every image before the game starts: a decode during play would delay an onset."""
        pixmaps: dict[str, QPixmap] = {}
        for t in self.sequence.trials:
            if t.image in pixmaps:
                continue
            path = root / t.image
            pm = QPixmap(str(path))
            if pm.isNull():
                raise ImageLoadError(f"{path}: cannot be shown (missing or not an image), trial {t.position}")
            pixmaps[t.image] = pm
        return pixmaps

    def _practice_pixmaps(self) -> list[tuple[QPixmap, bool]]:
        """The web game's practice block: abstract images at the game's image size, never study images."""
        first = self._pixmaps[self.sequence.trials[0].image]
        images = [im.convert("RGB") for im in practice_images((first.width(), first.height()))]
        pixmaps = [
            QPixmap.fromImage(QImage(im.tobytes(), im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888))
            for im in images
        ]
        return [(pixmaps[t.image], t.kind in REPEAT_KINDS) for t in PRACTICE_TRIALS]

    @property
    def practice_presses(self) -> list[bool]:
        """Whether SPACE was pressed on each practice image (feedback only; not in the responses)."""
        return list(self._practice_pressed)

    # --- game flow -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Leave the instructions (or the screen after the practice) and show the first image."""
        if self.state == "between":
            self.phase = "game"
        elif self.state != "instructions":
            return
        self._clock.start()
        self._show_trial(0)

    def _trial_count(self) -> int:
        return len(self._practice) if self.phase == "practice" else len(self.sequence.trials)

    def _current(self) -> tuple[QPixmap, bool]:
        if self.phase == "practice":
            return self._practice[self.index]
        trial = self.sequence.trials[self.index]
        return self._pixmaps[trial.image], trial.is_repeat

    def _show_trial(self, i: int) -> None:
        self.index = i
        self.state = "image"
        self._clear_feedback()
        self._onset_ms = self._clock.elapsed()
        self._timer.start(self.image_ms)
        self.update()
        (self.practice_started if self.phase == "practice" else self.trial_started).emit(i)

    def _advance(self) -> None:
        if self.state == "image" and self.blank_ms > 0:
            self.state = "blank"
            self._timer.start(self.blank_ms)
            self.update()
        elif self.index + 1 < self._trial_count():
            self._show_trial(self.index + 1)
        elif self.phase == "practice":
            self.state = "between"
            self._clear_feedback()
            self.update()
        else:
            self._finish()

    def _finish(self) -> None:
        self.state = "done"
        self._timer.stop()
        self._feedback_timer.stop()  # the last trial's feedback frame must not outlive the game
        rows = [
            ResponseRow(
                self.participant,
                t.image,
                t.kind,
                rt is not None,
                t.delay,
                t.position,
                rt,
                t.seed_id,
                t.version,
                t.alpha,
            )
            for t, rt in zip(self.sequence.trials, self._rt_ms, strict=True)
        ]
        self.output_path.parent.mkdir(parents=True, exist_ok=True)
        out = QSaveFile(str(self.output_path))
        ok = out.open(QSaveFile.OpenModeFlag.WriteOnly)
        if ok:
            out.write(responses_to_csv(rows).encode("utf-8"))
            ok = out.commit()
        else:
            out.cancelWriting()
        if ok:
            self.finished.emit(str(self.output_path))
        else:
            self.failed.emit(f"{self.output_path}: cannot write the responses: {out.errorString()}")
        self.close()

    def abort(self) -> None:
        """Stop now; no response file is written."""
        if self.state in ("done", "aborted"):
            return
        self.state = "aborted"
        self._timer.stop()
        self._feedback_timer.stop()
        self.aborted.emit()
        self.close()

    @property
    def responses_ms(self) -> list[float | None]:
        """Reaction time per trial so far (None where no key was pressed)."""
        return list(self._rt_ms)

    # --- input -----------------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.abort()
        elif key == self.response_key and not event.isAutoRepeat():
            if self.state in ("instructions", "between"):
                self.start()
            elif self.state in ("image", "blank") and self.phase == "practice":
                if not self._practice_pressed[self.index]:
                    self._practice_pressed[self.index] = True
                    self._show_feedback(self._current()[1])  # the practice always shows its frames
            elif self.state in ("image", "blank") and self._rt_ms[self.index] is None:
                # Only the first press of a trial counts, as in the papers' one-response-per-image scoring.
                self._rt_ms[self.index] = float(self._clock.elapsed() - self._onset_ms)
                if self.feedback:
                    self._show_feedback(self._current()[1])
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self.state in ("instructions", "image", "blank", "between"):
            self.abort()
        self._timer.stop()
        self._feedback_timer.stop()
        super().closeEvent(event)

    def _show_feedback(self, is_repeat: bool) -> None:
        self.frame_color = HIT_COLOR if is_repeat else MISTAKE_COLOR
        self._feedback_timer.start(self.feedback_ms)
        self.update()

    def _clear_feedback(self) -> None:
        self._feedback_timer.stop()
        if self.frame_color is not None:
            self.frame_color = None
            self.update()

    # --- drawing ---------------------------------------------------------------------------------------
    def _image_rect(self, pm: QPixmap) -> QRect:
        """The image centred at its own size, shrunk to fit (keeping its aspect) if the screen is smaller."""
        margin = 24  # room for the feedback frame
        avail_w, avail_h = max(1, self.width() - 2 * margin), max(1, self.height() - 2 * margin)
        scale = min(1.0, avail_w / max(1, pm.width()), avail_h / max(1, pm.height()))
        w, h = round(pm.width() * scale), round(pm.height() * scale)
        return QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)

    def _screen_text(self) -> str:
        if self.state == "between":
            return practice_done_text(self.feedback)
        if self._practice:
            return f"{INSTRUCTIONS}\n\n{PRACTICE_NOTE.format(n=len(self._practice))}"
        return INSTRUCTIONS

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        if self.state in ("instructions", "between"):
            p.setPen(QColor(230, 230, 230))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._screen_text())
        elif self.state in ("image", "blank") and 0 <= self.index < self._trial_count():
            pm = self._current()[0]
            rect = self._image_rect(pm)
            if self.state == "image":
                p.drawPixmap(rect, pm)
            else:
                p.setPen(QPen(QColor(200, 200, 200), 3))
                c = rect.center()
                p.drawLine(c.x() - 12, c.y(), c.x() + 12, c.y())
                p.drawLine(c.x(), c.y() - 12, c.x(), c.y() + 12)
            if self.frame_color is not None:
                p.setPen(QPen(self.frame_color, 12))
                p.drawRect(rect.adjusted(-8, -8, 8, 8))
        p.end()


def play_sequence(
    sequence: GameSequence,
    image_root: str | Path,
    output_path: str | Path,
    participant: str | None = None,
    image_ms: int = IMAGE_MS,
    blank_ms: int = BLANK_MS,
    feedback: bool = False,
    full_screen: bool = True,
    practice: bool = False,
) -> Path | None:
    """Run the game in its own event loop; the written response file, or None if the player aborted."""
    _app = QApplication.instance() or QApplication([])  # held so the application lives through the loop
    window = MemoryGameWindow(
        sequence, image_root, output_path, participant, image_ms, blank_ms, feedback, practice=practice
    )
    result: dict[str, str] = {}
    window.finished.connect(lambda path: result.setdefault("path", path))
    window.failed.connect(lambda message: result.setdefault("error", message))
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if full_screen:
        window.showFullScreen()
    else:
        window.show()
    window.activateWindow()
    window.setFocus()
    # Closing the window ends the game either way; a local loop returns to the caller without quitting an
    # application that may have other windows (the studio).
    loop = QEventLoop()
    window.destroyed.connect(loop.quit)
    loop.exec()
    if "error" in result:
        raise MemstudioError(result["error"])
    return Path(result["path"]) if "path" in result else None
