"""``memstudio import-model PATH [--name NAME]``: store a public checkpoint in the model cache."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-model",
        help="import a generator (StyleGAN .pkl / rosinality .pt / BigGAN folder) or an assessor file "
        "(NIMA .hdf5, MemNet / EmoNet .pth) into the model cache",
        description=(
            "Read a generator checkpoint without running code in it (NVIDIA network pickle, rosinality "
            "stylegan2-pytorch .pt, or a pytorch-pretrained-biggan folder) and store it as safetensors + "
            "JSON under a name that 'memstudio render --generator NAME' and the studio accept. Assessor files "
            "(idealo's NIMA Keras HDF5, a MemNet or EmoNet PyTorch state dict) are recognised from their content "
            "and stored as assessors that '-a NAME' accepts."
        ),
    )
    parser.add_argument("path", help="checkpoint file or BigGAN folder")
    parser.add_argument("--name", help="name to store it under (default: from the file name)")
    parser.add_argument(
        "--replace", action="store_true", help="overwrite a stored model of that name made from another file"
    )
    parser.add_argument(
        "--mean", help="MemNet only: its 256x256 mean image (.mat with 'image_mean', or .npy), if the .pth lacks it"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.core.assessors.imported import identify_assessor_file, import_assessor
    from memstudio.core.errors import MemstudioError
    from memstudio.core.generators.importing import import_model

    if identify_assessor_file(args.path) is not None:
        options = {"mean": args.mean} if args.mean else {}
        record = import_assessor(args.path, name=args.name, replace=args.replace, **options)
        print(f"name:       {record.name}")
        print(f"assessor:   {record.family}")
        print(f"sha256:     {record.source_sha256}")
        print(f"stored in:  {record.path}")
        print(f"use it:     memstudio score -a {record.name} IMAGE")
        return 0
    if args.mean:
        raise MemstudioError(f"--mean is for MemNet state dicts; {args.path} is not one")

    model = import_model(args.path, name=args.name, replace=args.replace)
    print(f"name:       {model.name}")
    print(f"family:     {model.family}")
    print(f"resolution: {model.resolution}")
    print(f"num_ws:     {model.num_ws}")
    print(f"sha256:     {model.source_sha256}")
    print(f"stored in:  {model.path}")
    return 0
