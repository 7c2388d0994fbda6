"""The GPU paths: correct against the CPU and the official references, then speed and memory, in one run.

Needs a CUDA device (CI has none). Five parts, each printing its own table:

1. StyleGAN references on CUDA (``--reference`` = ``shared/formats/reference``): our fp32 path against the
   official fp32 images, and our fp16 path (top 4 resolutions, as the official code) against the official
   fp16-path image and against fp32.
2. 1024-px generators with the public channel counts (seeded random weights: only timings and the CPU ↔ GPU
   agreement matter here): CUDA against the CPU, fp32 with TF32 off and on, fp16; renders per second at
   batch 1 (eager, and as the studio renders: a replayed CUDA graph) and batch 8; peak GPU memory.
3. ResMem on the GPU: images per second at batch 1/16/64 in fp32, TF32, bf16 and fp16 autocast, and how far
   each moves the scores from fp32 (real weights when the ``resmem`` package is installed, else the same
   architecture with seeded random weights, which times the same but says little about score error).
4. The studio frame on the GPU: a 1024-px StyleGAN2 render plus its ResMem score, as the engine does it.
5. GANalyze training at 1024 px with ResMem: steps per second and memory.

    python benchmarks/bench_gpu.py --reference ../shared/formats/reference
    python benchmarks/bench_gpu.py --only resmem --device cpu   # part 3's score errors, real weights, no GPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_stylegan import random_weights

from memstudio.core.assessors.resmem import ResMemAssessor, ResMemNet, preprocess
from memstudio.core.device import tf32
from memstudio.core.directions.ganalyze import GanalyzeSettings, train_ganalyze
from memstudio.core.errors import ModelUnavailableError
from memstudio.core.generators import graphs
from memstudio.core.generators.base import Latent
from memstudio.core.generators.stylegan2 import StyleGAN2Generator
from memstudio.core.generators.stylegan3 import StyleGAN3Generator
from memstudio.core.imaging import load_image, pil_to_tensor
from memstudio.core.jobs import run_to_end

REPO = Path(__file__).resolve().parents[1]
RESULTS: dict[str, object] = {}


def per_second(fn: Callable[[], object], calls: int, device: torch.device, blocks: int = 3) -> float:
    """Calls per second: median of ``blocks`` timed blocks after three warm-up calls."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(3):
        fn()
    sync()
    rates = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        rates.append(calls / (time.perf_counter() - start))
    return statistics.median(rates)


def peak_mib(fn: Callable[[], object], device: torch.device) -> float:
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float().cpu() - b.float().cpu()).abs().max())


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm())


# --- 1. references --------------------------------------------------------------------------------------
def check_references(folder: Path, device: torch.device) -> None:
    print(f"\n1. Official StyleGAN references on {torch.cuda.get_device_name(device)} (max |Δ| on [-1, 1] images)")
    for name, cls in (("sg2ada-64-uncond", StyleGAN2Generator), ("sg3-t-64", StyleGAN3Generator)):
        if not (folder / f"{name}.G_ema.npz").is_file():
            print(f"  {name}: not in {folder}, skipped")
            continue
        cfg = json.loads((folder / f"{name}.init_kwargs.json").read_text())
        g = cls.from_config(cfg).eval()
        g.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(folder / f"{name}.G_ema.npz").items()})
        g = g.to(device)
        out = dict(np.load(folder / f"{name}.outputs.npz"))
        row: dict[str, float] = {}
        with torch.no_grad(), tf32(False):
            g.force_fp32 = True
            ws = torch.from_numpy(out["ws_psi0.7"]).to(device)
            row["fp32 vs official fp32"] = max(
                max_abs(g.synthesis_raw(ws[i : i + 1], "const"), torch.from_numpy(out["img_psi0.7"][i : i + 1]))
                for i in range(len(ws))
            )
            g.force_fp32 = False
            fp16 = g.synthesis_raw(ws, "const")
            row["fp16 path vs official fp32"] = max_abs(fp16, torch.from_numpy(out["img_psi0.7"]))
            if "img_G_psi0.7_fp16path" in out:
                row["fp16 path vs official fp16 path"] = max_abs(fp16, torch.from_numpy(out["img_G_psi0.7_fp16path"]))
        for label, value in row.items():
            print(f"  {name:18s} {label:34s} {value:9.2e}")
        RESULTS[f"reference {name}"] = row


