"""``memstudio strip``: one seed or photo × α, each image labelled with its scores (paper 000 Fig. 1/4).

``--from FIG.png.json`` renders a figure again from its sidecar (or from a memstudio PNG, or a PDF/SVG whose
sidecar is beside it; older ``FIG.json`` sidecars work too; a plot's sidecar draws the plot again); several
seeds with ``--out-dir`` export one strip per seed, streamed to disk.
``--panels DIR`` also writes every image unlabelled as ``<seed_id>_alpha<α>.png`` with a ``manifest.json``
that ``memstudio memgame build`` takes as its targets. The option helpers here are shared by ``grid``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_ALPHAS = [-0.2, -0.1, 0.0, 0.1, 0.2]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "strip",
        help="export a strip: one seed or photo edited at several α, scores in each image's corner",
        description="Render one seed (or photo) at every α and label each image with its assessor scores.",
    )
    add_source_options(p)
    p.add_argument(
        "--seed", nargs="+", default=["0"], help="GAN seed; several (or a range 0-99) need --out-dir"
    )
    p.add_argument(
        "--out-dir", type=Path, help="with several seeds or photos: one strip per seed into this folder"
    )
    p.add_argument(
        "--format", nargs="+", default=["png"], choices=["png", "pdf", "svg"], help="formats for --out-dir"
    )
    p.add_argument(
        "--heatmap-row", action="store_true", help="a second row: the heatmap of each α's image over it"
    )
    p.add_argument(
        "--heatmap-method",
        default="regions",
        choices=["regions", "occlusion", "gradient"],
        help="method of the heatmap row (default regions, paper 004 §5)",
    )
    p.add_argument("--heatmap-assessor", help="assessor the heatmap row explains (default: the first)")
    add_style_options(p)
    add_panels_option(p)
    p.add_argument(
        "-o", "--output", type=Path, action="append", default=[], help="OUT.png|pdf|svg (repeatable)"
    )
    p.set_defaults(func=run)


def heatmap_row(args: argparse.Namespace) -> dict[str, Any] | None:
    """The spec's heatmap entry for ``--heatmap-row`` (None without it)."""
    if not getattr(args, "heatmap_row", False):
        return None
    return {"method": args.heatmap_method, "assessor": args.heatmap_assessor}


def add_panels_option(p: argparse.ArgumentParser) -> None:
    """Per-panel images for a memory-game experiment (paper 000 §3.4), from the same render."""
    p.add_argument(
        "--panels",
        type=Path,
        metavar="DIR",
        help="also write each image unlabelled (<seed_id>_alpha<α>.png) and DIR/manifest.json for "
        "'memstudio memgame build'",
    )


def add_source_options(p: argparse.ArgumentParser) -> None:
    """What a figure is made of: generator or photos, directions, assessors, α, truncation."""
    source = p.add_mutually_exclusive_group()
    source.add_argument("--generator", metavar="NAME_OR_PATH", help="generator name or checkpoint file")
    source.add_argument(
        "--photo", nargs="+", default=[], metavar="PATH", help="edit photo(s) instead of a GAN"
    )
    source.add_argument(
        "--from",
        dest="from_",
        type=Path,
        metavar="FIG",
        help="re-render a saved figure from its sidecar (FIG.png.json), a memstudio PNG or a PDF/SVG beside it",
    )
    p.add_argument(
        "--direction", action="append", default=[], metavar="FILE", help="direction file (repeatable)"
    )
    p.add_argument("--alphas", nargs="+", type=float, default=DEFAULT_ALPHAS, metavar="A", help="α values")
    p.add_argument("--assessor", action="append", default=[], metavar="NAME", help="assessor (repeatable)")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation ψ for GAN seeds")
    p.add_argument(
        "--class", dest="class_index", type=int, help="class index for class-conditional generators"
    )
    p.add_argument("--device", help="torch device (default: CUDA when present, else CPU)")
    p.add_argument(
        "--no-check-hashes", action="store_true", help="with --from: render even if a source file has changed"
    )


