"""GANalyze training speed with ResMem on the photo editor: memstudio's loop vs a straightforward one, same run.

The baseline is the loop one writes from paper 000's Eq. 1 without thinking about speed: for every sample of
the batch on its own, render the photo, score it (the target), render it with ``α·θ`` added, score it with
gradients, back-propagate, then one Adam step. memstudio's :func:`train_ganalyze` renders and scores the whole
batch at once (ResMem folded batch norms, channels-last, gradients only for θ). Both use the real ResMem
weights on the built-in sample photos, batch 4, float32, on the CPU; α_max is fixed so neither spends time on
the spread estimate. Reported: steps/s (wall), CPU seconds per step (all threads: the machine may be shared,
so wall time alone says little), the ratio, and the load average while it ran.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

REPO_PHOTO_SIZE = 256


def timed(step: Callable[[], None], steps: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) per step over ``steps`` steps after one warm-up step."""
    step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per loop (after one warm-up)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    from memstudio.core.assessors.resmem import load_resmem
    from memstudio.core.directions.ganalyze import GanalyzeSettings, train_ganalyze
    from memstudio.core.directions.sampling import load_photo_batch
    from memstudio.core.generators.base import Latent
    from memstudio.core.generators.photo import PhotoEditor
    from memstudio.core.samples import sample_photos

    if args.threads:
        torch.set_num_threads(args.threads)
    n = args.batch_size
    assessor = load_resmem("cpu")
    photos = load_photo_batch([str(p) for p in sample_photos()], REPO_PHOTO_SIZE)
    editor = PhotoEditor(photos)
    alpha_max = 0.1

    # Baseline: one sample at a time.
    theta = torch.nn.Parameter(1e-3 * torch.randn(editor.num_params, generator=torch.Generator().manual_seed(3)))
    optimizer = torch.optim.Adam([theta], lr=0.05)
    rng = torch.Generator().manual_seed(0)

    def baseline_step() -> None:
        index = torch.randperm(photos.shape[0], generator=rng)[:n]
        alphas = (torch.rand(n, generator=rng) * 2 - 1) * alpha_max
        for i, alpha in zip(index.tolist(), alphas.tolist(), strict=True):
            one = PhotoEditor(photos[i : i + 1])
            zero = torch.zeros(1, editor.num_params)
            with torch.no_grad():
                target = assessor(one.render(Latent("edit", zero))) + alpha
            score = assessor(one.render(Latent("edit", zero + alpha * theta)))
            (F.mse_loss(score, target, reduction="sum") / n).backward()
        optimizer.step()
        optimizer.zero_grad()

    # memstudio: the training job itself, advanced one step at a time.
    settings = GanalyzeSettings(
        space="edit", steps=10**6, batch_size=n, alpha_max=alpha_max, checkpoint_every=0, preview_every=0
    )
    job = train_ganalyze(editor, assessor, settings)

    def memstudio_step() -> None:
        next(job)

    with torch.inference_mode(False), torch.enable_grad():
        base_wall, base_cpu = timed(baseline_step, args.steps)
        ours_wall, ours_cpu = timed(memstudio_step, args.steps)
    job.close()
    load = os.getloadavg()[0]
    print(f"GANalyze, ResMem, photo editor {REPO_PHOTO_SIZE} px, batch {n}, CPU, {torch.get_num_threads()} threads")
    print(f"  baseline (one sample at a time): {1 / base_wall:.3f} steps/s, {base_cpu:.1f} CPU s/step")
    print(f"  memstudio (batched):             {1 / ours_wall:.3f} steps/s, {ours_cpu:.1f} CPU s/step")
    print(f"  speed-up: {base_wall / ours_wall:.2f}x wall, {base_cpu / ours_cpu:.2f}x CPU time")
    print(f"  load average during the run: {load:.1f} on {os.cpu_count()} CPUs (targets: 3x, 0.5 steps/s)")


if __name__ == "__main__":
    main()
