"""``make bundle-test``: run the built one-folder studio as a user without Python would, and compare with pip.

The bundle runs from a copy of nothing but itself: a fresh temporary HOME and XDG folders, PATH reduced to the
system's, no PYTHONPATH and no virtual environment, the working directory outside the repository. It checks
the CLI (help, models, score equal to this pip install's to 1e-6, render, strip with its figure export, face
alignment through MTCNN and dlib), the refusal of a malicious pickle, the window under Xvfb for 20 s with a
screenshot, and the faults a user can meet: a read-only install folder, a corrupt cache entry, no X server.
It prints the cold-start times of bundle and pip side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
ASTRONAUT = ROOT / "assets" / "photos" / "astronaut.png"


class Check:
    """Collects named results; the run fails when any check fails, after all have run."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, name: str, ok: bool, detail: str = "") -> None:
        print(f"{'ok  ' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)
        if not ok:
            self.failed.append(name)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1)),
    }
    env.update(extra)
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _astronaut_score(cmd: list[str], env: dict[str, str], cwd: Path) -> float | None:
    proc = _run([*cmd, "score", "--json", "-a", "resmem", str(ASTRONAUT)], env, cwd)
    if proc.returncode != 0:
        print(proc.stderr[-2000:])
        return None
    return float(json.loads(proc.stdout.splitlines()[0])["scores"]["resmem"])


def _cold_start(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float] | None:
    """Seconds to the window being shown and to the first score on it (``gui --report-startup``)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*cmd, "gui", "--report-startup"], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    marks: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        marks[line.strip()] = time.perf_counter() - start
        if "first-score" in marks:
            break
    proc.wait(timeout=120)
    if "window-shown" not in marks or "first-score" not in marks:
        print(proc.stderr.read()[-2000:] if proc.stderr else "")
        return None
    return marks["window-shown"], marks["first-score"]


def _evil_pickle(path: Path, marker: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path.write_bytes(pickle.dumps({"G_ema": Evil()}))


def _inputs(folder: Path, cache: Path) -> Path:
    """An exposure direction for the photo editor and a tiny StyleGAN2 in the bundle's fresh user cache."""
    import torch

    from memstudio.core.directions.base import Direction
    from memstudio.core.generators.edit_params import PARAMETER_INDEX
    from memstudio.core.generators.store import save_model
    from memstudio.core.generators.stylegan2 import StyleGAN2Generator

    vector = torch.zeros(len(PARAMETER_INDEX))
    vector[PARAMETER_INDEX["exposure"]] = 3.0
    direction = Direction(name="brighter", property="brightness", space="edit", vector=vector, method="manual")
    path = direction.save(folder / "brighter")
    torch.manual_seed(0)
    tiny = StyleGAN2Generator(
        z_dim=8, c_dim=0, w_dim=8, img_resolution=16,
        synthesis_kwargs=dict(channel_base=128, channel_max=8), mapping_kwargs=dict(num_layers=2),
    ).eval()
    os.environ["MEMSTUDIO_CACHE_DIR"] = str(cache)
    try:
        save_model(tiny, "tiny", source_file=Path("made-by-bundle-check"), source_sha256="0" * 64)
    finally:
        del os.environ["MEMSTUDIO_CACHE_DIR"]
    return path


