"""``memstudio models``: every generator and assessor, whether it can run here, why not, how to get it."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list generators and assessors and whether they are available")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.core.model_list import model_rows

    table = model_rows()
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    width = max(len(r["name"]) for r in table)
    for r in table:
        print(f"{r['kind']:<9}  {r['name']:<{width}}  {r['status']:<13}  {r['detail']}  [{r['licence']}]")
        if r["location"] not in ("-", "built in", "formula (no weights)"):
            print(f"{'':<9}  {'':<{width}}  {'':<13}  at {r['location']}")
    return 0
