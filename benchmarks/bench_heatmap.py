"""How fast is a 3-scale region map (paper 004 §5) of a 512×512 photo with the real ResMem?

Targets on the 2-core CPU: coarse map ≤ 1 s, full map ≤ 6 s. The cost is one ResMem call (~0.2 s on two
idle cores) per window, so the grid is sized for it: windows of 2/3, 1/2 and 2/5 of the image with ≥ 25 %
overlap are 2×2 + 3×3 + 3×3 = 22 windows, and the coarse map is the first 2×2 (4 windows). Each window is
resampled to 256 px — ResMem's own Resize target, so its resize is a no-op (the 1/2-scale windows of a
512-px photo are exactly 256 px and not resampled at all) — before ResMem's centre crop to 227.

Measured in one run, best of ``--repeats``: the batched implementation (one batch per scale) and the same
windows scored one at a time (batch_size=1), which must give the same map; and the studio's path — the
:class:`~memstudio.core.session.heatmaps.ComputeMap` command the Heatmap dock submits, run by a real
:class:`~memstudio.engine.Engine` on its own thread, timed from ``submit`` to the first preview and to the
finished map arriving on the GUI thread, with the studio's batch for the device (4 windows per call on a CPU:
see ``memstudio.core.session.heatmaps.CPU_MAP_BATCH``). Wall time and CPU time (all threads of the process) are both
reported: on a CPU shared with other work, wall time says more about the machine than about the code, and
with two torch threads so does CPU time (a thread waiting at OpenMP's barrier for a descheduled partner spins);
``--threads 1`` gives CPU times that compare the two paths' work exactly.

Run: ``.venv/bin/python benchmarks/bench_heatmap.py [--device cuda] [--threads N]``.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from memstudio.core.assessors.registry import load_assessor
from memstudio.core.imaging import load_image, pil_to_tensor
from memstudio.core.maps.regions import (
    DEFAULT_CROP_SIZE,
    DEFAULT_OVERLAP,
    DEFAULT_SCALES,
    plan,
    region_map_job,
)

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "photos" / "astronaut.png"


def timed_map(
    image: torch.Tensor, assessor, batch_size: int, device: torch.device
) -> tuple[float, float, np.ndarray, float]:
    """(seconds to the coarse map, seconds to the final map, final map, CPU seconds)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start, cpu = time.perf_counter(), time.process_time()
    coarse = None
    job = region_map_job(image, assessor, batch_size=batch_size)
    while True:
        try:
            step = next(job)
        except StopIteration as stop:
            sync()
            return coarse, time.perf_counter() - start, stop.value, time.process_time() - cpu
        if step.preview is not None and coarse is None:
            coarse = time.perf_counter() - start


class StudioPath:
    """The studio's map: a real engine thread running the dock's command, results on this (GUI) thread."""

    def __init__(self, device: torch.device, threads: int | None = None) -> None:
        from PySide6.QtCore import QCoreApplication

        from memstudio.engine import Engine, Failure

        self.app = QCoreApplication.instance() or QCoreApplication([])
        self.engine = Engine(str(device))
        self.engine.start()
        done: list[object] = []
        handle = self.engine.request(WarmUp(threads))
        handle.done.connect(done.append)
        handle.failed.connect(done.append)
        self._wait(lambda: done)
        if isinstance(done[0], Failure):  # else the model's load would be timed as map time
            raise RuntimeError(f"warm-up failed: {done[0].message}")

    def _wait(self, condition) -> None:
        while not condition():
            self.app.processEvents()
            time.sleep(0.001)

    def timed_map(self, image: torch.Tensor) -> tuple[float, float, np.ndarray, float]:
        from memstudio.core.session.heatmaps import ComputeMap, MapSettings

        settings = MapSettings("regions", "resmem", None, None)
        marks: dict[str, object] = {}
        start, cpu = time.perf_counter(), time.process_time()
        handle = self.engine.submit(ComputeMap(image, settings))
        handle.progress.connect(
            lambda u: marks.setdefault("coarse", time.perf_counter() - start) if u.preview is not None else None
        )
        handle.done.connect(lambda result: marks.update(full=time.perf_counter() - start, result=result))
        handle.failed.connect(lambda failure: marks.update(failed=failure))
        self._wait(lambda: "full" in marks or "failed" in marks)
        if "failed" in marks:
            raise RuntimeError(marks["failed"].message)
        return marks["coarse"], marks["full"], marks["result"].map, time.process_time() - cpu

    def close(self) -> None:
        self.engine.stop()


