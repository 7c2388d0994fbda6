"""``memstudio import-model PATH [--name NAME]``: store a public checkpoint in the model cache."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-model",
        help="import a StyleGAN .pkl / rosinality .pt / BigGAN folder into the model cache",
        description=(
            "Read a generator checkpoint without running code in it (NVIDIA network pickle, rosinality "
            "stylegan2-pytorch .pt, or a pytorch-pretrained-biggan folder) and store it as safetensors + "
            "JSON under a name that 'memstudio render --generator NAME' and the studio accept."
        ),
    )
    parser.add_argument("path", help="checkpoint file or BigGAN folder")
    parser.add_argument("--name", help="name to store it under (default: from the file name)")
    parser.add_argument(
        "--replace", action="store_true", help="overwrite a stored model of that name made from another file"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.core.generators.store import import_model

    model = import_model(args.path, name=args.name, replace=args.replace)
    print(f"name:       {model.name}")
    print(f"family:     {model.family}")
    print(f"resolution: {model.resolution}")
    print(f"num_ws:     {model.num_ws}")
    print(f"sha256:     {model.source_sha256}")
    print(f"stored in:  {model.path}")
    return 0