def sg2_config_f() -> StyleGAN2Generator:
    """StyleGAN2 1024 px with the FFHQ config-F channels and fp16 in the top 4 resolutions, as NVIDIA's."""
    synthesis = {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256}
    return StyleGAN2Generator(512, 0, 512, 1024, 3, {"num_layers": 8}, synthesis)


# --- 2. 1024-px generators ------------------------------------------------------------------------------
def generators_1024(device: torch.device, renders: int) -> None:
    print(f"\n2. 1024-px generators (public channel counts, seeded random weights), {renders} renders per block")
    sg2 = sg2_config_f()
    sg3 = StyleGAN3Generator(512, 0, 512, 1024, 3, {"num_layers": 2}, channel_base=32768, channel_max=512)
    for label, g in (("StyleGAN2 config F", sg2), ("StyleGAN3-T", sg3)):
        row = generator_row(label, random_weights(g), device, renders)
        for key, value in row.items():
            print(f"  {label:18s} {key:38s} {value:10.4g}")
        RESULTS[f"1024 {label}"] = row
        torch.cuda.empty_cache()


@torch.no_grad()
def generator_row(label: str, g: torch.nn.Module, device: torch.device, renders: int) -> dict[str, float]:
    ws = torch.cat([g.sample(s, 0.7).values for s in range(8)])
    g.force_fp32 = True
    cpu_img = g.synthesis_raw(ws[:1], "const")
    g = g.to(device)
    ws = ws.to(device)

    def eager(batch: int = 1) -> torch.Tensor:
        return g.synthesis(ws[:batch], noise_mode="const", force_fp32=g.force_fp32)

    def studio() -> torch.Tensor:  # what the engine calls: a replayed CUDA graph where one can be captured
        return g.synthesis_raw(ws[:1])

    row: dict[str, float] = {}
    for precision in ("fp32", "tf32", "fp16"):
        g.force_fp32 = precision != "fp16"
        with tf32(precision == "tf32"):
            row[f"{precision} rel. error vs CPU fp32"] = rel_l2(eager(), cpu_img)
            row[f"{precision} renders/s batch 1, eager"] = per_second(eager, renders, device)
            row[f"{precision} renders/s batch 1, studio"] = per_second(studio, renders, device)
            row[f"{precision} studio vs eager max |Δ|"] = max_abs(studio(), eager())
            row[f"{precision} images/s batch 8"] = 8 * per_second(lambda: eager(8), max(renders // 8, 3), device)
            row[f"{precision} peak MiB batch 1, eager"] = peak_mib(eager, device)
    if graphs.refusal(g.synthesis):
        print(f"  {label}: no CUDA graph, rendered eagerly ({graphs.refusal(g.synthesis)})")
    return row


# --- 3. ResMem ------------------------------------------------------------------------------------------
def resmem_net(device: torch.device) -> tuple[ResMemNet, str]:
    try:
        from memstudio.core.assessors.resmem import load_resmem

        return load_resmem(device).net, "real weights"
    except ModelUnavailableError:
        torch.manual_seed(0)
        net = ResMemNet().eval()
        net.fold_batch_norms()
        return net.to(device, memory_format=torch.channels_last).requires_grad_(False), "seeded random weights"


def photo_batch(size: int) -> torch.Tensor:
    """``size`` 227-px inputs from the built-in photos (flips and shifted crops for variety)."""
    photos = sorted(p for p in (REPO / "assets" / "photos").iterdir() if p.suffix != ".md")
    crops = []
    for i in range(size):
        x = preprocess(pil_to_tensor(load_image(photos[i % len(photos)]).image))
        crops.append(x.flip(-1) if (i // len(photos)) % 2 else x)
    return torch.cat(crops)


def resmem_precisions(device: torch.device, batches: tuple[int, ...]) -> None:
    net, weights = resmem_net(device)
    print(f"\n3. ResMem on {device} ({weights}): images/s and score change against fp32")
    x = (
        photo_batch(max(batches) if device.type == "cuda" else 12)
        .to(device)
        .contiguous(memory_format=torch.channels_last)
    )
    variants = {"fp32": (torch.float32, False), "tf32": (torch.float32, True)}
    variants.update({"bf16 autocast": (torch.bfloat16, False), "fp16 autocast": (torch.float16, False)})
    with torch.inference_mode(), tf32(False):
        reference = net(x).float().cpu()
    for label, (dtype, use_tf32) in variants.items():
        if device.type == "cpu" and label == "tf32":
            continue

        def run(n: int, dtype: torch.dtype = dtype) -> torch.Tensor:
            with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                return net(x[:n])

        with torch.inference_mode(), tf32(use_tf32):
            # Random weights saturate the sigmoid (and overflow fp16): score changes mean something only
            # with the real weights.
            row = {"max |Δscore| vs fp32": max_abs(run(len(x)), reference)} if weights == "real weights" else {}
            if device.type == "cuda":
                for n in batches:
                    row[f"images/s batch {n}"] = n * per_second(lambda n=n: run(n), max(2, 64 // n), device)
        print(f"  {label:14s} " + "  ".join(f"{k} {v:.3g}" for k, v in row.items()))
        RESULTS[f"resmem {label}"] = {**row, "weights": weights}
    print(f"  (scores of {len(x)} photo crops; fp32 spread of scores {float(reference.std()):.3f})")


# --- 4. studio frame ------------------------------------------------------------------------------------
def studio_frame(device: torch.device, frames: int) -> None:
    print("\n4. Studio frame on the GPU: StyleGAN2 1024 (fp16 top blocks) render + ResMem score")
    g = random_weights(sg2_config_f()).to(device)
    net, weights = resmem_net(device)
    assessor = ResMemAssessor(net, None)
    latent = Latent("w+", g.sample(1, 0.7).values.to(device))
    with torch.no_grad():
        image = g.render(latent)
        with torch.inference_mode(False):  # the Pillow route, as the engine takes it on a CPU
            pillow_pixels = assessor.prepare(image.cpu()).to(device)
        row = {
            "render ms": 1000 / per_second(lambda: g.render(latent), frames, device),
            "score ms (resize on the GPU, the engine's route there)": 1000
            / per_second(lambda: assessor.score(image), frames, device),
            "score ms (Pillow resize on the CPU)": 1000
            / per_second(lambda: assessor.score_prepared(assessor.prepare(image.cpu()).to(device)), frames, device),
            "render + score ms": 1000 / per_second(lambda: assessor.score(g.render(latent)), frames, device),
            "GPU resize pixels equal Pillow's (1 = yes)": float(torch.equal(assessor.prepare(image), pillow_pixels)),
        }
    for key, value in row.items():
        print(f"  {key:66s} {value:9.3g}")
    RESULTS["studio frame"] = {**row, "resmem weights": weights}


# --- 5. GANalyze ----------------------------------------------------------------------------------------
def ganalyze_speed(device: torch.device, steps: int) -> None:
    """Training steps per second of GANalyze at 1024 px, ResMem through its differentiable preprocessing."""
    g = random_weights(sg2_config_f()).to(device)
    assessor = ResMemAssessor(resmem_net(device)[0], None)
    print("\n5. GANalyze on the GPU: StyleGAN2 1024 (w space) + ResMem, batch 8")

    def settings(n: int) -> GanalyzeSettings:
        return GanalyzeSettings(steps=n, batch_size=8, alpha_max=0.2, checkpoint_every=10**9, preview_every=10**9)

    run_to_end(train_ganalyze(g, assessor, settings(2)))
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    run_to_end(train_ganalyze(g, assessor, settings(steps)))
    torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - start
    row = {
        "steps/s": steps / elapsed,
        "samples/s": 8 * steps / elapsed,
        "peak MiB": torch.cuda.max_memory_allocated(device) / 2**20,
    }
    print("  " + "  ".join(f"{k} {v:.3g}" for k, v in row.items()))
    RESULTS["ganalyze"] = row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="folder with the official StyleGAN reference .npz files")
    parser.add_argument("--device", help="cuda (the default where there is one) or cpu")
    parser.add_argument(
        "--only",
        action="append",
        choices=("references", "generators", "resmem", "frame", "ganalyze"),
        help="repeatable",
    )
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--ganalyze-steps", type=int, default=20)
    parser.add_argument("--json-out", type=Path, help="also write every figure here as JSON")
    args = parser.parse_args()
    if args.device is None and not torch.cuda.is_available():
        print("no CUDA device here: skipped (`--only resmem --device cpu` gives the score errors on a CPU)")
        return 0
    device = torch.device(args.device or "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: no CUDA device here")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        print(f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    parts = {
        "references": lambda: check_references(args.reference, device) if args.reference else None,
        "generators": lambda: generators_1024(device, args.renders),
        "resmem": lambda: resmem_precisions(device, (1, 16, 64)),
        "frame": lambda: studio_frame(device, args.renders),
        "ganalyze": lambda: ganalyze_speed(device, args.ganalyze_steps),
    }
    for name, part in parts.items():
        if not args.only or name in args.only:
            part()
    if args.json_out:
        args.json_out.write_text(json.dumps(RESULTS, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
