"""NIMA throughput on the CPU (batch 16, 224 px): memstudio's assessor vs a naive eval of the same network.

idealo's weights cannot be downloaded here, so the network carries seeded random weights written in idealo's
Keras HDF5 layout and imported through the real loader (speed does not depend on the values). The baseline is
the straightforward PyTorch port: the unfused network (separate batch norms), contiguous NCHW tensors, under
``torch.no_grad``. memstudio's assessor folds the batch norms into the convolutions and runs channels-last
under inference mode. Both are timed alternately on the same batch and their scores compared.

The machine is shared: the load average is printed with the numbers, and wall-clock throughput should be read
with it. "img/s from CPU time" divides the batch by the process's CPU seconds per thread: an estimate of the
throughput with the cores to itself (contention also costs cache, so it is an estimate, not a measurement).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import torch

    sys.path.insert(0, str(REPO / "tests"))
    from keras_files import nima_layers, write_keras_weights

    from memstudio.core.assessors import nima

    with tempfile.TemporaryDirectory() as tmp:
        path = write_keras_weights(Path(tmp) / "weights_mobilenet_aesthetic_0.07.hdf5", nima_layers(seed=0))
        state, config = nima.read_source(path)
    assessor = nima.build(state, config, None)
    naive = nima.NIMANet()
    naive.load_state_dict(state)
    naive.eval()

    images = torch.rand(args.batch_size, 3, 224, 224, generator=torch.Generator().manual_seed(0))

    def baseline() -> torch.Tensor:
        with torch.no_grad():
            return naive(images * 2.0 - 1.0) @ torch.arange(1.0, 11.0)

    def memstudio() -> torch.Tensor:
        return assessor.score_prepared(assessor.prepare(images))

    baseline(), memstudio()  # warm-up: allocator, oneDNN primitive caches
    runs: dict[str, list[float]] = {"naive (unfused BN, NCHW, no_grad)": [], "memstudio (BN folded, channels-last)": []}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    scores = {}
    for _ in range(args.repeats):  # alternated, so the shared machine's drifts hit both alike
        for name, fn in zip(runs, (baseline, memstudio), strict=True):
            start, start_cpu = time.perf_counter(), time.process_time()
            scores[name] = fn()
            runs[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"NIMA (MobileNet-v1, 224 px) throughput at batch {args.batch_size}, {torch.get_num_threads()} torch threads, "
        f"median of {args.repeats} alternated runs; 1-min load average {load:.2f} on {os.cpu_count()} cores "
        "(shared machine: other processes slow both alike):"
    )
    times = {name: statistics.median(ts) for name, ts in runs.items()}
    threads = torch.get_num_threads()
    for name, t in times.items():
        # CPU seconds spread over the threads: what the batch would take with the cores to itself.
        idle = statistics.median(cpu[name]) / threads
        print(
            f"  {name:<40} {t * 1000:8.1f} ms/batch  {args.batch_size / t:7.1f} img/s wall; "
            f"{args.batch_size / idle:7.1f} img/s from CPU time ({threads} threads busy)"
        )
    paired = sorted(b / o for b, o in zip(*runs.values(), strict=True))
    diff = float((scores[next(iter(runs))] - list(scores.values())[1]).abs().max())
    best = args.batch_size / min(runs["memstudio (BN folded, channels-last)"])
    print(
        f"  speed-up {statistics.median(paired):.2f}× (median per-round ratio, range "
        f"{paired[0]:.2f}–{paired[-1]:.2f}); best memstudio round {best:.1f} img/s wall (target ≥ 20 img/s); "
        f"max |Δ mean score| {diff:.1e}"
    )


if __name__ == "__main__":
    main()
