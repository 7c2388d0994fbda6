"""Photo thumbnails made on a thread pool, never on the GUI thread (a folder of 12-Mpx JPEGs takes seconds)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from memstudio.core.errors import ImageLoadError


class _Signals(QObject):
    done = Signal(str, object)  # path, (width, height, rgb bytes)
    failed = Signal(str, str)  # path, message


class _ThumbnailTask(QRunnable):
    def __init__(self, path: str, size: int, signals: _Signals) -> None:
        super().__init__()
        self.path, self.size, self.signals = path, size, signals

    def run(self) -> None:
        from memstudio.core.imaging import load_image

        try:
            image = load_image(self.path, max_side=self.size * 2).image
            image.thumbnail((self.size, self.size))
            self.signals.done.emit(self.path, (image.width, image.height, image.tobytes()))
        except ImageLoadError as exc:
            self.signals.failed.emit(self.path, str(exc))
        except Exception as exc:  # noqa: BLE001 - a thumbnail failure is shown, never fatal
            self.signals.failed.emit(self.path, f"{self.path}: {type(exc).__name__}: {exc}")


class Thumbnailer(QObject):
    """Queue paths; ``ready(path, (w, h, rgb))`` or ``failed(path, message)`` arrive on the GUI thread."""

    ready = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, size: int = 128, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._signals = _Signals()
        self._signals.done.connect(self.ready)
        self._signals.failed.connect(self.failed)

    def request(self, path: str) -> None:
        self._pool.start(_ThumbnailTask(path, self.size, self._signals))

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Finish queued thumbnails (on close) so no worker outlives the window."""
        self._pool.clear()
        return self._pool.waitForDone(timeout_ms)