def _gui_window(exe: Path, env: dict[str, str], cwd: Path, shot: Path, seconds: float) -> tuple[bool, str]:
    """The studio on an Xvfb screen for ``seconds``, still alive, then a screenshot of the whole screen."""
    display = ":97"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
    try:
        time.sleep(1.5)
        gui = subprocess.Popen([str(exe), "gui"], env={**env, "DISPLAY": display}, cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(seconds)
        alive = gui.poll() is None
        subprocess.run(["import", "-display", display, "-window", "root", str(shot)], check=False, timeout=60)
        gui.terminate()
        try:
            _, err = gui.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            gui.kill()
            _, err = gui.communicate()
        return alive, err[-1500:]
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memstudio.devtools.bundle_check")
    parser.add_argument("bundle", type=Path, help="dist/memstudio")
    parser.add_argument("--window-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    bundle = args.bundle.resolve()
    exe = bundle / "memstudio"
    check = Check()
    if not exe.is_file():
        print(f"no bundle at {exe}: run `make bundle`", file=sys.stderr)
        return 2
    pip_cmd = [sys.executable, "-m", "memstudio"]
    with tempfile.TemporaryDirectory(prefix="memstudio-bundle-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        env = _env(home)
        cwd = work / "cwd"
        cwd.mkdir()

        proc = _run([str(exe), "--help"], env, cwd)
        check("--help", proc.returncode == 0 and "strip" in proc.stdout and "score" in proc.stdout)

        proc = _run([str(exe), "models", "--json"], env, cwd)
        rows = {(r["kind"], r["name"]): r for r in json.loads(proc.stdout)} if proc.returncode == 0 else {}
        resmem = rows.get(("assessor", "resmem"), {})
        check("models: ResMem from the bundle", resmem.get("status") == "available"
              and resmem.get("location", "").startswith(str(bundle)), resmem.get("location", proc.stderr[-500:]))
        for face in ("mtcnn", "dlib-landmarks-68", "dlib-face-descriptor"):
            row = rows.get(("face", face), {})
            check(f"models: {face} in the bundle", row.get("status") == "available"
                  and row.get("location", "").startswith(str(bundle)), row.get("location", ""))

        pip_env = {**os.environ, "MEMSTUDIO_CACHE_DIR": str(work / "pip-cache")}
        bundled, reference = _astronaut_score([str(exe)], env, cwd), _astronaut_score(pip_cmd, pip_env, cwd)
        check("score --json equals the pip install's to 1e-6", bundled is not None and reference is not None
              and abs(bundled - reference) <= 1e-6, f"bundle {bundled} pip {reference}")

        cache = Path(env["XDG_CACHE_HOME"]) / "memstudio"
        direction = _inputs(work, cache)
        out = cwd / "seed3.png"
        proc = _run([str(exe), "render", "--generator", "tiny", "--seed", "3", "-o", str(out)], env, cwd)
        check("render a user-imported generator from the user cache", proc.returncode == 0 and out.is_file()
              and Image.open(out).size == (16, 16), proc.stderr[-500:])

        figure = cwd / "strip.pdf"
        proc = _run([str(exe), "strip", "--photo", str(ASTRONAUT), "--direction", str(direction),
                     "--alphas", "-1", "0", "1", "--assessor", "brightness", "-o", str(figure)], env, cwd)
        check("strip: figure export (PDF)", proc.returncode == 0 and figure.is_file()
              and figure.read_bytes()[:5] == b"%PDF-", proc.stderr[-500:])

        aligned = cwd / "aligned.png"
        proc = _run([str(exe), "align", str(ASTRONAUT), "-o", str(aligned), "--json"], env, cwd)
        check("align: MTCNN + dlib landmarks inside the bundle", proc.returncode == 0 and aligned.is_file(),
              proc.stderr[-500:])

        marker = work / "pwned"
        evil = work / "evil.pkl"
        _evil_pickle(evil, marker)
        proc = _run([str(exe), "import-model", str(evil), "--name", "evil"], env, cwd)
        check("malicious pickle refused, nothing run", proc.returncode == 2 and not marker.exists()
              and "refused" in proc.stderr, proc.stderr.strip()[-300:])

        bad = cache / "models" / "broken"
        bad.mkdir(parents=True)
        (bad / "config.json").write_text("{not json")
        (bad / "weights.safetensors").write_bytes(b"\0" * 16)
        proc = _run([str(exe), "models"], env, cwd)
        check("a corrupt cache entry is reported, the rest still listed", proc.returncode in (0, 2)
              and "resmem" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-300:])
        shutil.rmtree(bad)

        modes = {p: p.stat().st_mode for p in [bundle, *bundle.rglob("*")] if not p.is_symlink()}
        try:
            for path, mode in modes.items():
                path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
            again = _astronaut_score([str(exe)], env, cwd)
            check("runs from a read-only install folder", again is not None and again == bundled, f"{again}")
        finally:
            for path, mode in modes.items():
                path.chmod(mode)

        no_x = {k: v for k, v in env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        proc = _run([str(exe), "gui"], no_x, cwd, timeout=60)
        check("no X server: a clear message, no Qt crash", proc.returncode == 1 and "no display" in proc.stderr
              and "Aborted" not in proc.stderr, proc.stderr.strip()[:200])

        if shutil.which("Xvfb") and shutil.which("import"):
            shot = ROOT / "build" / "bundle-window.png"
            shot.parent.mkdir(exist_ok=True)
            alive, err = _gui_window(exe, env, cwd, shot, args.window_seconds)
            pixels = np.asarray(Image.open(shot).convert("L")) if shot.is_file() else np.zeros((1, 1))
            check(f"window alive under Xvfb for {args.window_seconds:.0f} s", alive, err)
            check("screenshot shows a window", pixels.std() > 10, f"{shot} (std {pixels.std():.1f})")
            display = ":98"
            xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
            try:
                time.sleep(1.5)
                times = {
                    "bundle": _cold_start([str(exe)], {**env, "DISPLAY": display}, cwd),
                    "pip": _cold_start(pip_cmd, {**pip_env, "DISPLAY": display}, cwd),
                }
            finally:
                xvfb.terminate()
                xvfb.wait(timeout=10)
            for name, value in times.items():
                shown = "n/a" if value is None else f"window {value[0]:.1f} s, first score {value[1]:.1f} s"
                print(f"cold start ({name}): {shown}")
            check("cold start measured for bundle and pip", all(v is not None for v in times.values()))
        else:
            check("Xvfb and ImageMagick's import are installed (apt-get install xvfb imagemagick)", False)

    if check.failed:
        print(f"{len(check.failed)} failed: {', '.join(check.failed)}", file=sys.stderr)
        return 1
    print("bundle check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
