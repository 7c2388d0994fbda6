"""``memstudio gui [PATH...]`` (also plain ``memstudio``): open the studio, optionally on photos or folders."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the studio (the default when no command is given)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="photos or folders to open")
    p.add_argument(
        "--screenshot", metavar="PNG", help="save a screenshot once the first scores are shown, then quit"
    )
    p.add_argument("--report-startup", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.ui.app import run_studio

    return run_studio(args.paths, screenshot=args.screenshot, report_startup=args.report_startup)
