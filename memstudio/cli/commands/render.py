"""``memstudio render``: seeds → PNGs, quantised exactly as NVIDIA's generate.py / gen_images.py write them.

Each seed is rendered alone (batch 1), as the official scripts do, and the raw network output ``x`` becomes
``(x * 127.5 + 128).clamp(0, 255).to(uint8)`` — so a PNG from here can be compared byte for byte with one
from the official tools.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.errors import MemstudioError

if TYPE_CHECKING:
    import torch

    from memstudio.core.generators.base import Generator, Latent

_MAX_SEED = 2**32 - 1


def parse_seeds(text: str) -> list[int]:
    """``'0-3,7'`` → ``[0, 1, 2, 3, 7]`` (NVIDIA's range syntax)."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                low, high = part.split("-", 1)
                lo, hi = int(low), int(high)
                if hi < lo:
                    raise MemstudioError(f"seed range {part!r} runs backwards")
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError as exc:
            raise MemstudioError(f"cannot read seeds {text!r}: use e.g. '0-3,7'") from exc
    if not seeds:
        raise MemstudioError(f"no seeds in {text!r}")
    bad = [s for s in seeds if not 0 <= s <= _MAX_SEED]
    if bad:
        raise MemstudioError(f"seeds must be in 0 … 2³²−1, got {bad[:3]}")
    return seeds


def output_paths(output: str, seeds: list[int]) -> list[Path]:
    """One seed → ``output`` itself; several → ``{seed}`` filled in, or ``<stem>-seed0007.png``; a folder →
    ``seed0007.png`` inside it (NVIDIA's naming)."""
    target = Path(output)
    if output.endswith(("/", "\\")) or target.is_dir():
        return [target / f"seed{s:04d}.png" for s in seeds]
    if "{seed" in output:
        try:
            return [Path(output.format(seed=s)) for s in seeds]
        except (KeyError, IndexError, ValueError) as exc:
            raise MemstudioError(f"bad output pattern {output!r}: only {{seed}} may be filled in") from exc
    if len(seeds) == 1:
        return [target]
    suffix = target.suffix or ".png"
    return [target.with_name(f"{target.stem}-seed{s:04d}{suffix}") for s in seeds]


def to_png_uint8(raw: torch.Tensor) -> torch.Tensor:
    """NVIDIA's quantisation of a raw ``[N, 3, H, W]`` output: ``[N, H, W, 3]`` uint8."""
    import torch

    return (raw.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render seeds of a generator to PNG files",
        description="Render the images that seeds denote, as the official tools do (same seed, same image).",
    )
    parser.add_argument(
        "--generator",
        required=True,
        metavar="NAME_OR_PATH",
        help="stored model name, or a checkpoint file / folder",
    )
    seeds = parser.add_mutually_exclusive_group(required=True)
    seeds.add_argument("--seed", type=int, metavar="S", help="one seed (0 … 2^32-1)")
    seeds.add_argument("--seeds", metavar="LIST", help="several seeds, e.g. '0-3,7'")
    parser.add_argument("--trunc", type=float, default=1.0, metavar="PSI", help="truncation psi (default 1)")
    parser.add_argument(
        "--class", dest="class_", metavar="C", help="class index, or an ImageNet class name for BigGAN"
    )
    parser.add_argument(
        "--noise", choices=("const", "random", "none"), help="StyleGAN noise inputs (default const)"
    )
    parser.add_argument("--device", help="torch device (default: CUDA if present, else CPU)")
    parser.add_argument(
        "--fp32",
        action="store_true",
        help="on a GPU, render StyleGAN's top resolutions in float32 and without TF32 (NVIDIA's tools use "
        "fp16 there; the CPU is always float32)",
    )
    parser.add_argument("-o", "--output", required=True, help="PNG path; with several seeds a pattern/folder")
    parser.set_defaults(func=run)


def _class_index(generator: Generator, text: str | None) -> int | None:
    if text is None:
        return None
    if generator.num_classes == 0:
        raise MemstudioError(f"{generator.name} is unconditional; drop --class")
    if text.strip().lstrip("-").isdigit():
        index = int(text)
    elif getattr(generator, "family", "") == "biggan":
        from memstudio.core.generators.biggan import class_index_from_name

        try:
            index = class_index_from_name(text)
        except ValueError as exc:
            raise MemstudioError(str(exc)) from exc
    else:
        raise MemstudioError(f"--class for {generator.name} must be an index 0 … {generator.num_classes - 1}")
    if not 0 <= index < generator.num_classes:
        raise MemstudioError(
            f"--class {index} is outside 0 … {generator.num_classes - 1} for {generator.name}"
        )
    return index


def raw_image(generator: Generator, latent: Latent) -> torch.Tensor:
    """The generator's unclipped output for ``latent`` (what the official tools quantise)."""
    if hasattr(generator, "render_raw"):
        return generator.render_raw(latent)
    if hasattr(generator, "synthesis_raw"):
        return generator.synthesis_raw(generator.convert(latent, "w+").values)
    # Generators without a raw path render in [0, 1]; map back to the [-1, 1] convention.
    return generator.render(latent) * 2 - 1


def run(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image

    from memstudio.core.atomic import save_image_atomic
    from memstudio.core.device import default_device, tf32
    from memstudio.core.generators.opening import open_generator

    seeds = [args.seed] if args.seed is not None else parse_seeds(args.seeds)
    if args.seed is not None and not 0 <= args.seed <= _MAX_SEED:
        raise MemstudioError(f"--seed must be in 0 … 2³²−1, got {args.seed}")
    paths = output_paths(args.output, seeds)
    try:
        device = torch.device(args.device) if args.device else default_device()
    except RuntimeError as exc:
        raise MemstudioError(f"unknown --device {args.device!r}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MemstudioError("--device cuda was asked for, but no CUDA GPU is available here")
    generator = open_generator(args.generator, device=device)
    family = getattr(generator, "family", "")
    if family == "biggan" and not 0 < args.trunc <= 1:
        raise MemstudioError(f"BigGAN truncation must be in (0, 1], got {args.trunc}")
    if args.noise is not None:
        if hasattr(generator, "noise_mode"):
            generator.noise_mode = args.noise
        else:
            print(f"memstudio: note: {generator.name} has no noise inputs; --noise ignored", file=sys.stderr)
    class_index = _class_index(generator, args.class_)
    if args.fp32:
        if not hasattr(generator, "force_fp32"):
            print(f"memstudio: note: {generator.name} has no fp16 layers; --fp32 changes nothing", file=sys.stderr)
        generator.force_fp32 = True
    for seed, path in zip(seeds, paths, strict=True):
        with torch.inference_mode(), tf32(False) if args.fp32 else contextlib.nullcontext():
            latent = generator.sample(seed, truncation=args.trunc, class_index=class_index)
            pixels = to_png_uint8(raw_image(generator, latent))[0].cpu().numpy()
        if pixels.shape[-1] == 1:  # single-channel models are written as greyscale, as NVIDIA's tools do
            pixels = pixels[..., 0]
        save_image_atomic(Image.fromarray(pixels), path)
        print(path)
    return 0
