"""How well does face inversion recover known W+ latents? PSNR and speed against a W-only, MSE baseline.

A test-sized StyleGAN2 (real architecture, seeded random weights, noise strength 0.05 so that two noise
realisations of one latent differ at ~29 dB, like the hair and skin detail of an FFHQ model) renders targets
from style-mixed W+ latents (coarse layers from one seed, fine layers from another: points outside W). Each
target is inverted by memstudio's default (W → W+, multi-scale pixel loss, projector schedule and noise
optimisation) and by the baseline (W only, plain MSE, same schedule and steps); the script prints PSNR of the
reconstructions (with their optimised noise) and steps per second measured side by side in this run.

    .venv/bin/python benchmarks/eval_inversion.py            # ~2–3 min on 2 CPU cores
    .venv/bin/python benchmarks/eval_inversion.py --resolution 1024 --steps 100 --device cuda --targets 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from memstudio.core.errors import ModelUnavailableError
from memstudio.core.faces.invert import InversionSettings, InversionState, invert, psnr, render_latent
from memstudio.core.faces.perceptual import make_loss
from memstudio.core.generators.base import Latent
from memstudio.core.generators.stylegan2 import StyleGAN2Generator
from memstudio.core.jobs import run_to_end

NOISE_STRENGTH = 0.05
#: Scales the random ToRGB weights so that ~1 % of the pixels clip (the raw init saturates a third).
TORGB_SCALE = 0.3


def test_generator(resolution: int, seed: int, device: str) -> StyleGAN2Generator:
    """StyleGAN2 with seeded random weights: tiny channels at test sizes, the FFHQ config at 1024."""
    torch.manual_seed(seed)
    if resolution >= 256:
        g = StyleGAN2Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=resolution)
    else:
        g = StyleGAN2Generator(
            z_dim=32,
            c_dim=0,
            w_dim=32,
            img_resolution=resolution,
            synthesis_kwargs=dict(channel_base=16 * resolution, channel_max=32),
            mapping_kwargs=dict(num_layers=4),
        )
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(NOISE_STRENGTH)
            if "torgb.weight" in name:
                p.mul_(TORGB_SCALE)
    return g.eval().to(device)


def mixed_target(g: StyleGAN2Generator, index: int) -> torch.Tensor:
    """A known W+ latent: layers below a crossover from seed 2i+1, the rest from seed 2i+2."""
    a, b = g.sample(2 * index + 1), g.sample(2 * index + 2)
    cut = 1 + index % (g.num_ws - 1)
    ws = torch.cat([a.values[:, :cut], b.values[:, cut:]], dim=1)
    with torch.no_grad():
        return g.render(Latent("w+", ws))


def run_method(g, target, settings, loss_name) -> dict[str, float]:
    state = InversionState()
    start = time.perf_counter()
    latent = run_to_end(invert(g, target, settings, loss=make_loss(loss_name), state=state))
    if target.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        recon = render_latent(g, latent)
    return {"psnr": psnr(recon, target), "steps_per_s": settings.num_steps / seconds, "seconds": seconds}


def loss_speed(g: StyleGAN2Generator, target: torch.Tensor, steps: int) -> dict[str, float]:
    """Steps per second of W+ inversion with each reconstruction loss (speed only, not quality).

    LPIPS runs on seeded random weights written in the public file formats (the real ones cannot be
    downloaded here); its cost does not depend on the weight values.
    """
    import tempfile
    from pathlib import Path

    from torchvision.models.vgg import cfgs, make_layers

    with tempfile.TemporaryDirectory() as tmp:
        vgg_path, lin_path = Path(tmp) / "vgg16-397923af.pth", Path(tmp) / "vgg.pth"
        torch.manual_seed(0)
        features = make_layers(cfgs["D"])
        torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, vgg_path)
        torch.save(
            {
                f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1)
                for i, c in enumerate((64, 128, 256, 512, 512))
            },
            lin_path,
        )
        losses = {
            "mse": make_loss("mse"),
            "pixel (multi-scale)": make_loss("pixel"),
            "lpips (VGG16)": make_loss("lpips", vgg_path, lin_path, device=target.device),
        }
        try:
            losses["resmem trunk + pixel"] = make_loss("resmem", device=target.device)
        except ModelUnavailableError as exc:  # e.g. a GPU machine without the resmem package
            print(f"resmem trunk loss skipped: {exc}")
    speeds = {}
    settings = InversionSettings(num_steps=steps, w_avg_samples=500)
    for name, loss in losses.items():
        run_to_end(invert(g, target, InversionSettings(num_steps=2, w_avg_samples=500), loss=loss))  # warm-up
        start = time.perf_counter()
        run_to_end(invert(g, target, settings, loss=loss))
        speeds[name] = steps / (time.perf_counter() - start)
    return speeds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--targets", type=int, default=3, help="style-mixed targets (at least 1)")
    parser.add_argument("--w-first", type=float, default=InversionSettings.w_first)
    parser.add_argument("--w-avg-samples", type=int, default=2000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument(
        "--loss-steps", type=int, default=10, help="steps per loss in the speed table (0: skip)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.targets < 1:
        parser.error("--targets must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    g = test_generator(args.resolution, seed=0, device=args.device)
    common = dict(num_steps=args.steps, w_avg_samples=args.w_avg_samples)
    methods = {
        "baseline (W, MSE)": (InversionSettings(space="w", **common), "mse"),
        "memstudio (W→W+, multi-scale)": (
            InversionSettings(space="w+", w_first=args.w_first, **common),
            "pixel",
        ),
        "W+ direct, multi-scale": (InversionSettings(space="w+", w_first=0.0, **common), "pixel"),
    }
    # Warm-up: the first optimiser construction imports torch._dynamo (seconds), which no method should pay.
    run_to_end(invert(g, mixed_target(g, 0), InversionSettings(num_steps=2, w_avg_samples=100)))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in methods}
    for i in range(args.targets):
        target = mixed_target(g, i)
        for name, (settings, loss_name) in methods.items():
            results[name].append(run_method(g, target, settings, loss_name))

    summary = {}
    for name, runs in results.items():
        summary[name] = {
            "psnr_mean": statistics.fmean(r["psnr"] for r in runs),
            "psnr_min": min(r["psnr"] for r in runs),
            "steps_per_s": statistics.fmean(r["steps_per_s"] for r in runs),
        }
    base = summary["baseline (W, MSE)"]
    speeds = loss_speed(g, mixed_target(g, 0), args.loss_steps) if args.loss_steps > 0 else {}
    if args.json:
        print(
            json.dumps(
                {"args": vars(args), "summary": summary, "runs": results, "loss_speed": speeds}, indent=2
            )
        )
        return 0
    print(
        f"StyleGAN2 {args.resolution}px (num_ws {g.num_ws}), {args.targets} style-mixed W+ targets, "
        f"{args.steps} steps, device {args.device}, {torch.get_num_threads()} CPU threads"
    )
    header = ("PSNR mean", "PSNR min", "ΔPSNR", "steps/s", "speed ratio")
    print(f"{'method':32s} {header[0]:>10s} {header[1]:>9s} {header[2]:>7s} {header[3]:>8s} {header[4]:>11s}")
    for name, s in summary.items():
        gain = s["psnr_mean"] - base["psnr_mean"]
        ratio = s["steps_per_s"] / base["steps_per_s"]
        print(
            f"{name:32s} {s['psnr_mean']:10.2f} {s['psnr_min']:9.2f} {gain:+7.2f} "
            f"{s['steps_per_s']:8.1f} {ratio:11.2f}"
        )
    if speeds:
        print(f"\nW+ steps/s by reconstruction loss ({args.loss_steps} steps each; ratio against mse):")
        for name, speed in speeds.items():
            print(f"  {name:24s} {speed:8.2f} steps/s   {speed / speeds['mse']:6.3f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
