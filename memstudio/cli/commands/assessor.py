"""``memstudio assessor train|eval|info|remove``: assessors trained from your own ratings.

``train`` reads a ratings CSV (``path,rating[,group]``, paths relative to the CSV's folder), learns a ridge
(or MLP) head on a pretrained trunk (ResMem's, or ``--trunk nima:NAME``: an imported NIMA's MobileNet),
reports k-fold cross-validated Spearman ρ with its 95 % CI (and the raters' split-half ceiling when a group
column names them), and stores the assessor under ``--name``: afterwards ``memstudio score -a NAME``,
directions, heatmaps and the studio use it like any other.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "assessor",
        help="train an assessor from your own ratings, evaluate, inspect or remove one",
        description="Assessors trained from a ratings CSV on a pretrained trunk (ResMem's or an imported NIMA's).",
    )
    sub = parser.add_subparsers(dest="assessor_command", metavar="ACTION", required=True)

    train = sub.add_parser("train", help="train and cross-validate an assessor from a ratings CSV")
    train.add_argument("ratings", help="CSV of path,rating[,group] (a header may name path/rating/group/source)")
    train.add_argument("--name", required=True, help="name to store it under (then: memstudio score -a NAME)")
    train.add_argument("--property", default="rating", help="what the ratings measure, e.g. aesthetics")
    train.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    train.add_argument(
        "--head",
        choices=("ridge", "mlp"),
        default="ridge",
        help="ridge (default; closed form, right for tens to hundreds of ratings) or a one-hidden-layer MLP",
    )
    train.add_argument(
        "--trunk",
        default="resmem",
        metavar="TRUNK",
        help="features to learn from: resmem (default; ResMem's ResNet-152) or nima:NAME, the MobileNet of a "
        "NIMA file imported with `memstudio import-model FILE --name NAME` (made for aesthetics, ~20x faster)",
    )
    train.add_argument("--seed", type=int, default=0, help="seed of the fold split and the bootstrap")
    train.add_argument("--replace", action="store_true", help="overwrite a trained assessor of that name")
    train.add_argument("-o", "--output", help="also write each image's out-of-fold prediction to this CSV")
    train.add_argument("--json", action="store_true", help="print the stored evidence as JSON")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=run_train)

    evaluate = sub.add_parser("eval", help="Spearman ρ of any assessor's scores against a ratings CSV")
    evaluate.add_argument("name", help="assessor name (trained or built-in)")
    evaluate.add_argument("ratings", help="ratings CSV of images the assessor did not see in training")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(func=run_eval)

    info = sub.add_parser("info", help="a trained assessor's evidence and provenance")
    info.add_argument("name")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=run_info)

    remove = sub.add_parser("remove", help="delete a trained assessor from the assessor store")
    remove.add_argument("name")
    remove.set_defaults(func=run_remove)


def run_train(args: argparse.Namespace) -> int:
    from memstudio.core.assessors.from_ratings import train_job
    from memstudio.core.device import default_device
    from memstudio.core.jobs import run_with_tqdm

    job = train_job(
        args.ratings,
        args.name,
        property_name=args.property,
        folds=args.folds,
        seed=args.seed,
        replace=args.replace,
        device=default_device(),
        report=args.output,
        head=args.head,
        trunk=args.trunk,
    )
    result = run_with_tqdm(job, f"training {args.name}", disable=args.quiet)
    record = result.record
    if args.json:
        print(json.dumps({"name": record.name, "evidence": record.evidence, "data": record.data}, indent=2))
    else:
        print(record.summary())
        print(f"stored in: {record.path}")
        if args.output:
            print(f"out-of-fold predictions: {args.output}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from memstudio.core.assessors.from_ratings import evaluate_job
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.device import default_device
    from memstudio.core.jobs import run_with_tqdm

    device = default_device()
    assessor = load_assessor(args.name, device)
    out = run_with_tqdm(evaluate_job(assessor, args.ratings, device=device), f"scoring with {args.name}", args.quiet)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        low, high = out["ci95"]
        print(
            f"{args.name} vs {out['ratings_csv']}: Spearman ρ = {out['spearman_rho']:.3f} "
            f"[95% CI {low:.3f}, {high:.3f}] over {out['n_images']} images ({out['ci_method']})"
        )
    return 0


def run_info(args: argparse.Namespace) -> int:
    from memstudio.core.assessors.trained import TrainedError, find_trained
    record = find_trained(args.name)
    if record is None:
        raise TrainedError(f"no trained assessor named {args.name!r} (list them with `memstudio models`)")
    if args.json:
        out = {"name": record.name, "property": record.property, "path": str(record.path)}
        out.update(evidence=record.evidence, data=record.data, trunk=record.trunk_name)
        out.update(trunk_sha256=record.trunk_sha256)
        print(json.dumps(out, indent=2))
        return 0
    print(record.summary())
    ev, data = record.evidence, record.data
    print(f"property:        {record.property} (range {record.score_range[0]:g} … {record.score_range[1]:g})")
    what = "ridge λ/blocks" if record.head == "ridge" else "MLP weight decay"
    print(f"head:            {record.head}, {what} {ev['alpha']:g} (chosen by inner cross-validation)")
    print(f"per-fold ρ:      {', '.join('n/a' if r is None else f'{r:.2f}' for r in ev['fold_rho'])}")
    print(f"CI method:       {ev['ci_method']}")
    print(f"ratings:         {data['ratings_csv']} (sha256 {data['ratings_sha256'][:16]}…)")
    print(f"images sha256:   {data['images_sha256'][:16]}…")
    print(f"trunk sha256:    {record.trunk_sha256[:16]}… ({record.trunk_name})")
    print(f"trained at:      {record.trained_at}")
    print(f"stored in:       {record.path}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from memstudio.core.assessors.trained import remove_trained

    remove_trained(args.name)
    print(f"removed {args.name}", file=sys.stderr)
    return 0