@dataclass(frozen=True)
class WarmUp:
    """Load ResMem on the engine and warm it up as the CLI path is (kernel selection per batch shape).
    ``threads`` is set here too: torch's thread count is per calling thread for the engine's OpenMP team."""

    threads: int | None

    def run(self, pipeline) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        assessor = pipeline.assessor("resmem")
        with torch.inference_mode():
            for n in (1, 4, 9):
                assessor(torch.rand(n, 3, 256, 256, device=pipeline.device))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    image = pil_to_tensor(load_image(PHOTO).image.resize((512, 512))).to(device)
    grids = plan(512, 512)
    per_scale = ", ".join(
        f"{s:.3g}: {int(round(len(g) ** 0.5))}×{int(round(len(g) ** 0.5))} of {g[0].size} px"
        for s, g in zip(DEFAULT_SCALES, grids, strict=True)
    )
    windows = sum(len(g) for g in grids)
    print(
        f"photo {PHOTO.name} at 512×512; device {device}; torch threads {torch.get_num_threads()}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"grid: scales {per_scale} (overlap ≥ {DEFAULT_OVERLAP:.0%}); {windows} windows, coarse = first "
        f"{len(grids[0])}; windows resampled to {DEFAULT_CROP_SIZE} px, ResMem crops 227"
    )
    start = time.perf_counter()
    assessor = load_assessor("resmem", device)
    print(f"ResMem load {time.perf_counter() - start:.1f} s")
    batch = max(len(g) for g in grids)
    with torch.inference_mode():  # warm-up: first calls per batch shape pay for kernel selection
        for n in sorted({1, *(len(g) for g in grids)}):
            assessor(torch.rand(n, 3, 256, 256, device=device))
    studio = StudioPath(device, args.threads)
    results = {"batched": [], "one at a time": [], "studio": []}
    maps = {}
    try:
        for _ in range(args.repeats):
            for name, size in (("batched", batch), ("one at a time", 1)):
                coarse, full, heat, cpu = timed_map(image, assessor, size, device)
                results[name].append((coarse, full, cpu))
                maps[name] = heat
            coarse, full, heat, cpu = studio.timed_map(image)
            results["studio"].append((coarse, full, cpu))
            maps["studio"] = heat
    finally:
        studio.close()
    diff = float(np.abs(maps["batched"] - maps["one at a time"]).max())
    studio_diff = float(np.abs(maps["batched"] - maps["studio"]).max())
    for name, runs in results.items():
        coarse, full, cpu = (min(r[i] for r in runs) for i in range(3))
        print(
            f"{name:>14}: coarse map {coarse:6.2f} s   full map {full:6.2f} s   CPU {cpu:6.2f} s   "
            f"({full / windows * 1000:.0f} ms/window)"
        )
    best_b = min(r[1] for r in results["batched"])
    best_1 = min(r[1] for r in results["one at a time"])
    coarse_b = min(r[0] for r in results["batched"])
    print(
        f"targets: coarse ≤ 1 s: {coarse_b:.2f} s {'met' if coarse_b <= 1 else 'MISSED'}; "
        f"full ≤ 6 s: {best_b:.2f} s {'met' if best_b <= 6 else 'MISSED'}"
    )
    print(f"batched vs one window at a time: {best_1 / best_b:.2f}× faster; max map difference {diff:.1e}")
    coarse_s = min(r[0] for r in results["studio"])
    full_s = min(r[1] for r in results["studio"])
    print(
        f"studio (engine thread, ComputeMap): coarse ≤ 1 s: {coarse_s:.2f} s {'met' if coarse_s <= 1 else 'MISSED'}; "
        f"full ≤ 6 s: {full_s:.2f} s {'met' if full_s <= 6 else 'MISSED'}; {full_s / best_b:.2f}× the CLI path; "
        f"max map difference from the CLI's {studio_diff:.1e}; load average now {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
