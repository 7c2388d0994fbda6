"""``memstudio plot``: mean score vs α with error bars (paper 000 Fig. 3A) and image factors vs α (Fig. 3B).

By default the numbers come from the direction file's evidence. With ``--generator`` or ``--photo`` they are
computed here instead: every seed at every α, scored by the first ``--assessor`` (the curve) and the others
(the factors, e.g. brightness, colorfulness, redness, entropy).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from memstudio.cli.commands.strip import DEFAULT_ALPHAS, add_width_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plot",
        help="plot mean score vs α (with error bars) and image factors vs α for a direction",
        description="Plot a direction's evidence, or scores computed now over --seeds.",
    )
    p.add_argument("direction", type=Path, metavar="DIRECTION_FILE")
    p.add_argument("-o", "--output", type=Path, action="append", required=True, help="OUT.png|pdf|svg")
    p.add_argument("--factors-output", type=Path, action="append", default=[], help="factor plot file(s)")
    p.add_argument("--error", choices=["sem", "std", "ci95"], default="sem", help="what the error bars show")
    p.add_argument("--title", default="")
    add_width_options(p, "PNG", "the curves")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--generator", metavar="NAME_OR_PATH", help="compute scores with this generator")
    source.add_argument("--photo", nargs="+", default=[], metavar="PATH", help="compute scores over photos")
    p.add_argument("--seeds", nargs="+", default=["0-9"], help="seeds to score (with --generator)")
    p.add_argument("--alphas", nargs="+", type=float, default=DEFAULT_ALPHAS, metavar="A")
    p.add_argument(
        "--assessor", action="append", default=[], metavar="NAME", help="first: curve; rest: factors"
    )
    p.add_argument("--trunc", type=float, default=1.0)
    p.add_argument("--class", dest="class_index", type=int)
    p.add_argument("--device")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.cli.commands.strip import width_options
    from memstudio.core.directions.base import Direction
    from memstudio.core.figures import plots
    from memstudio.core.figures.sources import record_direction
    from memstudio.core.figures.spec import FigureSpec, OutputOptions

    direction = Direction.load(args.direction)
    output = OutputOptions(title=args.title, **width_options(args))
    if args.generator or args.photo:
        spec, score, factors, raw = _computed(args, direction)
    else:
        score, factors = plots.curves_from_evidence(direction.evidence, args.error)
        raw = {}
        spec = FigureSpec(
            kind="plot",
            generator=dict(direction.generator),
            assessors=[dict(direction.assessor)] if direction.assessor else [],
            directions=[record_direction(direction, args.direction)],
            alphas=score.alphas,
            output=output,
        )
    spec.plot = {"source": "computed" if raw else "evidence", "error": args.error}
    spec.output = output
    data = {"score": plots.plot_data({score.label: score})[score.label]}
    fig = plots.score_figure(score, title=args.title, output=output)
    for path in args.output:
        print(plots.save_plot(fig, path, spec, data, args.output))
    if args.factors_output:
        normalized = {n: plots.normalized_factor(c, raw.get(n)) for n, c in factors.items()}
        fig = plots.factors_figure(normalized, title=args.title, output=output)
        factor_data = {"factors": plots.plot_data(normalized)}
        for path in args.factors_output:
            print(plots.save_plot(fig, path, spec, factor_data, args.factors_output))
    return 0


def _computed(args: argparse.Namespace, direction: Any) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    from memstudio.cli.commands.strip import device_of
    from memstudio.core.figures import plots
    from memstudio.core.figures.build import make_spec
    from memstudio.core.figures.inputs import open_inputs, parse_seeds
    from memstudio.core.jobs import run_with_tqdm

    inputs = open_inputs(
        generator=args.generator,
        photos=args.photo,
        directions=[args.direction],
        assessors=args.assessor,
        device=device_of(args),
    )
    seeds: list[Any] = list(args.photo) if args.photo else parse_seeds(args.seeds)
    spec = make_spec(
        "plot",
        seeds=seeds,
        alphas=args.alphas,
        truncation=args.trunc,
        class_index=args.class_index,
        **inputs.spec_args,
    )
    scores = run_with_tqdm(plots.collect_scores_job(spec, inputs.sources), "scoring")
    names = list(scores)
    score = plots.curve_from_scores(names[0], spec.alphas, scores[names[0]], args.error)
    factors = {n: plots.curve_from_scores(n, spec.alphas, scores[n], args.error) for n in names[1:]}
    return spec, score, factors, {n: scores[n] for n in names[1:]}
