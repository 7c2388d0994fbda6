"""ResMem scoring throughput: memstudio's assessor vs the ``resmem`` package used one image at a time.

The baseline follows the package's README: ``Image.open(...).convert('RGB')``, ``transformer(img)``,
``model(x.view(-1, 3, 227, 227))`` for each image. memstudio scores the same 32 images through
``core.scoring.score_paths`` (decoding on a thread, Pillow-exact preprocessing, batched, inference mode).
Also reports cold-start load times: the package's ``torch.load`` of ``model.pt`` vs our safetensors cache.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _cache import use_private_cache

REPO = Path(__file__).resolve().parents[1]


def make_images(folder: Path, count: int) -> list[Path]:
    """``count`` distinct photos: random crops of the built-in samples, saved as JPEG/PNG."""
    from PIL import Image

    samples = sorted(p for p in (REPO / "assets" / "photos").iterdir() if p.suffix != ".md")
    rng = random.Random(0)
    paths = []
    for i in range(count):
        with Image.open(samples[i % len(samples)]) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = rng.uniform(0.6, 1.0)
            cw, ch = int(w * s), int(h * s)
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            path = folder / f"img{i:02d}.{'jpg' if i % 2 else 'png'}"
            im.crop((x, y, x + cw, y + ch)).save(path)
            paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    use_private_cache()

    import torch
    from PIL import Image

    warnings.simplefilter("ignore")
    import resmem

    from memstudio.core.assessors import resmem as ours_module
    from memstudio.core.scoring import score_paths

    start = time.perf_counter()
    model = resmem.ResMem(pretrained=True)
    model.eval()
    package_load = time.perf_counter() - start

    start = time.perf_counter()
    first = ours_module._load(torch.device("cpu"))  # converts to safetensors on first use
    first_load = time.perf_counter() - start
    start = time.perf_counter()
    assessor = ours_module._load(torch.device("cpu"))  # loads the safetensors copy
    cached_load = time.perf_counter() - start
    del first

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.images)

        def baseline() -> list[float]:
            out = []
            for path in paths:
                img = Image.open(path).convert("RGB")
                out.append(float(model(resmem.transformer(img).view(-1, 3, 227, 227))))
            return out

        def memstudio() -> list[float]:
            results = score_paths(paths, {"resmem": assessor}, batch_size=args.batch_size)
            return [r.values["resmem"] for r in results]

        baseline(), memstudio()  # warm-up: allocator, thread pools
        runs: dict[str, list[float]] = {"resmem package, one image at a time": [], "memstudio": []}
        scores = {}
        for _ in range(args.repeats):  # alternated, so drifts of the machine hit both alike
            for name, fn in zip(runs, (baseline, memstudio), strict=True):
                start = time.perf_counter()
                scores[name] = fn()
                runs[name].append(time.perf_counter() - start)
        times = {name: statistics.median(ts) for name, ts in runs.items()}
    base_t, ours_t = times.values()
    # Each round times both back to back, so the per-round ratio cancels the VM's slow drifts (±15 %).
    paired = sorted(b / o for b, o in zip(*runs.values(), strict=True))
    diff = max(abs(a - b) for a, b in zip(*scores.values(), strict=True))
    print(
        f"ResMem throughput on {args.images} images ({torch.get_num_threads()} torch threads, "
        f"median of {args.repeats} alternated runs):"
    )
    for name, t in times.items():
        print(f"  {name:<40} {t:7.2f} s  {args.images / t:6.2f} img/s")
    print(
        f"  speed-up memstudio / package: {statistics.median(paired):.2f}× median of the per-round ratios "
        f"(range {paired[0]:.2f}–{paired[-1]:.2f}; ratio of medians {base_t / ours_t:.2f}×; target ≥ 1.5×); "
        f"max |Δscore| {diff:.1e}"
    )
    print(
        f"cold load: package torch.load {package_load:.2f} s; memstudio first use (convert to safetensors) "
        f"{first_load:.2f} s; memstudio from the safetensors cache {cached_load:.2f} s "
        f"→ {package_load / cached_load:.2f}× faster than the package"
    )


if __name__ == "__main__":
    main()
