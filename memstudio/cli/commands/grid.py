"""``memstudio grid``: seeds × α, or one seed's W+ layers × coefficient (paper 001 Fig. 9)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from memstudio.cli.commands.strip import (
    add_panels_option,
    add_source_options,
    add_style_options,
    open_from_args,
    rerender,
    style_options,
    write_outputs,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "grid",
        help="export a grid: seeds × α, or W+ layers × coefficient with --layers",
        description="Render several seeds (rows) at every α (columns) with row and column labels.",
    )
    add_source_options(p)
    p.add_argument("--seeds", nargs="+", default=["0-3"], help="GAN seeds, e.g. 0-9 or 1,5,7 (default 0-3)")
    p.add_argument("--layers", nargs="+", type=int, help="layerwise grid of the first seed: these W+ layers")
    p.add_argument("--heatmap", metavar="METHOD", help="add a heatmap row under each row (a maps method)")
    p.add_argument("--heatmap-assessor", help="assessor the heatmap explains (default: the first)")
    p.add_argument(
        "--stream",
        action="store_true",
        help="write a PNG band by band (constant memory for hundreds of seeds)",
    )
    add_style_options(p)
    add_panels_option(p)
    p.add_argument(
        "-o", "--output", type=Path, action="append", default=[], help="OUT.png|pdf|svg (repeatable)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.core.figures.build import make_spec
    from memstudio.core.figures.inputs import parse_seeds
    from memstudio.core.figures.spec import FigureSpecError
    from memstudio.core.figures.stream import tall_grid_png_job
    from memstudio.core.jobs import run_with_tqdm

    if args.from_ is not None:
        return rerender(args)
    if not args.output:
        raise FigureSpecError("give an output file (-o OUT.png|pdf|svg)")
    heatmap: dict[str, Any] | None = None
    if args.heatmap:
        heatmap = {"method": args.heatmap, "assessor": args.heatmap_assessor}
    inputs = open_from_args(args, heatmap)
    seeds: list[Any] = list(args.photo) if args.photo else parse_seeds(args.seeds)
    kind = "layer_grid" if args.layers else "grid"
    if kind == "layer_grid":
        seeds = seeds[:1]
    spec = make_spec(
        kind,
        seeds=seeds,
        alphas=args.alphas,
        truncation=args.trunc,
        class_index=args.class_index,
        layers=args.layers or (),
        **inputs.spec_args,
        **style_options(args),
    )
    if args.stream:
        if kind != "grid" or len(args.output) != 1:
            raise FigureSpecError("--stream writes one seeds × α grid to one PNG")
        print(run_with_tqdm(tall_grid_png_job(spec, inputs.sources, args.output[0], args.panels), "grid"))
        return 0
    for path in write_outputs(spec, inputs.sources, args.output, args.panels):
        print(path)
    return 0