def add_style_options(p: argparse.ArgumentParser) -> None:
    """Label style and output geometry, stored in the figure's description."""
    p.add_argument("--decimals", type=int, help="decimals of the scores (default: each assessor's own)")
    p.add_argument("--font-size", type=float, default=14.0, help="label size in output pixels")
    p.add_argument(
        "--font",
        default="DejaVu Sans",
        choices=["DejaVu Sans", "DejaVu Sans Mono", "DejaVu Serif"],
        help="label font (bundled with matplotlib, so figures look the same everywhere)",
    )
    p.add_argument("--bold", action="store_true", help="bold labels")
    p.add_argument(
        "--label-mode", choices=["box", "outline", "plain"], default="box", help="label legibility"
    )
    p.add_argument("--text-color", default="#ffffff")
    p.add_argument("--box-color", default="#000000")
    p.add_argument("--box-opacity", type=float, default=0.55)
    p.add_argument("--panel-px", type=int, help="resize each image to this many pixels (default: native)")
    add_width_options(p, "images", "the original's frame")
    p.add_argument("--title", default="")
    p.add_argument(
        "--caption",
        default="",
        metavar="TEXT",
        help="a line under the title; 'auto' names each direction's property, method and assessor",
    )
    p.add_argument(
        "--label-names",
        action="store_true",
        help="print each assessor's name next to its scores instead of its property's tag (Mem 0.774, "
        "explained by the legend line)",
    )
    p.add_argument("--photo-max-side", type=int, default=512, help="longest side photos are loaded at")


def add_width_options(p: argparse.ArgumentParser, raster: str, line: str) -> None:
    """``--width``/``--font-pt``/``--line-pt``/``--dpi``: a figure's physical size, shared by every figure
    command (``raster`` is what --dpi rasterises, ``line`` what --line-pt draws)."""
    p.add_argument(
        "--width",
        metavar="W",
        help="lay the figure out at a physical width: 3.5in, 8.9cm, 89mm, or single (3.5 in), double "
        f"(7.16 in), slide (13.33 in); text then in points (--font-pt), {raster} at --dpi",
    )
    p.add_argument("--font-pt", type=float, default=7.0, help="with --width: text size in points (default 7)")
    p.add_argument("--line-pt", type=float, default=1.0, help=f"with --width: {line} in points (default 1)")
    p.add_argument(
        "--dpi",
        type=float,
        help=f"dots per inch: with --width the raster resolution of the {raster} (default 300); otherwise "
        "the physical size of PDF/SVG and the PNG's pHYs (default 150)",
    )


