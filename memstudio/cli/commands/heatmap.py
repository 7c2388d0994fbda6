"""``memstudio heatmap``: where in an image an assessor finds what it scores, saved as .png or .npy.

The same core functions as the studio's heatmap dock (:mod:`memstudio.core.maps.api`); ``--overlay`` blends
the coloured map over the photo instead of saving the map alone. Given folders or several images, ``-o`` is a
folder receiving ``NAME.png`` (or ``--format npy``) per image; maps already there are skipped, so an
interrupted run resumes. Under ``torchrun`` the images are shared out among the processes (each writes the
maps it computed, atomically) and rank 0 reports them in input order.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.errors import MemstudioError

if TYPE_CHECKING:
    import torch

    from memstudio.core.assessors.base import Assessor
    from memstudio.core.distributed import DistContext

METHODS = ("regions", "occlusion", "gradient", "vms")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "heatmap",
        help="memorability (or any assessor's) heatmap of an image",
        description=(
            "Compute a per-pixel heatmap of IMAGE: region maps (paper 004 §5), occlusion, gradient saliency, "
            "or a trained VMS predictor (paper 003). Saved by suffix: .npy values, .png coloured."
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    parser.add_argument("--assessor", default="resmem", help="assessor name (default resmem)")
    parser.add_argument("--method", choices=METHODS, default="regions", help="heatmap method (default regions)")
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        help="window/patch sides as fractions of the short side (regions: 0.667 0.5 0.4; occlusion: 0.333)",
    )
    parser.add_argument("--overlap", type=float, help="minimum overlap of neighbouring windows, in [0, 1)")
    parser.add_argument("--samples", type=int, default=0, help="SmoothGrad samples for --method gradient")
    parser.add_argument("--fill", choices=("grey", "blur"), default="grey", help="occlusion fill (default grey)")
    parser.add_argument("--vms-checkpoint", help="checkpoint folder from 'memstudio vms train' (--method vms)")
    parser.add_argument("--batch-size", type=int, default=16, help="windows scored per batch (default 16)")
    parser.add_argument("--colormap", default="jet", help="matplotlib colormap for .png (default jet)")
    parser.add_argument("--overlay", action="store_true", help="write the map blended over the photo (.png)")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity in [0, 1] (default 0.5)")
    parser.add_argument("--max-side", type=int, default=1024, help="reduce the image to this long side first")
    parser.add_argument("--device", help="torch device (default: CUDA if present, else CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--format", choices=("png", "npy"), default="png", help="map files written into an output folder"
    )
    parser.add_argument("-o", "--output", required=True, help="output .png or .npy (a folder for several images)")
    parser.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict[str, object]:
    options: dict[str, object] = {}
    if args.method in ("regions", "occlusion") and args.overlap is not None:
        options["overlap"] = args.overlap
    if args.method == "occlusion":
        options["fill"] = args.fill
    if args.method == "gradient":
        options["samples"] = args.samples
    return options


def _targets(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """(image, map file) pairs: one image → ``-o`` itself; folders or several images → ``-o/NAME.FORMAT``."""
    from memstudio.core.imaging import expand_paths

    output = Path(args.output)
    if len(args.images) == 1 and not Path(args.images[0]).is_dir():
        if output.suffix.lower() not in (".png", ".npy"):
            raise MemstudioError(f"{output}: the output must end in .png or .npy")
        if args.overlay and output.suffix.lower() != ".png":
            raise MemstudioError(f"{output}: an overlay is a picture; use a .png output")
        return [(Path(args.images[0]), output)]
    if output.suffix.lower() in (".png", ".npy"):
        raise MemstudioError(f"{output}: several images need an output folder, not one {output.suffix} file")
    if args.overlay and args.format != "png":
        raise MemstudioError("an overlay is a picture: use --format png")
    images = expand_paths(args.images)
    pairs = [(image, output / f"{image.stem}.{args.format}") for image in images]
    seen: dict[Path, Path] = {}
    for image, target in pairs:
        if target in seen:
            raise MemstudioError(f"{image} and {seen[target]} would both be written to {target}; rename one")
        seen[target] = image
    return pairs


def run(args: argparse.Namespace) -> int:
    import torch

    from memstudio.core import distributed
    from memstudio.core.device import default_device

    if args.method == "vms" and not args.vms_checkpoint:
        raise MemstudioError("--method vms needs --vms-checkpoint FOLDER (train one with 'memstudio vms train')")
    pairs = _targets(args)
    with distributed.session(torch.device(args.device) if args.device else default_device()) as ctx:
        assessor = None
        if args.method != "vms":
            from memstudio.core.assessors.registry import load_assessor

            assessor = load_assessor(args.assessor, ctx.device)
            distributed.check_same_models(ctx, {f"assessor {assessor.name}": assessor.checkpoint_hash})
        if len(pairs) == 1 and pairs[0][1] == Path(args.output):
            if ctx.is_main:
                print(_save_heatmap(*pairs[0], assessor, args, ctx.device, quiet=args.quiet))
            return 0
        return _run_many(pairs, assessor, args, ctx)


def _run_many(
    pairs: list[tuple[Path, Path]], assessor: Assessor | None, args: argparse.Namespace, ctx: DistContext
) -> int:
    """Maps of many images, each rank its share, skipping maps already written; bad images reported."""
    import sys

    from memstudio.core import distributed

    # Rank 0 decides what is left, once: a map another rank writes meanwhile must not change anyone's list.
    todo = distributed.run_on_main(
        lambda: [(image, target) for image, target in pairs if not target.exists()], ctx, "listing the maps left"
    )
    failed = 0
    for mine in distributed.rounds(len(todo), 1, ctx):
        local = []
        for i in mine:
            image, target = todo[i]
            try:
                local.append((str(_save_heatmap(image, target, assessor, args, ctx.device, quiet=True)), None))
            except MemstudioError as exc:
                local.append((None, f"{ctx.label()}{exc}"))
        for written, error in distributed.gather_in_order(local, ctx, "gathering maps"):
            if not ctx.is_main:
                continue
            if error is None:
                print(written, flush=True)
            else:
                failed += 1
                print(f"memstudio: {error}", file=sys.stderr, flush=True)
    if ctx.is_main and len(todo) < len(pairs):
        print(f"memstudio: {len(pairs) - len(todo)} maps already in {args.output}", file=sys.stderr)
    return 2 if distributed.broadcast(failed, ctx, "sharing the exit status") else 0


def _save_heatmap(
    image_path: Path,
    output: Path,
    assessor: Assessor | None,
    args: argparse.Namespace,
    device: torch.device,
    quiet: bool,
) -> Path:
    """Compute one image's map and write it (or its overlay) to ``output``, atomically."""
    from memstudio.core.imaging import load_image, pil_to_tensor, tensor_to_uint8
    from memstudio.core.jobs import run_with_tqdm
    from memstudio.core.maps.api import map_job
    from memstudio.core.maps.colormap import overlay
    from memstudio.core.maps.io import save_map, save_picture

    image = pil_to_tensor(load_image(image_path, max_side=args.max_side).image).to(device)
    job = map_job(
        image,
        assessor,
        method=args.method,
        scales=args.scales,
        vms_checkpoint=args.vms_checkpoint,
        batch_size=args.batch_size,
        **_options(args),
    )
    heat = run_with_tqdm(job, f"heatmap ({args.method})", disable=quiet)
    if args.overlay:
        return save_picture(overlay(tensor_to_uint8(image)[0], heat, args.colormap, args.opacity), output)
    return save_map(heat, output, colormap=args.colormap)
