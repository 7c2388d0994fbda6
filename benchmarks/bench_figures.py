"""Scale benchmark of figure export (issue 7): 100 seeds × 5 α at 256 px, streamed vs held in memory.

Each variant runs in its own child process so its peak RSS (``resource.ru_maxrss``) is its own; tracemalloc
adds the peak of Python/NumPy allocations. Variants:

- ``stream-grid``: one 100-row grid PNG written band by band (:func:`stream.tall_grid_png_job`);
- ``stream-strips``: 100 strip PNGs + sidecars, one per seed (:func:`stream.batch_strips_job`);
- ``memory-grid``: the same grid composed whole in memory, then saved (the non-streamed API);
- ``naive``: every render kept as float tensors, then the same in-memory grid (what a first try does).

Seeds are 100 different 256 px photos under the photo editor, edited along a hand-made direction and scored
with the cheap ``brightness`` assessor, so the numbers measure the export path rather than a network.

    .venv/bin/python benchmarks/bench_figures.py [--seeds 100]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
from PIL import Image

VARIANTS = ("stream-grid", "stream-strips", "memory-grid", "naive")


def make_inputs(folder: Path, seeds: int, size: int) -> tuple[list[str], Path]:
    """``seeds`` smooth random photos of ``size`` px and an exposure/saturation direction in edit space."""
    from memstudio.core.directions.base import Direction
    from memstudio.core.generators.photo import PARAMETER_INDEX

    rng = np.random.default_rng(0)
    photos = []
    for i in range(seeds):
        low = rng.random((8, 8, 3))
        img = Image.fromarray(np.round(low * 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.BICUBIC
        )
        path = folder / f"photo{i:03d}.png"
        img.save(path)
        photos.append(str(path))
    vector = torch.zeros(len(PARAMETER_INDEX))
    vector[PARAMETER_INDEX["exposure"]] = 3.0
    vector[PARAMETER_INDEX["saturation"]] = 1.0
    direction = Direction(name="bench", property="brightness", space="edit", vector=vector)
    return photos, direction.save(folder / "bench")


def run_variant(variant: str, folder: Path, seeds: int, size: int) -> dict[str, float]:
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.directions.base import Direction
    from memstudio.core.figures import stream
    from memstudio.core.figures.build import compose_job, figure_job, make_spec
    from memstudio.core.figures.export import save_scene
    from memstudio.core.figures.sources import FigureSources
    from memstudio.core.jobs import run_to_end

    photos = sorted(str(p) for p in folder.glob("photo*.png"))[:seeds]
    direction = Direction.load(folder / "bench.json")
    assessor = load_assessor("brightness", "cpu")
    spec = make_spec(
        "grid",
        directions=[(direction, folder / "bench.json")],
        assessors=[assessor],
        seeds=photos,
        photo_max_side=size,
    )
    sources = FigureSources([direction], [assessor])
    out = folder / variant
    out.mkdir(exist_ok=True)
    rss_before = _reset_peak_rss()
    tracemalloc.start()
    start = time.perf_counter()
    if variant == "stream-grid":
        run_to_end(stream.tall_grid_png_job(spec, sources, out / "grid.png"))
    elif variant == "stream-strips":
        run_to_end(stream.batch_strips_job(spec, sources, out, ("png",)))
    elif variant == "memory-grid":
        run_to_end(figure_job(spec, sources, out / "grid.png"))
    else:
        from memstudio.core.figures.render import origin

        held = []
        for seed in spec.seeds:  # every float render kept, as a hold-everything exporter does
            generator, latent = origin(sources, spec, seed)
            from memstudio.core.directions.base import apply_directions

            batch = torch.cat([apply_directions(latent, [(direction, a)]).values for a in spec.alphas])
            with torch.inference_mode():
                held.append(generator.render(latent.with_values(batch)).clone())
        scene, metadata = run_to_end(compose_job(spec, sources))
        save_scene(scene, out / "grid.png", metadata, spec.output.dpi)
        del held
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    files = sum(1 for p in out.iterdir() if p.is_file())
    peak = _peak_rss_mb()
    return {
        "seconds": seconds,
        "traced_peak_mb": traced_peak / 2**20,
        "max_rss_mb": peak,
        "rss_growth_mb": peak - rss_before,
        "files": files,
    }


def _status_mb(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> float:
    """Reset the kernel's high-water mark (Linux ``clear_refs`` 5) so the peak is this variant's work alone;
    returns the RSS now (models, libraries and inputs already loaded)."""
    with contextlib.suppress(OSError):  # not Linux, or not allowed: the peak then includes earlier work
        Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb() -> float:
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.folder, args.seeds, args.size)))
        return 0
    with tempfile.TemporaryDirectory(prefix="memstudio-bench-figures-") as tmp:
        folder = Path(tmp)
        make_inputs(folder, args.seeds, args.size)
        results = {}
        for variant in VARIANTS:
            cmd = [sys.executable, __file__, "--variant", variant, "--folder", str(folder)]
            cmd += ["--seeds", str(args.seeds), "--size", str(args.size)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                raise SystemExit(f"variant {variant} failed (exit {done.returncode})")
            results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results["naive"]
    print(f"{args.seeds} seeds × 5 α at {args.size} px (photo editor + brightness assessor, 1 torch thread)")
    print(
        f"{'variant':<14} {'time s':>7} {'peak RSS MB':>12} {'RSS growth MB':>14} {'traced MB':>10}"
        f" {'files':>6}  growth vs naive, time vs naive"
    )
    for variant, r in results.items():
        print(
            f"{variant:<14} {r['seconds']:>7.1f} {r['max_rss_mb']:>12.0f} {r['rss_growth_mb']:>14.1f} "
            f"{r['traced_peak_mb']:>10.1f} {r['files']:>6}  "
            f"×{r['rss_growth_mb'] / max(base['rss_growth_mb'], 1e-9):.3f}, "
            f"×{r['seconds'] / base['seconds']:.2f}"
        )
    print(
        "RSS growth = peak RSS during the export minus RSS before it (libraries and inputs already loaded);"
    )
    print("traced = tracemalloc peak (Python/NumPy-owned memory only; torch tensors are not traced).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
