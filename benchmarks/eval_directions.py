"""Evaluation of the direction methods (issue 4 targets), printed for the note.

(a) A test-sized StyleGAN2 (seeded random weights) with the brightness assessor: GANalyze β on held-out z
    (target: within 0.1 of 1.0) and the hyperplane's held-out accuracy in W (target ≥ 0.9).
(b) Photo editing with the real ResMem over the built-in photos: GANalyze trained on some photos, β measured
    on the held-out others (paper 000: β = 0.68 for MemNet on BigGAN).
(c) Training throughput (samples/s) of the batched GANalyze loop against the unbatched baseline (one
    sample per forward, gradients accumulated — the same optimisation), measured in the same run.

Each part's default fits ~3 minutes on 2 CPU cores. Run longer with e.g.
``--steps-a 1500 --samples-a 10000 --steps-b 600 --crops 6 --threads 2``. ``--parts a,c`` selects parts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memstudio.core.assessors.registry import load_assessor  # noqa: E402
from memstudio.core.directions.evidence import PAPER_TEST_ALPHAS, evaluate_direction  # noqa: E402
from memstudio.core.directions.ganalyze import GanalyzeSettings, train_ganalyze  # noqa: E402
from memstudio.core.directions.hyperplane import HyperplaneSettings, fit_hyperplane  # noqa: E402
from memstudio.core.directions.sampling import load_photo_batch  # noqa: E402
from memstudio.core.generators.photo import PARAMETERS, PhotoEditor  # noqa: E402
from memstudio.core.generators.stylegan2 import StyleGAN2Generator  # noqa: E402
from memstudio.core.jobs import run_to_end  # noqa: E402
from memstudio.core.samples import sample_photos  # noqa: E402


def test_sized_stylegan2(seed: int = 0, resolution: int = 16) -> StyleGAN2Generator:
    """The real StyleGAN2 architecture at toy size, seeded random weights (no weights can be downloaded)."""
    torch.manual_seed(seed)
    generator = StyleGAN2Generator(
        z_dim=32,
        c_dim=0,
        w_dim=32,
        img_resolution=resolution,
        mapping_kwargs={"num_layers": 2},
        synthesis_kwargs={"channel_base": 16 * resolution, "channel_max": 16},
    )
    return generator.eval().requires_grad_(False)


def line(evidence: dict) -> str:
    low, high = evidence["ci95"]
    means = " ".join(f"{m:.4f}" for m in evidence["mean_score"])
    return (
        f"β = {evidence['beta']:.3f} [95% CI {low:.3f}, {high:.3f}], R² = {evidence['r2']:.3f}, "
        f"n = {evidence['num_samples']}; mean score per α {evidence['alphas']}: {means}"
    )


def part_a(args: argparse.Namespace) -> None:
    print("\n(a) test-sized StyleGAN2 (16 px, seeded random weights) + brightness assessor")
    generator = test_sized_stylegan2()
    brightness = load_assessor("brightness")
    for space in ("z", "w"):
        t0 = time.perf_counter()
        settings = GanalyzeSettings(space=space, steps=args.steps_a, batch_size=8, lr=0.1, checkpoint_every=0)
        direction = run_to_end(train_ganalyze(generator, brightness, settings))
        train_s = time.perf_counter() - t0
        evidence = run_to_end(
            evaluate_direction(
                generator, brightness, direction, PAPER_TEST_ALPHAS, args.eval_a, 16, factors={}
            )
        )
        print(
            f"  GANalyze, θ in {space}: {args.steps_a} steps × 8 in {train_s:.0f} s, "
            f"α ~ U(±{direction.alpha_range[1]:.3f}) (default: 4 σ of the brightness spread)"
        )
        print(f"    held-out z: {line(evidence)}")
        print(f"    |β − 1| = {abs(evidence['beta'] - 1):.3f} (target ≤ 0.1)")
    for split, classifier in (
        ("mean", "logistic"),
        ("mean", "svm"),
        ("median", "logistic"),
        ("fraction", "logistic"),
    ):
        t0 = time.perf_counter()
        hp = HyperplaneSettings(
            space="w",
            num_samples=args.samples_a,
            batch_size=250,
            split=split,
            fraction=0.1,
            classifier=classifier,
        )
        m = run_to_end(fit_hyperplane(generator, brightness, hp)).metrics
        rule = "top/bottom 10 %" if split == "fraction" else f"{split} split"
        print(
            f"  hyperplane in W ({classifier}, {rule}, N = {args.samples_a}): held-out accuracy "
            f"{m['test_accuracy']:.3f} on {m['num_test']} (train {m['train_accuracy']:.3f}), "
            f"corr(score, distance) {m['score_distance_correlation']:.3f}, {time.perf_counter() - t0:.0f} s"
        )


def photo_crops(paths: list[Path], size: int, crops: int) -> torch.Tensor:
    """More starting images from few photos: the centre square plus ``crops − 1`` zoomed sub-squares."""
    full = load_photo_batch(paths, size * 2)
    out = [torch.nn.functional.interpolate(full, size=(size, size), mode="bilinear", antialias=True)]
    offsets = [(0, 0), (1, 1), (0, 1), (1, 0), (0.5, 0.5)]
    for i in range(crops - 1):
        oy, ox = offsets[i % len(offsets)]
        side = int(size * 2 * 0.7)
        top, left = int(oy * (size * 2 - side)), int(ox * (size * 2 - side))
        crop = full[..., top : top + side, left : left + side]
        out.append(torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", antialias=True))
    return torch.cat(out).clamp(0, 1)


def part_b(args: argparse.Namespace) -> None:
    photos = sample_photos()
    print(f"\n(b) photo editing + ResMem over the {len(photos)} built-in photos")
    if len(photos) < 3:
        print("  skipped: the built-in photos are missing")
        return
    resmem = load_assessor("resmem")
    order = torch.randperm(len(photos), generator=torch.Generator().manual_seed(0)).tolist()
    heldout_paths = [photos[i] for i in order[: len(photos) // 3]]
    train_paths = [photos[i] for i in order[len(photos) // 3 :]]
    print(f"  training photos: {[p.name for p in train_paths]}; held out: {[p.name for p in heldout_paths]}")
    train = PhotoEditor(photo_crops(train_paths, args.photo_size, args.crops))
    heldout = PhotoEditor(photo_crops(heldout_paths, args.photo_size, args.crops))
    t0 = time.perf_counter()
    settings = GanalyzeSettings(
        steps=args.steps_b, batch_size=args.batch_b, lr=args.lr_b, edit_std=0.3, checkpoint_every=0, seed=0
    )
    direction = run_to_end(train_ganalyze(train, resmem, settings))
    print(
        f"  GANalyze over edits: {args.steps_b} steps × {args.batch_b} on {train.photos.shape[0]} crops in "
        f"{time.perf_counter() - t0:.0f} s, α ~ U(±{direction.alpha_range[1]:.3f}) (ResMem spread)"
    )
    top = sorted(zip(PARAMETERS, direction.vector.tolist(), strict=True), key=lambda pv: -abs(pv[1]))[:4]
    print("  largest θ components: " + ", ".join(f"{p.name} {v:+.2f}" for p, v in top))
    evidence = run_to_end(
        evaluate_direction(heldout, resmem, direction, PAPER_TEST_ALPHAS, batch_size=args.batch_b)
    )
    print(f"  held-out ({heldout.photos.shape[0]} crops of {len(heldout_paths)} photos): {line(evidence)}")
    for name, factor in evidence["factors"].items():
        print(f"    factor {name}: β = {factor['beta']:+.3f}, per α {[round(m, 3) for m in factor['mean']]}")
    print(f"  paper 000 (MemNet, BigGAN): β = 0.68; here β = {evidence['beta']:.3f}")


def part_c(args: argparse.Namespace) -> None:
    print("\n(c) GANalyze training throughput, batched vs unbatched (same run, same settings)")
    generator = test_sized_stylegan2()
    brightness = load_assessor("brightness")
    results = {}
    for label, micro in (("batched (batch 16, one forward)", None), ("unbatched (1 sample per forward)", 1)):
        settings = GanalyzeSettings(
            space="z", steps=args.steps_c, batch_size=16, micro_batch=micro, alpha_max=0.2, checkpoint_every=0
        )
        run_to_end(train_ganalyze(generator, brightness, GanalyzeSettings(space="z", steps=2, alpha_max=0.2)))
        t0 = time.perf_counter()
        run_to_end(train_ganalyze(generator, brightness, settings))
        elapsed = time.perf_counter() - t0
        results[label] = args.steps_c * 16 / elapsed
        print(f"  {label}: {results[label]:.1f} samples/s")
    batched, unbatched = results.values()
    print(f"  speed-up: {batched / unbatched:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="a,b,c")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--steps-a", type=int, default=400)
    parser.add_argument("--eval-a", type=int, default=128, help="held-out z for the evidence")
    parser.add_argument("--samples-a", type=int, default=3000, help="latents for the hyperplane")
    parser.add_argument("--steps-b", type=int, default=8, help="ResMem costs seconds per image on a CPU")
    parser.add_argument("--batch-b", type=int, default=2)
    parser.add_argument("--lr-b", type=float, default=0.2)
    parser.add_argument("--crops", type=int, default=1, help="starting crops per photo in (b)")
    parser.add_argument("--photo-size", type=int, default=256)
    parser.add_argument("--steps-c", type=int, default=20)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    parts = {"a": part_a, "b": part_b, "c": part_c}
    for key in args.parts.split(","):
        t0 = time.perf_counter()
        parts[key.strip()](args)
        print(f"  [part {key} took {time.perf_counter() - t0:.0f} s]")


if __name__ == "__main__":
    main()
