"""``memstudio heatmap``: where in an image an assessor finds what it scores, saved as .png or .npy.

The same core functions as the studio's heatmap dock (:mod:`memstudio.core.maps.api`); ``--overlay`` blends
the coloured map over the photo instead of saving the map alone. ``--figure map.pdf`` (PNG/PDF/SVG, repeatable)
draws the photo, the overlay and a numbered colour bar at a journal width with a sidecar, and ``--from
map.pdf --figure again.svg`` draws a saved figure again (:mod:`memstudio.core.figures.heatmap_figure`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memstudio.core.errors import MemstudioError

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
    parser.add_argument("image", nargs="?", help="image file (not with --from)")
    parser.add_argument("--assessor", default="resmem", help="assessor name (default resmem)")
    parser.add_argument(
        "--method", choices=METHODS, default="regions", help="heatmap method (default regions)"
    )
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        help="window/patch sides as fractions of the short side (regions: 0.667 0.5 0.4; occlusion: 0.333)",
    )
    parser.add_argument("--overlap", type=float, help="minimum overlap of neighbouring windows, in [0, 1)")
    parser.add_argument("--samples", type=int, default=0, help="SmoothGrad samples for --method gradient")
    parser.add_argument(
        "--fill", choices=("grey", "blur"), default="grey", help="occlusion fill (default grey)"
    )
    parser.add_argument(
        "--vms-checkpoint", help="checkpoint folder from 'memstudio vms train' (--method vms)"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="windows scored per batch (default 16)")
    parser.add_argument("--colormap", default="jet", help="matplotlib colormap for .png (default jet)")
    parser.add_argument("--overlay", action="store_true", help="write the map blended over the photo (.png)")
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity in [0, 1] (default 0.5)")
    parser.add_argument("--max-side", type=int, default=1024, help="reduce the image to this long side first")
    parser.add_argument("--device", help="torch device (default: CUDA if present, else CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("-o", "--output", help="the bare map for data: output .png or .npy")
    parser.add_argument(
        "--figure",
        action="append",
        default=[],
        metavar="FIG",
        help="a figure: photo + overlay at --opacity + numbered colour bar, as .png/.pdf/.svg (repeatable)",
    )
    parser.add_argument(
        "--from", dest="from_", metavar="FIG", help="draw a saved heatmap figure again from its sidecar (with --figure)"
    )
    parser.add_argument("--width", default="single", help="figure width: 3.5in, 8.9cm, 89mm, single, double, slide")
    parser.add_argument("--font-pt", type=float, default=7.0, help="figure text size in points (default 7)")
    parser.add_argument("--dpi", type=float, default=300.0, help="figure raster resolution (default 300)")
    parser.add_argument("--title", default="", help="a title line over the figure")
    parser.add_argument(
        "--no-check-hashes", action="store_true", help="with --from: draw even if the photo has changed"
    )
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


def rerender(args: argparse.Namespace) -> int:
    from memstudio.core.device import default_device
    from memstudio.core.figures.heatmap_figure import rerender_job
    from memstudio.core.jobs import run_with_tqdm

    if not args.figure or args.image or args.output:
        raise MemstudioError("--from FIG draws a saved figure again: give only --figure OUT.png|pdf|svg")
    device = args.device or default_device()
    job = rerender_job(args.from_, args.figure, device, check_hashes=not args.no_check_hashes)
    for path in run_with_tqdm(job, "heatmap figure", disable=args.quiet):
        print(path)
    return 0


def figure_spec(args: argparse.Namespace) -> object:
    from memstudio.core.checkpoints import sha256_file
    from memstudio.core.figures.heatmap_figure import HeatmapFigureSpec
    from memstudio.core.figures.size import parse_width

    return HeatmapFigureSpec(
        photo=str(Path(args.image).resolve()),
        photo_sha256=sha256_file(args.image),
        method=args.method,
        assessor=args.assessor,
        scales=list(args.scales) if args.scales else None,
        options=_options(args),
        vms_checkpoint=args.vms_checkpoint,
        max_side=args.max_side,
        colormap=args.colormap,
        opacity=args.opacity,
        width_in=parse_width(args.width),
        font_pt=args.font_pt,
        dpi=args.dpi,
        title=args.title,
    )


def run(args: argparse.Namespace) -> int:
    if args.from_:
        return rerender(args)
    if not args.image:
        raise MemstudioError("give an image file (or --from FIG to draw a saved figure again)")
    if not args.output and not args.figure:
        raise MemstudioError("give -o MAP.png|npy (the map) and/or --figure FIG.png|pdf|svg (a figure)")
    if args.figure:
        return run_figure(args)
    return run_map(args)


def run_figure(args: argparse.Namespace) -> int:
    from memstudio.core.device import default_device
    from memstudio.core.figures.heatmap_figure import compute_for_figure, write_heatmap_figures
    from memstudio.core.jobs import run_with_tqdm
    from memstudio.core.maps.io import save_map

    if args.method == "vms" and not args.vms_checkpoint:
        raise MemstudioError("--method vms needs --vms-checkpoint FOLDER (train one with 'memstudio vms train')")
    if args.output and args.overlay:
        raise MemstudioError("--figure already draws the overlay; give --overlay without --figure")
    if args.output:
        from memstudio.core.atomic import refuse_inputs

        if Path(args.output).suffix.lower() not in (".png", ".npy"):
            raise MemstudioError(f"{args.output}: the output must end in .png or .npy")
        refuse_inputs([args.output], [args.image])
    spec = figure_spec(args)
    device = args.device or default_device()
    pixels, heat, scale = run_with_tqdm(compute_for_figure(spec, device), f"heatmap ({args.method})", args.quiet)
    for path in write_heatmap_figures(pixels, heat, scale, spec, args.figure):
        print(path)
    if args.output:
        print(save_map(heat, args.output, colormap=args.colormap))
    return 0


def run_map(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image

    from memstudio.core.atomic import refuse_inputs, save_image_atomic
    from memstudio.core.device import default_device
    from memstudio.core.imaging import load_image, pil_to_tensor, tensor_to_uint8
    from memstudio.core.jobs import run_with_tqdm
    from memstudio.core.maps.api import map_job
    from memstudio.core.maps.colormap import overlay
    from memstudio.core.maps.io import save_map

    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".npy"):
        raise MemstudioError(f"{output}: the output must end in .png or .npy")
    if args.overlay and output.suffix.lower() != ".png":
        raise MemstudioError(f"{output}: an overlay is a picture; use a .png output")
    if args.method == "vms" and not args.vms_checkpoint:
        raise MemstudioError(
            "--method vms needs --vms-checkpoint FOLDER (train one with 'memstudio vms train')"
        )
    refuse_inputs([output], [args.image])
    device = torch.device(args.device) if args.device else default_device()
    image = pil_to_tensor(load_image(args.image, max_side=args.max_side).image).to(device)
    assessor = None
    if args.method != "vms":
        from memstudio.core.assessors.registry import load_assessor

        assessor = load_assessor(args.assessor, device)
    job = map_job(
        image,
        assessor,
        method=args.method,
        scales=args.scales,
        vms_checkpoint=args.vms_checkpoint,
        batch_size=args.batch_size,
        **_options(args),
    )
    heat = run_with_tqdm(job, f"heatmap ({args.method})", disable=args.quiet)
    if args.overlay:
        blended = overlay(tensor_to_uint8(image)[0], heat, args.colormap, args.opacity)
        save_image_atomic(Image.fromarray(blended, mode="RGB"), output)
    else:
        save_map(heat, output, colormap=args.colormap)
    print(output)
    return 0
