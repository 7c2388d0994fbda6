"""How well does ``memstudio score`` scale from 1 to 2 processes under torchrun on this CPU?

Each configuration is launched exactly as a user would (``python -m torch.distributed.run --standalone
--nproc-per-node P -m memstudio score … -o out.jsonl``), every rank with one thread (``OMP_NUM_THREADS=1``),
on copies of the built-in photos. Start-up (Python, torch, the weights, the rendezvous) is cancelled by
running each configuration on a small and a large set: throughput = (large − small) / (t_large − t_small).
Scaling efficiency = throughput(P) / (P · throughput(1)).

The two cores of the test machine are shared with other jobs, so a second process may find no free core:
the efficiency printed is what this machine gave at that moment, not a property of the code. The outputs
of 1 and P processes are also compared (they must be byte-identical).

Run: ``.venv/bin/python benchmarks/bench_distributed.py [--assessor resmem] [--processes 2] [--device cuda]``
(on a machine with several GPUs, ``--device cuda --processes N`` compares 1 GPU with N).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "assets" / "photos"


def _default_assessor() -> str:
    from memstudio.core.assessors.registry import ASSESSORS

    return "resmem" if ASSESSORS["resmem"].available()[0] else "entropy"


def _image_set(folder: Path, count: int) -> Path:
    """``count`` photos (the built-in ones, copied round-robin under new names)."""
    sources = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    folder.mkdir(parents=True)
    for i in range(count):
        source = sources[i % len(sources)]
        shutil.copy(source, folder / f"{i:04d}{source.suffix}")
    return folder


def _launch(processes: int, images: Path, output: Path, assessor: str, device: str, batch: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS="1", MEMSTUDIO_DEVICE=device, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)]
    command += ["-m", "memstudio", "score", "-a", assessor, "--batch-size", str(batch), str(images)]
    command += ["-o", str(output)]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assessor", help="default: resmem if installed, else entropy")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--small", type=int, default=4, help="images of the start-up run")
    parser.add_argument("--large", type=int, default=28, help="images of the measured run")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    assessor = args.assessor or _default_assessor()

    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        root = Path(tmp)
        small = _image_set(root / "small", args.small)
        large = _image_set(root / "large", args.large)
        rate = {}
        for processes in (1, args.processes):
            t_small = _launch(processes, small, root / f"small-{processes}.jsonl", assessor, args.device, args.batch)
            t_large = _launch(processes, large, root / f"large-{processes}.jsonl", assessor, args.device, args.batch)
            rate[processes] = (args.large - args.small) / (t_large - t_small)
            print(
                f"{processes} process(es), {assessor}, 1 thread each: {args.small} images {t_small:.1f} s, "
                f"{args.large} images {t_large:.1f} s -> {rate[processes]:.2f} images/s after start-up",
                flush=True,
            )
        same = (root / "large-1.jsonl").read_bytes() == (root / f"large-{args.processes}.jsonl").read_bytes()
    efficiency = rate[args.processes] / (args.processes * rate[1])
    print(
        f"speed-up {rate[args.processes] / rate[1]:.2f}x on {args.processes} processes, "
        f"scaling efficiency {100 * efficiency:.0f} %; outputs identical: {same}"
    )
    print(
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores (shared machine: other jobs take cores too)"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