def width_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`OutputOptions` fields :func:`add_width_options` sets (dpi 300 at a width, else 150)."""
    from memstudio.core.figures.size import parse_width

    width_in = parse_width(args.width) if args.width else None
    dpi = args.dpi if args.dpi is not None else (300.0 if width_in is not None else 150.0)
    return {"dpi": dpi, "width_in": width_in, "font_pt": args.font_pt, "line_pt": args.line_pt}


def style_options(args: argparse.Namespace) -> dict[str, Any]:
    from memstudio.core.figures.spec import LabelStyle, OutputOptions

    label = LabelStyle(
        font=args.font,
        bold=args.bold,
        size_px=args.font_size,
        decimals=args.decimals,
        text_color=args.text_color,
        box_color=args.box_color,
        box_opacity=args.box_opacity,
        mode=args.label_mode,
        show_names=True if args.label_names else None,
    )
    output = OutputOptions(panel_px=args.panel_px, title=args.title, caption=args.caption, **width_options(args))
    return {"label": label, "output": output, "photo_max_side": args.photo_max_side}


def device_of(args: argparse.Namespace) -> Any:
    from memstudio.core.device import default_device

    return args.device or default_device()


def write_outputs(spec: Any, sources: Any, outputs: list[Path], panels_dir: Path | None = None) -> list[Path]:
    """Render once (a job under tqdm) and save the scene in every requested format (and the panels)."""
    from memstudio.core.figures.build import compose_job
    from memstudio.core.figures.export import output_format, save_scene, sidecar_path
    from memstudio.core.figures.panels import panel_writer
    from memstudio.core.jobs import run_with_tqdm

    for out in outputs:
        output_format(out)
    with panel_writer(panels_dir) as writer:
        job = compose_job(spec, sources, writer.add if writer is not None else None)
        scene, metadata = run_with_tqdm(job, "rendering")
        written = [save_scene(scene, out, metadata, spec.output.dpi, outputs) for out in outputs]
        if writer is not None:
            written.append(writer.finish(sidecar_path(written[0])))
    return written


def rerender(args: argparse.Namespace) -> int:
    """``--from``: the spec decides everything; only the output paths come from the command line."""
    from memstudio.core.figures.plots import replot_job
    from memstudio.core.figures.sources import open_sources
    from memstudio.core.figures.spec import FigureSpec, FigureSpecError
    from memstudio.core.jobs import run_with_tqdm

    if not args.output:
        raise FigureSpecError("--from needs an output file (-o OUT.png|pdf|svg)")
    spec = FigureSpec.load(args.from_)
    check = not args.no_check_hashes
    if spec.kind == "plot":
        if getattr(args, "panels", None) is not None:
            raise FigureSpecError("a plot has no image panels to write (--panels)")
        for out in args.output:
            print(run_with_tqdm(replot_job(args.from_, out, device_of(args), check), "plotting"))
        return 0
    sources = open_sources(spec, device_of(args), check_hashes=check)
    for path in write_outputs(spec, sources, args.output, getattr(args, "panels", None)):
        print(path)
    return 0


def open_from_args(args: argparse.Namespace, heatmap: dict[str, Any] | None = None) -> Any:
    from memstudio.core.figures.inputs import open_inputs

    return open_inputs(
        generator=args.generator,
        photos=args.photo,
        directions=args.direction,
        assessors=args.assessor,
        device=device_of(args),
        heatmap=heatmap,
    )


def run(args: argparse.Namespace) -> int:
    from memstudio.core.figures.build import make_spec
    from memstudio.core.figures.inputs import parse_seeds
    from memstudio.core.figures.spec import FigureSpecError
    from memstudio.core.figures.stream import batch_strips_job
    from memstudio.core.jobs import run_with_tqdm

    if args.from_ is not None:
        return rerender(args)
    heatmap = heatmap_row(args)
    inputs = open_from_args(args, heatmap)
    seeds: list[Any] = list(args.photo) if args.photo else parse_seeds(args.seed)
    common = dict(
        directions=inputs.spec_args["directions"],
        assessors=inputs.spec_args["assessors"],
        generator=inputs.spec_args["generator"],
        generator_source=inputs.spec_args["generator_source"],
        alphas=args.alphas,
        truncation=args.trunc,
        class_index=args.class_index,
        **({"heatmap": heatmap} if heatmap else {}),
        **style_options(args),
    )
    if len(seeds) > 1 or args.out_dir is not None:
        if args.out_dir is None:
            raise FigureSpecError("several seeds or photos make several strips: give --out-dir DIR")
        spec = make_spec("strip", seeds=seeds, **common)
        job = batch_strips_job(spec, inputs.sources, args.out_dir, tuple(args.format), args.panels)
        for path in run_with_tqdm(job, "strips"):
            print(path)
        if args.panels is not None:
            print(args.panels / "manifest.json")
        return 0
    if not args.output:
        raise FigureSpecError("give an output file (-o OUT.png|pdf|svg)")
    spec = make_spec("strip", seeds=seeds, **common)
    for path in write_outputs(spec, inputs.sources, args.output, args.panels):
        print(path)
    return 0
