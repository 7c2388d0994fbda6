"""``memstudio vms``: train the VMS map predictor of paper 003 on (image, map) pairs, and predict with it.

Data layout: ``DATA_DIR/images/NAME.jpg`` + ``DATA_DIR/maps/NAME.png`` (grey) or ``NAME.npy``; optionally a
fixed split in ``DATA_DIR/train/`` and ``DATA_DIR/val/``. The checkpoint is a folder (vms.json +
vms.safetensors) written after every epoch and on Ctrl-C; ``--resume`` continues it. Under ``torchrun``
training is data-parallel (gradients summed over the processes, see :mod:`memstudio.core.maps.vms_train`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memstudio.core.errors import MemstudioError


def _channels(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"channel layout {text!r}: use e.g. 3,32,64,128") from exc
    if not values:
        raise argparse.ArgumentTypeError("empty channel layout")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vms",
        help="train or apply a VMS memorability-map predictor (paper 003)",
        description="U-Net generator + PatchGAN/scalar discriminator predicting visual memory schema maps.",
    )
    sub = parser.add_subparsers(dest="vms_command", metavar="ACTION", required=True)
    train = sub.add_parser("train", help="train on a folder of (image, map) pairs")
    train.add_argument("data", help="DATA_DIR with images/ and maps/ (or train/ and val/)")
    train.add_argument("-o", "--output", required=True, help="checkpoint folder")
    train.add_argument("--epochs", type=int, default=100, help="total epochs (default 100)")
    train.add_argument("--resume", action="store_true", help="continue the checkpoint in --output")
    train.add_argument("--image-size", type=int, default=256, help="training resolution (default 256)")
    train.add_argument("--batch-size", type=int, default=8, help="per process (global batch: × processes)")
    train.add_argument("--encoder", type=_channels, help="encoder layout (default 3,32,64,128,256,512)")
    train.add_argument("--decoder", type=_channels, help="decoder layout (default 512,256,128,64,32)")
    train.add_argument("--disc-channels", type=_channels, help="discriminator layout (default 4,100,…,1600)")
    train.add_argument("--norm", choices=("batch", "instance", "none"), default="batch")
    train.add_argument("--discriminator", choices=("patch", "scalar"), default="patch")
    train.add_argument("--optimizer-g", choices=("adam", "sgd"), default="sgd")
    train.add_argument("--optimizer-d", choices=("adam", "sgd"), default="adam")
    train.add_argument("--lr-g", type=float, default=0.01)
    train.add_argument("--lr-d", type=float, default=0.001)
    train.add_argument("--lambda-l1", type=float, default=1.0, help="λ weighting the L1 term of L_G")
    train.add_argument("--rgb-maps", action="store_true", help="maps are RGB images (3 channels)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", help="torch device (default: CUDA if present, else CPU)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=run_train)
    predict = sub.add_parser("predict", help="predict the map of an image with a trained checkpoint")
    predict.add_argument("checkpoint", help="checkpoint folder")
    predict.add_argument("image", help="image file")
    predict.add_argument(
        "-o", "--output", required=True, help="output .png (grey values, or --colormap) or .npy"
    )
    predict.add_argument(
        "--colormap", default="gray", help="colormap for .png (default gray: the raw values)"
    )
    predict.add_argument("--device", help="torch device")
    predict.set_defaults(func=run_predict)


def _config(args: argparse.Namespace, processes: int = 1):
    from memstudio.core.maps.vms import VMSConfig

    map_channels = 3 if args.rgb_maps else 1
    values: dict[str, object] = {
        "image_size": args.image_size,
        "batch_size": args.batch_size * processes,
        "norm": args.norm,
        "discriminator_norm": args.norm,
        "discriminator": args.discriminator,
        "optimizer_g": args.optimizer_g,
        "optimizer_d": args.optimizer_d,
        "lr_g": args.lr_g,
        "lr_d": args.lr_d,
        "lambda_l1": args.lambda_l1,
        "map_channels": map_channels,
        "seed": args.seed,
        "discriminator_channels": args.disc_channels or (3 + map_channels, 100, 200, 400, 800, 1600),
    }
    if args.encoder:
        values["encoder_channels"] = args.encoder
        values["decoder_channels"] = args.decoder or (args.encoder[-1], *reversed(args.encoder[1:-1]))
    elif args.decoder:
        raise MemstudioError("--decoder needs --encoder too")
    return VMSConfig(**values)


def run_train(args: argparse.Namespace) -> int:
    import torch

    from memstudio.core import distributed
    from memstudio.core.device import default_device
    from memstudio.core.jobs import run_with_tqdm
    from memstudio.core.maps.vms_train import train_job

    with distributed.session(torch.device(args.device) if args.device else default_device()) as ctx:
        # --batch-size is per process: the global batch of W processes is W times larger.
        config = None if args.resume else _config(args, ctx.world_size)
        job = train_job(
            args.data, args.output, config, epochs=args.epochs, resume=args.resume, device=ctx.device, ctx=ctx
        )
        try:
            result = run_with_tqdm(job, "vms train", disable=args.quiet or not ctx.is_main)
        finally:
            job.close()  # on Ctrl-C this saves the checkpoint of the epochs finished so far
        if not ctx.is_main:
            return 0
    for h in result.history[-3:]:
        print(f"epoch {h['epoch']}: L_G {h['loss_g']:.4f}  L_D {h['loss_d']:.4f}  val L1 {h['val_l1']:.4f}")
    print(f"mean-map baseline val L1 {result.baseline_val_l1:.4f}")
    print(Path(result.checkpoint))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    import torch

    from memstudio.core.device import default_device
    from memstudio.core.imaging import load_image, pil_to_tensor
    from memstudio.core.maps.io import save_map
    from memstudio.core.maps.vms_checkpoint import predict_vms

    device = torch.device(args.device) if args.device else default_device()
    image = pil_to_tensor(load_image(args.image).image).to(device)
    heat = predict_vms(image, args.checkpoint, device)
    print(save_map(heat, args.output, colormap=args.colormap))
    return 0
