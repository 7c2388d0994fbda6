"""``memstudio score``: score images and folders with any assessors; bad files reported, the rest scored."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score images and folders (JSON lines or a table)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files and folders")
    p.add_argument(
        "--assessor",
        "-a",
        action="append",
        dest="assessors",
        metavar="NAME",
        help="assessor to use (repeatable; default: resmem). See `memstudio models`.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.add_argument("--batch-size", type=int, default=4)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.device import default_device
    from memstudio.core.imaging import expand_paths
    from memstudio.core.scoring import ScoreFailure, score_paths
    from memstudio.core.unavailable import Unavailable

    device = default_device()
    names = args.assessors or ["resmem"]
    assessors = {name: load_assessor(name, device) for name in names}
    failed = 0
    paths = []
    for raw in args.paths:
        try:
            paths += expand_paths([raw])
        except Exception as exc:  # noqa: BLE001 - a bad folder is reported like a bad file
            print(f"memstudio: {exc}", file=sys.stderr)
            failed += 1
    if not args.json:
        print("\t".join(["path", *names]))
    for result in score_paths(paths, assessors, batch_size=args.batch_size, device=device):
        if isinstance(result, ScoreFailure):
            failed += 1
            print(f"memstudio: {result.message}", file=sys.stderr)
            continue
        if args.json:
            # A score that does not exist is null, with the reason under "unavailable" (valence: no face).
            row: dict[str, object] = {
                "path": str(result.path),
                "scores": {n: None if isinstance(v, Unavailable) else v for n, v in result.values.items()},
            }
            missing = {n: v.reason for n, v in result.values.items() if isinstance(v, Unavailable)}
            if missing:
                row["unavailable"] = missing
            if result.details:
                row["details"] = result.details
            print(json.dumps(row), flush=True)
        else:
            cells = [_cell(result.values[n], assessors[n].decimals + 1, result.details.get(n)) for n in names]
            print("\t".join([str(result.path), *cells]), flush=True)
    return 2 if failed else 0


def _cell(value: object, decimals: int, details: dict[str, object] | None) -> str:
    """A table cell: the score (or "n/a · why"), then the assessor's top class where it has one (valence)."""
    text = f"{value:.{decimals}f}"
    top = (details or {}).get("top")
    return f"{text} {top}" if top else text
