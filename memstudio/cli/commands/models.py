"""``memstudio models``: every generator and assessor, whether it can run here, why not, how to get it."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list generators and assessors and whether they are available")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def rows() -> list[dict[str, str]]:
    """One row per model: kind, name, status, detail (why / how to get it), licence."""
    from memstudio.core.assessors.registry import ASSESSORS
    from memstudio.core.generators.store import list_models

    out = [
        {
            "kind": "generator",
            "name": "photo",
            "status": "available",
            "detail": "built-in photo editor over any image (exposure, contrast, colour, zoom, vignette, sharpness)",
            "licence": "MIT",
        }
    ]
    stored = list_models()
    for model in stored:
        out.append(
            {
                "kind": "generator",
                "name": model.name,
                "status": "available",
                "detail": f"{model.family}, imported into the model cache (sha256 {model.source_sha256[:12]}…)",
                "licence": "as the original checkpoint",
            }
        )
    how = {
        "stylegan2": "NVIDIA stylegan2-ada-pytorch / stylegan3 .pkl or rosinality .pt: `memstudio import-model FILE`",
        "stylegan3": "NVIDIA stylegan3 .pkl (T or R): `memstudio import-model FILE`",
        "biggan": "pytorch-pretrained-biggan folder (config.json + pytorch_model.bin): `memstudio import-model DIR`",
    }
    families = {m.family for m in stored}
    for family, text in how.items():
        if family not in families:
            out.append(
                {
                    "kind": "generator",
                    "name": family,
                    "status": "not available",
                    "detail": f"weights are not bundled (they cannot be redistributed or downloaded here); {text}",
                    "licence": "NVIDIA Source Code License-NC" if family.startswith("stylegan") else "MIT",
                }
            )
    for info in ASSESSORS.values():
        ok, reason = info.available()
        out.append(
            {
                "kind": "assessor",
                "name": info.name,
                "status": "available" if ok else "not available",
                "detail": info.description if ok else reason,
                "licence": info.licence,
            }
        )
    out.extend(_trained_rows())
    return out


def _trained_rows() -> list[dict[str, str]]:
    """Assessors trained from ratings (``memstudio assessor train``), with their held-out evidence."""
    from memstudio.core.assessors.registry import trained_assessors

    rows = []
    for info in trained_assessors():
        ok, reason = info.available()
        rows.append(
            {
                "kind": "assessor",
                "name": info.name,
                "status": "available" if ok else "not available",
                "detail": info.description if ok else f"{info.description}; {reason}",
                "licence": info.licence,
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    table = rows()
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    width = max(len(r["name"]) for r in table)
    for r in table:
        print(f"{r['kind']:<9}  {r['name']:<{width}}  {r['status']:<13}  {r['detail']}  [{r['licence']}]")
    return 0
