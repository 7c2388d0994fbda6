"""StyleGAN synthesis speed: memstudio's fused formulation against a plain one, measured in the same run.

CPU (default): StyleGAN2 at 256×256 with reduced channels (channel_base 8192, channel_max 512, random
weights) so the run stays near two minutes on a small machine. "plain" is the same math without the fused
grouped convolution: one sample at a time, the style applied to the activations before and after a shared
convolution (the original's non-fused modulated conv). Also times a 64-seed thumbnail grid (seed → w+ →
256 px image → 128 px thumbnail, in batches of 8).

``--cuda``: StyleGAN2 1024×1024 with the public config-F channels, fp16 in the top 4 blocks as the official
code, batch 1: renders per second and GPU memory held (the studio's interactive bar is ≥ 60 renders/s on an
H100); plus StyleGAN3-T 1024 for comparison.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from memstudio.core.generators.sg_ops import upfirdn2d_ref
from memstudio.core.generators.stylegan2 import StyleGAN2Generator
from memstudio.core.generators.stylegan3 import StyleGAN3Generator


def random_weights(g: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.2 if p.ndim <= 1 else 1.0))
    return g.eval().requires_grad_(False)


def block_synthesis(g: StyleGAN2Generator, ws: torch.Tensor, fused: bool, per_sample: bool) -> torch.Tensor:
    """Synthesis with the modulated-conv formulation forced: ``fused`` grouped conv or not, looping over
    samples or not; the image path upsamples by zero insertion (the original's reference formulation)."""
    if per_sample:
        return torch.cat([block_synthesis(g, ws[i : i + 1], fused, False) for i in range(ws.shape[0])])
    x = img = None
    w_idx = 0
    for res in g.synthesis.block_resolutions:
        block = getattr(g.synthesis, f"b{res}")
        w_iter = iter(ws.narrow(1, w_idx, block.num_conv + block.num_torgb).unbind(dim=1))
        w_idx += block.num_conv
        if block.in_channels == 0:
            const = block.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
            x = block.conv1(const, next(w_iter), "const", fused)
        else:
            x = block.conv0(x, next(w_iter), "const", fused)
            x = block.conv1(x, next(w_iter), "const", fused)
        if img is not None:
            img = upfirdn2d_ref(img, block.resample_filter, up=2, padding=[2, 1, 2, 1], gain=4)
        y = block.torgb(x, next(w_iter), fused)
        img = img + y if img is not None else y
    return img


def plain_synthesis(g: StyleGAN2Generator, ws: torch.Tensor) -> torch.Tensor:
    """The baseline: loop over the batch, non-fused modulated convs (style on the activations)."""
    return block_synthesis(g, ws, fused=False, per_sample=True)


def seconds(fn: Callable[[], object], repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    """Best of ``repeats`` after one warm-up call (best-of filters out other processes' noise)."""
    fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def bench_cpu(repeats: int) -> None:
    g = random_weights(
        StyleGAN2Generator(
            512,
            0,
            512,
            256,
            3,
            {"num_layers": 8},
            {"channel_base": 8192, "channel_max": 512, "conv_clamp": 256},
        )
    )
    print(
        f"StyleGAN2 256×256, REDUCED channels (channel_base 8192, channel_max 512), CPU, "
        f"{torch.get_num_threads()} threads, best of {repeats}"
    )
    with torch.no_grad():
        ws8 = torch.cat([g.sample(s, 0.7).values for s in range(8)])
        diff = (g.synthesis_raw(ws8) - plain_synthesis(g, ws8)).abs().max().item()
        print(f"  fused vs plain max |Δ| = {diff:.2e} (same math)")
        for batch in (1, 8):
            ws = ws8[:batch]
            fast = seconds(lambda ws=ws: g.synthesis_raw(ws), repeats)
            plain = seconds(lambda ws=ws: plain_synthesis(g, ws), repeats)
            if batch > 1:
                grouped = seconds(lambda ws=ws: block_synthesis(g, ws, fused=True, per_sample=False), repeats)
                print(
                    f"  batch {batch}: grouped conv (the original's fp32 path) "
                    f"{grouped * 1000 / batch:8.1f} ms/img; memstudio uses one shared conv on CPU instead"
                )
            print(
                f"  batch {batch}: memstudio {fast * 1000 / batch:8.1f} ms/img   "
                f"plain {plain * 1000 / batch:8.1f} ms/img   speed-up ×{plain / fast:.2f}"
            )

        def grid() -> torch.Tensor:
            thumbs = []
            for first in range(0, 64, 8):
                ws = torch.cat([g.sample(s, 0.7).values for s in range(first, first + 8)])
                img = g.render(g.sample(0, 0.7).with_values(ws))
                thumbs.append(F.interpolate(img, size=(128, 128), mode="area"))
            return torch.cat(thumbs)

        def grid_plain() -> torch.Tensor:
            ws = torch.cat([g.sample(s, 0.7).values for s in range(64)])
            img = (plain_synthesis(g, ws).clamp(-1, 1) + 1) / 2
            return F.interpolate(img, size=(128, 128), mode="area")

        t_grid = seconds(grid, 1)
        t_plain = seconds(grid_plain, 1)
        print(
            f"  64-seed thumbnail grid (128 px): memstudio {t_grid:.2f} s "
            f"({t_grid / 64 * 1000:.0f} ms/seed), "
            f"plain {t_plain:.2f} s, speed-up ×{t_plain / t_grid:.2f}"
        )


def bench_cuda(renders: int) -> None:
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    print(f"GPU: {torch.cuda.get_device_name(device)}, batch 1, {renders} timed renders")
    sg2 = StyleGAN2Generator(
        512,
        0,
        512,
        1024,
        3,
        {"num_layers": 8},
        {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256},
    )
    sg3 = StyleGAN3Generator(512, 0, 512, 1024, 3, {"num_layers": 2}, channel_base=32768, channel_max=512)
    for label, g in (("StyleGAN2 1024 config F", sg2), ("StyleGAN3-T 1024", sg3)):
        g = random_weights(g).to(device)
        for force_fp32 in (False, True):
            g.force_fp32 = force_fp32
            torch.cuda.reset_peak_memory_stats(device)
            with torch.no_grad():
                ws = g.sample(1, 0.7).values.to(device)
                for _ in range(5):
                    g.synthesis_raw(ws)
                torch.cuda.synchronize()
                start = time.perf_counter()
                for _ in range(renders):
                    g.synthesis_raw(ws)
                torch.cuda.synchronize()
                elapsed = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated(device) / 2**20
            mode = "fp32" if force_fp32 else "fp16 (top 4 res, as the original)"
            print(
                f"  {label:24s} {mode:36s} {renders / elapsed:7.1f} renders/s   "
                f"peak GPU memory {peak:7.0f} MiB"
            )
        del g
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuda", action="store_true", help="measure 1024×1024 renders/s on the GPU instead")
    parser.add_argument("--repeats", type=int, default=2, help="timed repetitions per CPU measurement")
    parser.add_argument("--renders", type=int, default=100, help="timed renders per GPU measurement")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads (1 by default: on a shared small machine more threads stall each other)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.cuda:
        if not torch.cuda.is_available():
            raise SystemExit("--cuda: no CUDA device here")
        bench_cuda(args.renders)
    else:
        bench_cpu(args.repeats)


if __name__ == "__main__":
    main()
