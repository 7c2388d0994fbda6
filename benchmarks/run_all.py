"""``make bench``: run every benchmark and evaluation script with its default (short) settings."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "bench_resmem.py",
    "bench_nima.py",
    "bench_valence.py",
    "bench_studio.py",
    "studio_paths.py",
    "bench_stylegan.py",
    "bench_heatmap.py",
    "bench_figures.py",
    "bench_memgame.py",
    "bench_distributed.py",
    "eval_directions.py",
    "eval_inversion.py",
]


def main() -> int:
    failed = []
    scripts = [HERE / name for name in ORDER if (HERE / name).is_file()]
    # Every other script too, but not helper modules (``_cache.py``) or this one.
    scripts += sorted(
        p for p in HERE.glob("*.py") if p.name not in ORDER and p.name != Path(__file__).name and p.name[0] != "_"
    )
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"--- {script.name}: exit {code}, {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
