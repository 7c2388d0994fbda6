"""``memstudio score``: score images and folders with any assessors; bad files reported, the rest scored.

Under ``torchrun`` the paths are shared out among the processes (see :mod:`memstudio.core.distributed`) and
rank 0 prints or writes every result in input order; ``-o`` makes the output a resumable JSON lines file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.errors import MemstudioError

if TYPE_CHECKING:
    from memstudio.core.distributed import DistContext
    from memstudio.core.scoring import ImageScores


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="score images and folders (JSON lines or a table)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="image files and folders")
    p.add_argument(
        "--from",
        dest="lists",
        action="append",
        metavar="LIST",
        help="a file listing images: one path per line, or a .csv with a 'path' column (repeatable)",
    )
    p.add_argument(
        "--assessor",
        "-a",
        action="append",
        dest="assessors",
        metavar="NAME",
        help="assessor to use (repeatable; default: resmem). See `memstudio models`.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.add_argument(
        "-o",
        "--output",
        help="write JSON lines here instead of printing; started again, skips the paths already in it",
    )
    p.add_argument("--batch-size", type=int, default=4, help="images per forward pass (per process)")
    p.add_argument(
        "--csv",
        metavar="CSV",
        help="write the studio's Score a folder table instead (path, one column per assessor, error), "
        "atomically once every image is scored; one process",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.core import distributed
    from memstudio.core.device import default_device

    if not args.paths and not args.lists:
        raise MemstudioError("nothing to score: give image files, folders or --from LIST")
    if args.csv:
        return run_csv(args)
    with distributed.session(default_device()) as ctx:
        return _run(args, ctx)


def run_csv(args: argparse.Namespace) -> int:
    """``--csv``: the core job of the studio's Score a folder (:class:`~memstudio.core.session.scoring.ScoreFolder`),
    so the file is the studio's, byte for byte; the summary line is its job card's."""
    from memstudio.core import distributed
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.device import default_device
    from memstudio.core.jobs import run_with_tqdm
    from memstudio.core.scoring import score_to_csv_job

    if args.json or args.output:
        raise MemstudioError("--csv writes one table: give it without --json and -o")
    if distributed.launched_by_torchrun() and int(os.environ["WORLD_SIZE"]) > 1:
        raise MemstudioError("--csv scores in one process: run it without torchrun (or use -o for JSON lines)")
    paths, failed, _ = _work_list(args)
    device = default_device()
    assessors = {name: load_assessor(name, device) for name in args.assessors or ["resmem"]}
    result = run_with_tqdm(score_to_csv_job(paths, assessors, Path(args.csv), device=device), "scoring")
    print(f"{result['scored']} scored, {result['failed']} failed → {result['csv']}")
    return 2 if failed or result["failed"] else 0


def _work_list(args: argparse.Namespace) -> tuple[list[Path], int, int]:
    """(paths still to score, folders and lists that failed, paths skipped as already in the output)."""
    from memstudio.core.imaging import expand_paths, read_path_list
    from memstudio.core.score_log import read_done

    failed = 0
    paths: list[Path] = []
    for raw in args.paths:
        try:
            paths += expand_paths([raw])
        except Exception as exc:  # noqa: BLE001 - a bad folder is reported like a bad file
            print(f"memstudio: {exc}", file=sys.stderr)
            failed += 1
    for listing in args.lists or []:
        try:
            paths += read_path_list(listing)
        except MemstudioError as exc:
            print(f"memstudio: {exc}", file=sys.stderr)
            failed += 1
    done = read_done(Path(args.output)) if args.output else set()
    todo = [p for p in paths if str(p) not in done]
    return todo, failed, len(paths) - len(todo)


def _run(args: argparse.Namespace, ctx: DistContext) -> int:
    from memstudio.core import distributed
    from memstudio.core.assessors.registry import load_assessor
    from memstudio.core.score_log import ScoreLog
    from memstudio.core.scoring import ScoreFailure, score_paths_sharded

    names = args.assessors or ["resmem"]
    assessors = {name: load_assessor(name, ctx.device) for name in names}
    distributed.check_same_models(ctx, {f"assessor {n}": a.checkpoint_hash for n, a in assessors.items()})
    paths, failed, skipped = distributed.run_on_main(lambda: _work_list(args), ctx, "listing the images")
    log = ScoreLog(Path(args.output)) if args.output and ctx.is_main else None
    if ctx.is_main and not args.json and log is None:
        print("\t".join(["path", *names]))
    scored = 0
    try:
        for result, rank in score_paths_sharded(paths, assessors, ctx, args.batch_size):
            if not ctx.is_main:
                continue
            if isinstance(result, ScoreFailure):
                failed += 1
                where = f"rank {rank}: " if ctx.is_distributed else ""
                print(f"memstudio: {where}{result.message}", file=sys.stderr)
                if log is not None:
                    log.write({"path": str(result.path), "error": result.message})
                continue
            scored += 1
            if log is not None:
                log.write(_json_row(result))
            elif args.json:
                print(json.dumps(_json_row(result)), flush=True)
            else:
                cells = [_cell(result.values[n], assessors[n].decimals + 1, result.details.get(n)) for n in names]
                print("\t".join([str(result.path), *cells]), flush=True)
    finally:
        if log is not None:
            log.close()
    if log is not None:
        print(
            f"memstudio: {scored} scored, {failed} failed, {skipped} already in {log.path}",
            file=sys.stderr,
        )
    failed = distributed.broadcast(failed, ctx, "sharing the exit status")
    return 2 if failed else 0


def _json_row(result: ImageScores) -> dict[str, object]:
    """A JSON line: a score that does not exist is null, with the reason under "unavailable" (valence: no face)."""
    from memstudio.core.unavailable import Unavailable

    row: dict[str, object] = {
        "path": str(result.path),
        "scores": {n: None if isinstance(v, Unavailable) else v for n, v in result.values.items()},
    }
    missing = {n: v.reason for n, v in result.values.items() if isinstance(v, Unavailable)}
    if missing:
        row["unavailable"] = missing
    if result.details:
        row["details"] = result.details
    return row


def _cell(value: object, decimals: int, details: dict[str, object] | None) -> str:
    """A table cell: the score (or "n/a · why"), then the standard deviation where the assessor gives one
    (NIMA: ``5.43 ± 1.72``) and its top class where it has one (valence)."""
    text = f"{value:.{decimals}f}"
    std = (details or {}).get("std")
    if isinstance(std, float):
        text += f" ± {std:.{decimals}f}"
    top = (details or {}).get("top")
    return f"{text} {top}" if top else text
