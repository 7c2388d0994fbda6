"""``memstudio heatmap``: where in an image an assessor finds what it scores, saved as .png or .npy.

The same core functions as the studio's heatmap dock (:mod:`memstudio.core.maps.api`); ``--overlay`` blends
the coloured map over the photo instead of saving the map alone. ``--figure map.pdf`` (PNG/PDF/SVG, repeatable)
draws the photo, the overlay and a numbered colour bar at a journal width with a sidecar, and ``--from
map.pdf --figure again.svg`` draws a saved figure again (:mod:`memstudio.core.figures.heatmap_figure`).
``--emphasis`` runs the heatmap dock's emphasis check (paper 004 §5,
:class:`~memstudio.core.session.heatmaps.EmphasisCheck`) on one image's map and prints its four scores.
Given folders or several images, ``-o`` is a
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
    import numpy as np
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
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="image files or folders (not with --from)")
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
    parser.add_argument("-o", "--output", help="the bare map for data: .png or .npy (a folder for several images)")
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
    parser.add_argument(
        "--format", choices=("png", "npy"), default="png", help="map files written into an output folder"
    )
    parser.add_argument(
        "--emphasis",
        action="store_true",
        help="the studio's emphasis check (paper 004 §5) of one image's map: --assessor scores the image with "
        "its high-map half kept detailed (the rest abstracted), a random half, and the low half; -o is optional",
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

    if not args.figure or args.images or args.output:
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
        photo=str(Path(args.images[0]).resolve()),
        photo_sha256=sha256_file(args.images[0]),
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
    if args.from_:
        return rerender(args)
    if not args.images:
        raise MemstudioError("give image files or folders (or --from FIG to draw a saved figure again)")
    if args.emphasis:
        return run_emphasis(args)
    if not args.output and not args.figure:
        raise MemstudioError("give -o MAP.png|npy (the map) and/or --figure FIG.png|pdf|svg (a figure)")
    if args.figure:
        if len(args.images) != 1 or Path(args.images[0]).is_dir():
            raise MemstudioError("--figure draws one image: give a single image file")
        return run_figure(args)
    if not args.output:
        raise MemstudioError("give -o MAP.png|npy (or an output folder for several images)")
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
        refuse_inputs([args.output], [args.images[0]])
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

    from memstudio.core import distributed
    from memstudio.core.atomic import refuse_inputs
    from memstudio.core.device import default_device

    if args.method == "vms" and not args.vms_checkpoint:
        raise MemstudioError("--method vms needs --vms-checkpoint FOLDER (train one with 'memstudio vms train')")
    pairs = _targets(args)
    refuse_inputs([target for _, target in pairs], [image for image, _ in pairs])
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


def run_emphasis(args: argparse.Namespace) -> int:
    """``--emphasis``: one image's map, then the studio's :class:`EmphasisCheck` of it on a pipeline of our own."""
    import torch

    from memstudio.core.atomic import refuse_inputs
    from memstudio.core.device import default_device
    from memstudio.core.maps.io import save_map
    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.heatmaps import EmphasisCheck

    if len(args.images) != 1 or Path(args.images[0]).is_dir():
        raise MemstudioError("--emphasis checks the map of one image: give a single image file")
    if args.figure or args.overlay:
        raise MemstudioError("--emphasis writes no figure or overlay: draw those in a run of their own")
    if args.method == "vms" and not args.vms_checkpoint:
        raise MemstudioError("--method vms needs --vms-checkpoint FOLDER (train one with 'memstudio vms train')")
    if args.output:
        if Path(args.output).suffix.lower() not in (".png", ".npy"):
            raise MemstudioError(f"{args.output}: the output must end in .png or .npy")
        refuse_inputs([args.output], [args.images[0]])
    pipeline = Pipeline(torch.device(args.device) if args.device else default_device())
    assessor = pipeline.assessor(args.assessor)  # the check scores with it, whichever method made the map
    mapper = assessor if args.method != "vms" else None
    image, heat = _compute_map(Path(args.images[0]), mapper, args, pipeline.device, args.quiet)
    if args.output:
        print(save_map(heat, args.output, colormap=args.colormap))
    # The thumbnails are the dock's; the side only has to be valid.
    result = EmphasisCheck(image, heat, args.assessor, 0, thumb=16).run(pipeline)
    print(emphasis_line(result["assessor"], result["scores"], result["order_holds"]))
    return 0


def emphasis_line(assessor: str, scores: dict[str, float], order_holds: bool) -> str:
    """``resmem: original 0.8123 · high 0.7901 · … — high > medium > low holds``."""
    from memstudio.core.maps.emphasis import RENDERS

    values = " · ".join(f"{name} {scores[name]:.4f}" for name in RENDERS)
    return f"{assessor}: {values} — high > medium > low {'holds' if order_holds else 'does not hold'}"


def _compute_map(
    image_path: Path, assessor: Assessor | None, args: argparse.Namespace, device: torch.device, quiet: bool
) -> tuple[torch.Tensor, np.ndarray]:
    """One image (reduced to ``--max-side``) as ``[1, 3, H, W]`` on ``device``, and its map."""
    from memstudio.core.imaging import load_image, pil_to_tensor
    from memstudio.core.jobs import run_with_tqdm
    from memstudio.core.maps.api import map_job

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
    return image, run_with_tqdm(job, f"heatmap ({args.method})", disable=quiet)


def _save_heatmap(
    image_path: Path,
    output: Path,
    assessor: Assessor | None,
    args: argparse.Namespace,
    device: torch.device,
    quiet: bool,
) -> Path:
    """Compute one image's map and write it (or its overlay) to ``output``, atomically."""
    from memstudio.core.imaging import tensor_to_uint8
    from memstudio.core.maps.colormap import overlay
    from memstudio.core.maps.io import save_map, save_picture

    image, heat = _compute_map(image_path, assessor, args, device, quiet)
    if args.overlay:
        return save_picture(overlay(tensor_to_uint8(image)[0], heat, args.colormap, args.opacity), output)
    return save_map(heat, output, colormap=args.colormap)
