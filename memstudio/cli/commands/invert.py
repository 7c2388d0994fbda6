"""``memstudio invert PHOTO --generator NAME -o latent.npz``: align a face photo and project it into W / W+.

The latent file opens in the studio's seed browser (named after the photo) and edits with every direction.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def step_count(text: str) -> int:
    """argparse type: at least one optimisation step."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "invert",
        help="project a face photo into a StyleGAN's W or W+ space (a latent file)",
        description="Detect and FFHQ-align the face, then optimise a latent (StyleGAN2-ADA projector) "
        "that renders it.",
    )
    parser.add_argument("photo", help="photo with a face (or an aligned face with --aligned)")
    parser.add_argument("--generator", required=True, help="stored model name or checkpoint path")
    parser.add_argument("-o", "--output", required=True, help="latent file to write (.npz)")
    parser.add_argument("--space", choices=("w", "w+"), default="w+", help="latent space (default w+)")
    parser.add_argument("--steps", type=step_count, default=1000, help="optimisation steps (default 1000)")
    parser.add_argument("--w-first", type=float, help="fraction of steps in W before W+ (default 0.3)")
    parser.add_argument("--face", type=int, help="index of the face, largest first (default: the largest)")
    parser.add_argument("--aligned", action="store_true", help="the photo is already FFHQ-aligned")
    parser.add_argument(
        "--loss",
        choices=("auto", "pixel", "resmem", "lpips", "mse"),
        default="auto",
        help="auto: LPIPS if --vgg16 and --lpips are given, else multi-scale pixels",
    )
    parser.add_argument("--vgg16", help="torchvision VGG16 weights (vgg16-397923af.pth) for LPIPS")
    parser.add_argument("--lpips", help="LPIPS linear heads (vgg.pth of PerceptualSimilarity)")
    parser.add_argument("--seed", type=int, default=303, help="seed of the noise inits (default 303)")
    parser.add_argument("--device", help="torch device (default: CUDA if available)")
    parser.add_argument("--save-image", help="also write the reconstruction as an image")
    parser.add_argument("--identity", action="store_true", help="report the dlib identity distance")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from memstudio.core.atomic import refuse_inputs, save_image_atomic
    from memstudio.core.device import default_device
    from memstudio.core.faces.invert import render_latent
    from memstudio.core.imaging import load_image, tensor_to_pil
    from memstudio.core.jobs import run_to_end, run_with_tqdm
    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.faces import AlignFace, InvertFace
    from memstudio.core.session.generators import OpenGenerator

    refuse_inputs([p for p in (args.output, args.save_image) if p], [args.photo, args.generator])
    device = torch.device(args.device) if args.device else default_device()
    # The studio's commands on a pipeline of our own: open the generator, align the face, invert it.
    pipeline = Pipeline(device)
    run_to_end(OpenGenerator(args.generator).steps(pipeline))
    generator = pipeline.generator
    landmarks = None
    if args.aligned:
        target = load_image(args.photo).image
    else:
        align = AlignFace(str(args.photo), face_index=args.face, source_name=str(args.photo))
        _, _, aligned = align.align(device, generator)  # at the generator's resolution
        target, landmarks = aligned.image, aligned.aligned_landmarks
    options = {"space": args.space, "num_steps": args.steps, "seed": args.seed}
    if args.w_first is not None:
        options["w_first"] = args.w_first
    label = Path(args.photo).stem
    command = InvertFace(
        target=target,
        key=f"face:{label}",
        label=label,
        latent_path=str(args.output),
        settings=options,
        loss=args.loss,
        vgg16=args.vgg16,
        lpips=args.lpips,
    )
    outcome = run_with_tqdm(command.steps(pipeline), "invert", args.quiet)
    print(
        f"{outcome['path']}: {outcome['space']} latent of {label!r}, {outcome['steps']} steps, "
        f"{outcome['loss_name']} loss {outcome['loss']:.4f}, PSNR {outcome['psnr']:.2f} dB"
    )
    if args.save_image or args.identity:
        with torch.no_grad():
            image = tensor_to_pil(render_latent(generator, pipeline.held_latent(command.key)))
        if args.save_image:
            save_image_atomic(image, args.save_image)
        if args.identity:
            from memstudio.core.faces.identity import compare_identity

            check = compare_identity(target, image, other_landmarks=landmarks, device=device)
            verdict = "same person" if check.same_person else "different person"
            print(f"identity distance {check.distance:.3f} ({verdict} at dlib's {check.threshold} threshold)")
    return 0
