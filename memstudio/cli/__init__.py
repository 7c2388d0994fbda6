"""The ``memstudio`` command: every subcommand calls the Qt-free core; no arguments opens the studio.

Subcommands live one per module in :mod:`memstudio.cli.commands`; each module defines
``register(subparsers)`` and is discovered automatically, so adding a command touches one file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from memstudio.core.errors import MemstudioError


def build_parser() -> argparse.ArgumentParser:
    from memstudio.cli import commands

    parser = argparse.ArgumentParser(
        prog="memstudio",
        description="See and edit what makes an image memorable, beautiful or positive.",
    )
    from memstudio import __version__

    parser.add_argument("--version", action="version", version=f"memstudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``memstudio`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui"])
    try:
        return int(args.func(args) or 0)
    except MemstudioError as exc:
        print(f"memstudio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memstudio: interrupted", file=sys.stderr)
        return 130


def gui_main() -> int:
    """Entry point of the ``memstudio-gui`` launcher (desktop entry)."""
    return main(["gui"])
