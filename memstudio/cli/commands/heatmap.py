"""``memstudio heatmap``: where in an image an assessor finds what it scores, saved as .png or .npy.

The same core functions as the studio's heatmap dock (:mod:`memstudio.core.maps.api`); ``--overlay`` blends
the coloured map over the photo instead of saving the map alone.
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
    parser.add_argument("image", help="image file")
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
    parser.add_argument("-o", "--output", required=True, help="output .png or .npy")
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


def run(args: argparse.Namespace) -> int:
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
