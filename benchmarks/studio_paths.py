"""How much of the studio two user actions pass through: a measure of coupling, not of speed.

The real window (offscreen, brightness as the only live assessor) is driven through two actions:

- **slider drag**: on a photo, press the exposure slider, move it 10 times, release, and wait for the frame
  and scores of the last value (after one warm-up drag, so first-use work is not counted);
- **face**: with a tiny seeded StyleGAN2 open (the tests' helper writes it) and a W direction loaded, drop the
  astronaut photo on the window, align its face, invert it (a few steps), drag the direction's α slider on the
  inverted latent; each stage waits for its result, then for the engine to go quiet (the identity readout).

Counted during the action only, with ``sys.setprofile`` on the GUI thread and on the engine thread (installed
there by an engine command): the memstudio files whose functions were entered, per thread and floor
(``ui``, ``engine``, ``core``, other); calls from the GUI thread into ``Engine`` (hops); signal emissions on
the engine thread (reports, by signal); and how often control entered ``ui/main_window.py`` from outside it.
Code run while a module is being imported is not counted (the memstudio modules imported are listed
instead); the seed browser's thumbnail threads are not profiled. How many frames the engine coalesces depends
on timing, so hop and report counts can vary a little between runs; the files entered do not.

Run against a checkout with ``PYTHONPATH=<tree> python benchmarks/studio_paths.py [--json PATH]``; a short
per-version shim (marked below) lets it drive older commits too. By default it also measures the commit #13
was filed against (:data:`BASELINE`) in the same run, from a temporary git worktree, and prints each count as
baseline → now (``--baseline none`` skips that).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MEMSTUDIO_DEVICE", "cpu")
# The same sliders in every version: no shipped direction (older versions had none).
os.environ.setdefault("MEMSTUDIO_SHIPPED_DIRECTIONS", "0")

FLOORS = ("ui", "engine", "core", "other")
KINDS = ("hops", "reports", "main_window_entries")
#: Seconds without engine activity after which a stage counts as finished (longer than the faces feature's
#: 300-ms identity debounce plus one identity computation on a CPU).
QUIET_S = 1.5
TIMEOUT_S = 120.0
INVERT_STEPS = 5
_SIGNAL_NAME = re.compile(r"SignalInstance (\w+)\(")
#: The commit issue #13 ("one source of truth") measured its "before" at.
BASELINE = "b9800b5"

# ----- per-version shim: the only places that know how an older engine differs -------------------------------
#: GUI → engine entry points. b9800b5 (before issue #13) had ``call(task_id, fn)`` and ``submit_job``; later
#: versions have typed ``request``/``submit`` and ``cancel_request``.
HOPS = frozenset(
    f"Engine.{name}"
    for name in ("request", "submit", "request_render", "cancel_job", "cancel_request", "call", "submit_job")
)


def run_on_engine(engine: Any, command: Any) -> Any:
    """Run ``command.run(pipeline)`` on the engine thread and return its result (blocking, GUI thread)."""
    box: dict[str, Any] = {}
    if hasattr(engine, "request"):  # typed requests (issue #13 on)
        handle = engine.request(command)
        handle.done.connect(lambda result: box.setdefault("result", result))
        handle.failed.connect(lambda failure: box.setdefault("error", failure.message))
    else:  # b9800b5: Engine.call(task_id, fn), answered on engine.task_done

        def done(task: Any) -> None:
            if task.task_id == "studio-paths":
                box.setdefault("result", task.result)

        engine.task_done.connect(done)
        engine.call("studio-paths", command.run)
    wait_until(lambda: "result" in box or "error" in box, "an engine command")
    if not hasattr(engine, "request"):
        engine.task_done.disconnect(done)
    if "error" in box:
        raise RuntimeError(f"engine command failed: {box['error']}")
    return box["result"]


def engine_busy(engine: Any) -> bool:
    """Work queued or running (``_running`` exists from issue #13 on)."""
    return bool(engine._render or engine._tasks or engine._jobs or getattr(engine, "_running", None))


def window_ready(window: Any) -> bool:
    """The engine's pipeline is up and (where the window lists them) the live assessors are known."""
    return window.engine.pipeline is not None and getattr(window, "live_assessors", ()) is not None


# ----- counting -------------------------------------------------------------------------------------------------
class ThreadProfile:
    """The profile function of one thread and what it saw while the session was active."""

    def __init__(self, session: Session, thread: str) -> None:
        self.session = session
        self.thread = thread
        self.importing = 0
        self.activity = 0  # memstudio calls, counted even when inactive: the engine's quiet detector
        self.files: set[str] = set()
        self.functions: set[tuple[str, str]] = set()
        self.calls = 0
        self.outside: set[str] = set()
        self.imported: set[str] = set()

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        session = self.session
        if event == "call":
            code = frame.f_code
            if code.co_name == "<module>":
                self.importing += 1
                if session.active and code.co_filename.startswith(session.root):
                    self.imported.add(session.name(code.co_filename))
                return
            if self.importing:
                return
            filename = code.co_filename
            if not filename.startswith(session.root):
                if session.active:
                    self.outside.add(filename)
                return
            self.activity += 1
            if not session.active:
                return
            self.calls += 1
            self.files.add(filename)
            self.functions.add((filename, code.co_qualname))
            if filename == session.main_window:
                back = frame.f_back
                caller = back.f_code.co_filename if back is not None else ""
                if caller != session.main_window:
                    # Who called in: a memstudio file, or Qt's event loop (the driver's frame is below it).
                    source = session.name(caller)[len("memstudio/") :] if caller.startswith(session.root) else "Qt"
                    where = "" if self.thread == "gui" else f"{self.thread} thread: "
                    session.stage_counts("main_window_entries")[f"{where}{code.co_qualname} ← {source}"] += 1
            elif filename == session.engine_file and self.thread == "gui" and code.co_qualname in HOPS:
                session.stage_counts("hops")[code.co_qualname] += 1
        elif event == "return":
            if self.importing and frame.f_code.co_name == "<module>":
                self.importing -= 1
        elif event == "c_call" and not self.importing and getattr(arg, "__name__", None) == "emit":
            self.activity += 1
            if session.active and self.thread == "engine":
                found = _SIGNAL_NAME.search(repr(getattr(arg, "__self__", None)))
                signal = found.group(1) if found else "?"
                session.stage_counts("reports")[f"{signal} ({frame.f_code.co_qualname})"] += 1

    def summary(self) -> dict[str, Any]:
        files = sorted(self.session.name(f) for f in self.files)
        by_floor = {floor: [f for f in files if floor_of(f) == floor] for floor in FLOORS}
        return {
            "files": {floor: len(names) for floor, names in by_floor.items()},
            "files_total": len(files),
            "functions": len(self.functions),
            "calls": self.calls,
            "outside_python_files": len(self.outside),
            "imported_during_action": sorted(self.imported),
            "file_list": by_floor,
        }


class Session:
    """Both threads' profiles and the per-stage counters of one action."""

    def __init__(self, package_root: Path) -> None:
        self.root = str(package_root) + os.sep
        self.main_window = str(package_root / "ui" / "main_window.py")
        self.engine_file = str(package_root / "engine" / "engine.py")
        self.active = False
        self.stage = ""
        self.stages: dict[str, dict[str, Counter[str]]] = {}
        self.gui = ThreadProfile(self, "gui")
        self.engine = ThreadProfile(self, "engine")

    def name(self, filename: str) -> str:
        """``memstudio/...`` for the package's files, the path otherwise."""
        return "memstudio/" + filename[len(self.root) :] if filename.startswith(self.root) else filename

    def stage_counts(self, kind: str) -> Counter[str]:
        stage = self.stages.setdefault(self.stage, {})
        return stage.setdefault(kind, Counter())

    def begin(self, stage: str) -> None:
        self.stage = stage
        self.active = True

    def end(self) -> None:
        self.active = False

    def result(self) -> dict[str, Any]:
        def total(kind: str) -> Counter[str]:
            summed: Counter[str] = Counter()
            for counts in self.stages.values():
                summed.update(counts.get(kind, Counter()))
            return summed

        out: dict[str, Any] = {"threads": {"gui": self.gui.summary(), "engine": self.engine.summary()}}
        for kind in KINDS:
            counts = total(kind)
            out[kind] = dict(counts.most_common())
            out[f"{kind}_total"] = sum(counts.values())
        if len(self.stages) > 1:
            out["stages"] = {
                stage: {kind: sum(counts.get(kind, Counter()).values()) for kind in KINDS}
                for stage, counts in self.stages.items()
            }
        return out


def floor_of(name: str) -> str:
    parts = name.split("/")
    return parts[1] if len(parts) > 2 and parts[1] in FLOORS[:3] else "other"


class SetProfile:
    """Engine command: install (or, with None, remove) a profile function on the engine thread."""

    def __init__(self, profile: Callable[..., None] | None) -> None:
        self.profile = profile

    def run(self, pipeline: Any) -> None:
        sys.setprofile(self.profile)


# ----- driving the window -----------------------------------------------------------------------------------------
def app() -> Any:
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def wait_until(done: Callable[[], bool], what: str, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        app().processEvents()
        time.sleep(0.002)


def pump(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app().processEvents()
        time.sleep(0.002)


class Shown:
    """The newest request ids the window reported on screen (frame, scores)."""

    def __init__(self, window: Any) -> None:
        self.frame = self.scores = 0
        window.frame_shown.connect(self._frame)
        window.scores_shown.connect(self._scores)

    def _frame(self, request_id: int) -> None:
        self.frame = max(self.frame, request_id)

    def _scores(self, request_id: int) -> None:
        self.scores = max(self.scores, request_id)


class Studio:
    """One window and its engine, profiled on both threads while an action runs."""

    def __init__(self, session: Session) -> None:
        from memstudio.ui.main_window import MainWindow

        self.session = session
        self.window = MainWindow(assessors=("brightness",))
        self.window.show()
        wait_until(lambda: window_ready(self.window), "the engine to start")
        self.shown = Shown(self.window)

    def newest_request(self) -> int:
        """The window's newest request id, read without counting the read."""
        profile = sys.getprofile()
        sys.setprofile(None)
        try:
            return self.window.last_request_id
        finally:
            sys.setprofile(profile)

    def settle(self, what: str) -> None:
        """Wait for the frame and scores of the newest request."""
        newest = self.newest_request()
        wait_until(lambda: self.shown.frame >= newest and self.shown.scores >= newest, what)

    def quiet(self) -> None:
        """Wait until the engine has had nothing to do for QUIET_S (debounced follow-ups have run)."""
        engine, profile = self.window.engine, self.session.engine
        last, since = profile.activity, time.perf_counter()
        while time.perf_counter() - since < QUIET_S or engine_busy(engine):
            app().processEvents()
            time.sleep(0.005)
            if profile.activity != last or engine_busy(engine):
                last, since = profile.activity, time.perf_counter()

    def start_profiling(self) -> None:
        sys.setprofile(self.session.gui)
        run_on_engine(self.window.engine, SetProfile(self.session.engine))
        self.quiet()

    def stop_profiling(self) -> None:
        run_on_engine(self.window.engine, SetProfile(None))
        sys.setprofile(None)

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *_exc: object) -> None:
        """Close the window (which stops and joins its engine), also when the action failed."""
        sys.setprofile(None)
        self.window.close()


class Caught:
    """Remembers the arguments of each emission of ``signal`` (a stage's result)."""

    def __init__(self, signal: Any) -> None:
        self.args: list[tuple[Any, ...]] = []
        signal.connect(lambda *args: self.args.append(args))


def drag(slider: Any, fractions: list[float], pause_s: float = 0.025) -> None:
    """Press ``slider`` at the first fraction of its width, move through the others, release: mouse events
    sent to the inner QSlider, where the studio's press and release watchers sit."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QAbstractSlider, QApplication

    inner = (slider.findChildren(QAbstractSlider) or [slider])[0]
    if not inner.isVisible() or not inner.isEnabled() or inner.width() < 50:
        raise RuntimeError(f"{slider.objectName()} cannot be dragged (visible, enabled, {inner.width()} px wide?)")
    left = Qt.MouseButton.LeftButton
    none = Qt.MouseButton.NoButton
    y = inner.height() / 2

    def send(kind: QEvent.Type, fraction: float, button: Qt.MouseButton, buttons: Qt.MouseButton) -> None:
        local = QPointF(8 + fraction * (inner.width() - 16), y)
        event = QMouseEvent(kind, local, inner.mapToGlobal(local), button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(inner, event)
        pump(pause_s)

    send(QEvent.Type.MouseButtonPress, fractions[0], left, left)
    for fraction in fractions[1:]:
        send(QEvent.Type.MouseMove, fraction, none, left)
    send(QEvent.Type.MouseButtonRelease, fractions[-1], left, none)


def drop(window: Any, path: Path) -> None:
    """Drag ``path`` over the window and drop it, through Qt's event delivery."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPointF(10, 10), *args)
    if not QApplication.sendEvent(window, enter) or not enter.isAccepted():
        raise RuntimeError("the window refused the drag")
    QApplication.sendEvent(window, QDropEvent(QPointF(10, 10), *args))


# ----- the two actions --------------------------------------------------------------------------------------------
def slider_drag(session: Session, tree: Path, folder: Path) -> dict[str, Any]:
    """Action A: a 10-move drag of the exposure slider on a photo (after one warm-up drag)."""
    with Studio(session) as studio:
        window = studio.window
        window.open_paths([tree / "assets" / "photos" / "astronaut.png"])
        studio.settle("the photo")
        slider = window.strip.sliders["exposure"]
        drag(slider, [0.5 - 0.05 * i for i in range(11)])  # warm-up: first use of each edit operation
        studio.settle("the warm-up drag")
        studio.start_profiling()
        first = studio.newest_request()
        start = time.perf_counter()
        session.begin("drag")
        drag(slider, [0.5 + 0.05 * i for i in range(11)])
        studio.settle("the drag's last value")
        studio.quiet()
        session.end()
        seconds = time.perf_counter() - start
        result = session.result()
        result.update(requests=studio.newest_request() - first, seconds=round(seconds, 2))
        studio.stop_profiling()
    return result


def tiny_generator(tree: Path, folder: Path) -> Path:
    """The tests' tiny StyleGAN2 (seeded weights, real architecture) as an NVIDIA pickle in ``folder``."""
    import pytest

    sys.path.insert(0, str(tree / "tests"))
    from test_model_store import write_nvidia_pickle
    from test_ui_generators import tiny_stylegan2

    patch = pytest.MonkeyPatch()
    try:
        return write_nvidia_pickle(tiny_stylegan2(seed=11), folder / "tiny-faces.pkl", patch)
    finally:
        patch.undo()


def face(session: Session, tree: Path, folder: Path) -> dict[str, Any]:
    """Action B: drop a face photo → align → invert → drag a direction's α on the inverted latent."""
    import torch

    from memstudio.core.directions.base import Direction
    from memstudio.core.generators.opening import open_generator

    pickle_path = tiny_generator(tree, folder)
    with Studio(session) as studio:
        window = studio.window
        generators, directions, faces = (window.features[name] for name in ("generators", "directions", "faces"))
        loaded = Caught(generators.generator_loaded)
        generators.open_generator(pickle_path)
        wait_until(lambda: loaded.args, "the generator")
        studio.settle("the generator's first seed")
        vector = torch.randn(32, generator=torch.Generator().manual_seed(3))
        described = open_generator(pickle_path).describe()
        probe = Direction("probe", "brightness", "w", vector, generator=described, alpha_range=(-3.0, 3.0))
        opened = Caught(directions.direction_loaded)
        directions.open_direction(probe.save(folder / "probe.json"))
        wait_until(lambda: opened.args, "the direction")
        direction_id = opened.args[0][0]["id"]
        studio.settle("the direction's slider")
        faces.panel.size.setValue(0)  # auto: the generator's resolution
        faces.panel.steps.setValue(INVERT_STEPS)
        faces.panel.space.setCurrentIndex(1)  # W → W+, as the faces test inverts
        studio.start_profiling()
        start = time.perf_counter()

        session.begin("drop")
        drop(window, tree / "assets" / "photos" / "astronaut.png")
        studio.settle("the dropped photo")
        studio.quiet()

        session.begin("align")
        aligned = Caught(faces.aligned)
        faces.panel.align_button.click()
        wait_until(lambda: aligned.args, "the aligned face")
        studio.settle("the aligned face on the canvas")
        studio.quiet()

        session.begin("invert")
        inverted = Caught(faces.inverted)
        faces.panel.invert_button.click()
        wait_until(lambda: inverted.args, "the inversion")
        studio.settle("the inverted latent on the canvas")
        studio.quiet()

        session.begin("edit")
        before = studio.newest_request()
        drag(directions.sliders.rows[direction_id].slider, [0.5, 0.8])
        if studio.newest_request() == before:
            raise RuntimeError("the α drag changed nothing (is the direction usable on the inverted latent?)")
        studio.settle("the edited latent")
        studio.quiet()
        session.end()
        seconds = time.perf_counter() - start
        studio.stop_profiling()
        result = session.result()
        result.update(seconds=round(seconds, 2), inverted=bool(inverted.args[0][0].get("key")))
    return result


ACTIONS = {"slider": ("A. slider drag", slider_drag), "face": ("B. drop a face → align → invert → edit", face)}


# ----- report -----------------------------------------------------------------------------------------------------
def _listing(counts: dict[str, int], limit: int = 6) -> str:
    items = [f"{name} {n}" for name, n in list(counts.items())[:limit]]
    more = len(counts) - limit
    return ", ".join(items) + (f", … {more} more" if more > 0 else "")


def print_table(name: str, result: dict[str, Any]) -> None:
    print(f"\n{name} ({result['seconds']:.1f} s)")
    print(f"  {'files entered':<16}" + "".join(f"{f:>8}" for f in (*FLOORS, "total")) + f"{'functions':>11}")
    for thread, summary in result["threads"].items():
        row = [summary["files"][f] for f in FLOORS] + [summary["files_total"]]
        print(f"  {thread + ' thread':<16}" + "".join(f"{n:>8}" for n in row) + f"{summary['functions']:>11}")
    print(f"  GUI→engine hops: {result['hops_total']} ({_listing(result['hops'])})")
    print(f"  engine→GUI reports: {result['reports_total']} ({_listing(result['reports'])})")
    print(
        f"  main_window.py entered from outside: {result['main_window_entries_total']} "
        f"({_listing(result['main_window_entries'])})"
    )
    for stage, counts in result.get("stages", {}).items():
        print(
            f"    {stage:<7} hops {counts['hops']:>3} · reports {counts['reports']:>4} · "
            f"main_window entries {counts['main_window_entries']:>3}"
        )


def _headline(result: dict[str, Any]) -> dict[str, int]:
    threads = result["threads"]
    return {
        "files, GUI thread": threads["gui"]["files_total"],
        "files, engine thread": threads["engine"]["files_total"],
        "ui/ files on the engine thread": threads["engine"]["files"]["ui"],
        "GUI→engine hops": result["hops_total"],
        "engine→GUI reports": result["reports_total"],
        "entries into main_window.py": result["main_window_entries_total"],
    }


def measure_baseline(tree: Path, revision: str, actions: list[str]) -> dict[str, Any] | None:
    """This script run against ``revision`` (a temporary worktree of ``tree``'s repository); None when the
    revision cannot be checked out here (a shallow clone), said on stderr."""
    import shutil
    import subprocess

    folder = Path(tempfile.mkdtemp(prefix="memstudio-paths-baseline-"))
    worktree = folder / "tree"
    added = subprocess.run(
        ["git", "-C", str(tree), "worktree", "add", "--detach", str(worktree), revision],
        capture_output=True,
        text=True,
    )
    if added.returncode != 0:
        print(f"no baseline: cannot check out {revision} ({added.stderr.strip()})", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    try:
        out = folder / "baseline.json"
        env = {**os.environ, "PYTHONPATH": str(worktree)}
        command = [sys.executable, __file__, "--baseline", "none", "--json", str(out), "--actions", *actions]
        ran = subprocess.run(command, env=env, cwd=worktree, capture_output=True, text=True)
        if ran.returncode != 0:
            print(f"no baseline: the run at {revision} failed:\n{ran.stderr[-2000:]}", file=sys.stderr)
            return None
        return json.loads(out.read_text(encoding="utf-8"))
    finally:
        subprocess.run(["git", "-C", str(tree), "worktree", "remove", "--force", str(worktree)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def print_comparison(baseline: dict[str, Any], report: dict[str, Any]) -> None:
    print(f"\nbaseline {baseline['commit']} → now {report['commit']} (both measured in this run)")
    for name, now in report["actions"].items():
        before = baseline["actions"].get(name)
        if before is None:
            continue
        print(f"  {ACTIONS[name][0]}")
        old, new = _headline(before), _headline(now)
        for label, value in new.items():
            ratio = f"{value / old[label]:.2f}×" if old[label] else "—"
            print(f"    {label:<32}{old[label]:>6} → {value:<6}{ratio:>8}")


def tree_commit(tree: Path) -> str:
    import subprocess

    found = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the numbers (and the files entered) here")
    parser.add_argument("--actions", nargs="+", choices=list(ACTIONS), default=list(ACTIONS))
    parser.add_argument(
        "--baseline", default=BASELINE, help=f"commit to measure too and compare with (default {BASELINE}; none: skip)"
    )
    args = parser.parse_args()
    import shutil

    import torch

    import memstudio

    torch.set_num_threads(1)  # the tiny networks run fastest so; timing does not change what is counted
    package = Path(memstudio.__file__).resolve().parent
    tree = package.parent
    folder = Path(tempfile.mkdtemp(prefix="memstudio-paths-"))
    # A private cache (aligned faces, latents) and settings (no saved layout) for every run.
    os.environ.setdefault("MEMSTUDIO_CACHE_DIR", str(folder / "cache"))
    os.environ.setdefault("MEMSTUDIO_SETTINGS_DIR", str(folder / "settings"))
    app()
    report: dict[str, Any] = {"tree": str(tree), "commit": tree_commit(tree), "actions": {}}
    print(f"memstudio at {tree} (commit {report['commit']})")
    try:
        for name in args.actions:
            title, action = ACTIONS[name]
            report["actions"][name] = result = action(Session(package), tree, folder)
            print_table(title, result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.baseline != "none":
        baseline = measure_baseline(tree, args.baseline, list(args.actions))
        if baseline is not None:
            report["baseline"] = baseline
            print_comparison(baseline, report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
