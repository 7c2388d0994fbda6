"""``memstudio direction train|eval|project|layers``: learn, test, condition and dissect edit directions.

Every subcommand drives the same core jobs the studio runs (under tqdm here) and reads/writes the same
direction files (``NAME.json`` + ``NAME.safetensors``). A generator is a stored model name or a checkpoint;
without ``--generator`` the direction edits photos (``--photos``, default: the built-in sample photos).

``train --method ganalyze`` and ``sample`` also run under ``torchrun`` (see :mod:`memstudio.core.distributed`):
GANalyze averages θ's gradients over the processes, ``sample`` shares the latents out by index; rank 0 writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.errors import MemstudioError

if TYPE_CHECKING:
    import torch

    from memstudio.core.assessors.base import Assessor
    from memstudio.core.directions.base import Direction
    from memstudio.core.directions.samples import Samples
    from memstudio.core.directions.train import TrainDirectionSettings
    from memstudio.core.distributed import DistContext
    from memstudio.core.generators.base import Generator
    from memstudio.core.pipeline import Pipeline


ALPHAS_HELP = (
    "test α, comma-separated, e.g. --alphas=-0.2,0,0.2 (default: paper 000's for GANalyze, else the α range)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "direction",
        help="train, evaluate, condition and analyse edit directions (GANalyze, hyperplanes)",
        description="Learn directions that move an assessor's score, and measure how well they do.",
    )
    sub = parser.add_subparsers(dest="direction_command", metavar="ACTION", required=True)

    train = sub.add_parser("train", help="learn a direction (GANalyze or a separating hyperplane)")
    _source_options(train)
    train.add_argument("--assessor", default="resmem", help="assessor name (default resmem)")
    train.add_argument("--method", choices=("ganalyze", "hyperplane"), default="ganalyze")
    train.add_argument("--space", help="latent space: z, w, w+ (GANs) or edit (photos); default per method")
    train.add_argument("--name", help="direction name (default: property-method)")
    train.add_argument("--seed", type=int, default=0)
    ganalyze = train.add_argument_group("GANalyze (paper 000)")
    ganalyze.add_argument("--steps", type=int, default=1000)
    ganalyze.add_argument(
        "--batch-size", type=int, default=8, help="samples per step and process (global batch: × processes)"
    )
    ganalyze.add_argument("--micro-batch", type=int, help="split batches into chunks (less memory)")
    ganalyze.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    ganalyze.add_argument("--alpha-max", type=float, help="α ~ U(-a, a); default from the assessor's spread")
    ganalyze.add_argument("--renormalize", action="store_true", help="keep each sample's latent norm")
    ganalyze.add_argument("--class-conditional", action="store_true", help="one θ per class")
    ganalyze.add_argument("--edit-std", type=float, default=0.0, help="photo editing: jitter of start edits")
    ganalyze.add_argument("--checkpoint", help="resumable training state (default: OUTPUT.ckpt.pt)")
    ganalyze.add_argument("--checkpoint-every", type=int, default=50)
    ganalyze.add_argument(
        "--keep-checkpoint", action="store_true", help="keep the training state after success"
    )
    hyper = train.add_argument_group("hyperplane (paper 001 §2.4)")
    hyper.add_argument("--num-samples", type=int, default=2000)
    hyper.add_argument("--samples", help="fit from this file of scored latents (`memstudio direction sample`)")
    hyper.add_argument("--split", choices=("mean", "median", "fraction"), default="mean")
    hyper.add_argument(
        "--fraction", type=float, default=0.02, help="top/bottom fraction for --split fraction"
    )
    hyper.add_argument("--classifier", choices=("logistic", "svm"), default="logistic")
    hyper.add_argument("--l2", type=float, default=1e-3)
    evidence = train.add_argument_group("evidence on held-out samples")
    evidence.add_argument("--no-eval", action="store_true", help="skip the evidence after training")
    evidence.add_argument("--eval-samples", type=int, default=64)
    evidence.add_argument("--alphas", help=ALPHAS_HELP)
    evidence.add_argument(
        "--heldout-photos", type=int, help="photos kept out of training for the evidence (default a third)"
    )
    timing = train.add_argument_group("time estimate")
    timing.add_argument(
        "--estimate",
        action="store_true",
        help="measure a warm-up step here, print s/step, the ETA and settings that fit --budget; do not train",
    )
    timing.add_argument(
        "--budget",
        action="append",
        help="time budget for --estimate's suggestion, e.g. 10m, 1h or 600 (seconds); repeatable "
        "(default: 10m and 1h)",
    )
    train.add_argument("-o", "--output", required=True, help="direction file to write (.json)")
    train.set_defaults(func=run_train)

    sample = sub.add_parser(
        "sample", help="render and score N latents into one file, for a hyperplane (runs under torchrun)"
    )
    sample.add_argument("--generator", required=True, help="stored model name, or a checkpoint file / folder")
    sample.add_argument("--assessor", default="resmem", help="assessor name (default resmem)")
    sample.add_argument("--space", help="latent space to store: z, w or w+ (default: w where there is one)")
    sample.add_argument("--num-samples", type=int, default=2000)
    sample.add_argument("--seed", type=int, default=0, help="sample i's z is drawn from (seed, i)")
    sample.add_argument(
        "--z-bound", type=float, help="truncate z to [-b, b] (default: untruncated, as InterFaceGAN)"
    )
    sample.add_argument("--class", dest="class_index", type=int, help="class of a conditional generator")
    sample.add_argument("--device", help="torch device (default: CUDA if present, else CPU)")
    sample.add_argument("--batch", type=int, default=16, help="samples per forward pass (per process)")
    sample.add_argument("--quiet", action="store_true", help="no progress bar")
    sample.add_argument("-o", "--output", required=True, help="samples file to write (.safetensors)")
    sample.set_defaults(func=run_sample)

    evaluate = sub.add_parser("eval", help="measure a direction's evidence on held-out samples")
    evaluate.add_argument("direction", help="direction file (.json)")
    _source_options(evaluate)
    evaluate.add_argument("--assessor", help="assessor name (default: the one it was trained with)")
    evaluate.add_argument("--alphas", help=ALPHAS_HELP)
    evaluate.add_argument("--num-samples", type=int, default=64)
    evaluate.add_argument("--seed", type=int, help="held-out seed (default: memstudio's held-out seed)")
    evaluate.add_argument("--no-factors", action="store_true", help="skip the image-factor scores")
    evaluate.add_argument("-o", "--output", help="write here (default: update the direction file)")
    evaluate.set_defaults(func=run_eval)

    project = sub.add_parser("project", help="make a direction orthogonal to others (conditional editing)")
    project.add_argument("direction", help="direction file to condition")
    project.add_argument(
        "--keep", nargs="+", required=True, help="direction files whose properties stay fixed"
    )
    project.add_argument("--name", help="name of the new direction")
    project.add_argument("--no-keep-norm", action="store_true", help="leave the projected vector shorter")
    project.add_argument("-o", "--output", required=True, help="direction file to write")
    project.set_defaults(func=run_project)

    layers = sub.add_parser("layers", help="layerwise W+: restrict to layers, or measure each layer's effect")
    layers.add_argument("direction", help="direction file (W or W+)")
    _source_options(layers, photos=False)
    layers.add_argument("--assessor", help="assessor name (default: the one it was trained with)")
    layers.add_argument(
        "--apply", help="write a copy acting only on these layers, e.g. '0-3,6' (the studio's Save layerwise copy)"
    )
    layers.add_argument("--coefficients", help="per-layer coefficients for --apply, comma-separated")
    layers.add_argument("--num-ws", type=int, help="W+ length for --apply without --generator")
    layers.add_argument("--samples", type=int, default=32, help="K samples for the analysis")
    layers.add_argument("--alphas", help="α for the analysis, comma-separated (default: from its range)")
    layers.add_argument("--layers", help="layers to analyse, e.g. '0-7' (default all)")
    layers.add_argument("--out-dir", help="folder for layers.csv/.png/.pdf (default: beside the direction)")
    layers.add_argument(
        "-o",
        "--output",
        help="direction file to write (default: update in place; with --apply, NAME-layers.json beside it)",
    )
    layers.set_defaults(func=run_layers)


def _source_options(parser: argparse.ArgumentParser, photos: bool = True) -> None:
    parser.add_argument("--generator", help="stored model name, or a checkpoint file / folder")
    if photos:
        parser.add_argument("--photos", nargs="+", help="photos or folders to edit (default: sample photos)")
        parser.add_argument("--photo-size", type=int, default=256, help="photos are resized to this square")
    parser.add_argument("--device", help="torch device (default: CUDA if present, else CPU)")
    parser.add_argument("--batch", type=int, default=8, help="batch size of sampling and evaluation")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_int_list(text: str) -> list[int]:
    """``'0-3,6'`` → ``[0, 1, 2, 3, 6]``."""
    values: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "-" in part[1:]:
                low, high = part.split("-", 1)
                values.extend(range(int(low), int(high) + 1))
            else:
                values.append(int(part))
    except ValueError as exc:
        raise MemstudioError(f"cannot read {text!r} as layer indices: use e.g. '0-3,6'") from exc
    if not values:
        raise MemstudioError(f"no layers in {text!r}")
    return values


def parse_float_list(text: str) -> list[float]:
    try:
        values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError as exc:
        raise MemstudioError(f"cannot read {text!r} as numbers: use e.g. '-0.2,0,0.2'") from exc
    if not values:
        raise MemstudioError(f"no numbers in {text!r}")
    return values


def _device(args: argparse.Namespace) -> torch.device:
    import torch

    from memstudio.core.device import default_device

    return torch.device(args.device) if args.device else default_device()


def _load_assessor(name: str, device: torch.device) -> Assessor:
    from memstudio.core.assessors.registry import load_assessor

    return load_assessor(name, device)


def _photo_paths(args: argparse.Namespace) -> list[Path]:
    from memstudio.core.imaging import expand_paths

    if args.photos:
        paths = expand_paths(args.photos)
    else:
        try:
            from memstudio.core.samples import sample_photos
        except ImportError as exc:
            raise MemstudioError("no built-in sample photos in this installation: give --photos") from exc
        paths = list(sample_photos())
    if not paths:
        raise MemstudioError("no photos found: give --photos with image files or folders")
    return sorted(paths)


def _open_generator(args: argparse.Namespace, device: torch.device) -> Generator:
    from memstudio.core.generators.opening import open_generator

    generator = open_generator(args.generator, device=device)
    return generator.eval()


def _photo_editor(paths: list[Path], size: int, device: torch.device) -> Generator:
    from memstudio.core.directions.sampling import load_photo_batch
    from memstudio.core.generators.photo import PhotoEditor

    editor = PhotoEditor(load_photo_batch(paths, size).to(device), label=f"{len(paths)} photos")
    return editor


def _run(job: object, description: str, args: argparse.Namespace, main: bool = True) -> object:
    from memstudio.core.jobs import run_with_tqdm

    return run_with_tqdm(job, description, disable=getattr(args, "quiet", False) or not main)


def _check_same_models(ctx: DistContext, generator: Generator, assessor: Assessor) -> None:
    from memstudio.core import distributed

    distributed.check_same_models(
        ctx,
        {
            f"generator {generator.name}": getattr(generator, "checkpoint_hash", None),
            f"assessor {assessor.name}": assessor.checkpoint_hash,
        },
    )


def _alphas(args: argparse.Namespace) -> list[float] | None:
    """The user's test α, or None for the direction's default (paper 000's for GANalyze, else its range)."""
    return parse_float_list(args.alphas) if args.alphas else None


def _report_evidence(evidence: dict[str, object]) -> None:
    low, high = evidence["ci95"]
    print(
        f"β = {evidence['beta']:.3f} (95% CI [{low:.3f}, {high:.3f}]), R² = {evidence['r2']:.3f}, "
        f"n = {evidence['num_samples']}"
    )
    scores = ", ".join(
        f"{a:+g}: {m:.4f}" for a, m in zip(evidence["alphas"], evidence["mean_score"], strict=True)
    )
    print(f"mean score per α: {scores}")
    loadings = evidence.get("edit_parameters")
    if isinstance(loadings, dict):
        from memstudio.core.directions.shipped import loadings_summary

        print(f"edit parameters (θ normalised): {loadings_summary(loadings)}")
    from memstudio.core.directions.train import evidence_warnings

    # Train and eval alike: too few held-out samples or a CI through 0 is said where the number is printed.
    for warning in evidence_warnings(evidence):
        print(f"warning: {warning}", file=sys.stderr)


def train_settings(args: argparse.Namespace, photos: list[Path]) -> TrainDirectionSettings:
    """The CLI's flags as the core's training settings (the studio's Train dialog fills the same ones)."""
    from memstudio.core.directions.train import TrainDirectionSettings

    return TrainDirectionSettings(
        method=args.method,
        assessor=args.assessor,
        output=str(args.output),
        name=args.name,
        space=args.space,
        seed=args.seed,
        photos=tuple(str(p) for p in photos),
        photo_size=args.photo_size,
        heldout_photos=args.heldout_photos,
        steps=args.steps,
        batch_size=args.batch_size,
        micro_batch=args.micro_batch,
        lr=args.lr,
        alpha_max=args.alpha_max,
        renormalize=args.renormalize,
        class_conditional=args.class_conditional,
        edit_std=args.edit_std,
        checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoint=args.keep_checkpoint,
        num_samples=args.num_samples,
        split=args.split,
        fraction=args.fraction,
        classifier=args.classifier,
        l2=args.l2,
        evaluate=not args.no_eval,
        eval_samples=args.eval_samples,
        eval_batch=args.batch,
        alphas=tuple(_alphas(args)) if args.alphas else None,
    )


def run_train(args: argparse.Namespace) -> int:
    from memstudio.core import distributed

    with distributed.session(_device(args)) as ctx:
        return _train(args, ctx)


def _train(args: argparse.Namespace, ctx: DistContext) -> int:
    """GANalyze trains on every rank (rank 0 writes); a hyperplane is fitted by rank 0 alone."""
    from memstudio.core.directions.train import split_photos, train_direction

    if args.estimate and ctx.is_distributed:
        raise MemstudioError("--estimate measures one process: run it without torchrun")
    if args.method != "ganalyze" and not ctx.is_main:
        return 0
    device = ctx.device
    samples = None
    if args.generator:
        generator = _open_generator(args, device)
        settings = train_settings(args, [])
        if args.method == "hyperplane" and args.samples:
            samples = _read_samples(args, generator)
    else:
        if args.method == "hyperplane":
            raise MemstudioError("a hyperplane needs a GAN's latent space: give --generator")
        generator = None
        settings = train_settings(args, _photo_paths(args))
        split = split_photos(settings.photos, settings.heldout_photos, settings.seed)
        if ctx.is_main:
            print(f"photos: {len(split.train)} for training, {len(split.heldout)} held out", file=sys.stderr)
    checkpoint = settings.checkpoint_path
    if checkpoint is not None and checkpoint.exists() and ctx.is_main:
        print(f"resuming from {checkpoint}", file=sys.stderr)
    assessor = _load_assessor(args.assessor, device)
    if args.estimate:
        return _estimate(args, settings, assessor, generator, device)
    if args.method == "ganalyze" and generator is not None:
        _check_same_models(ctx, generator, assessor)
    job = train_direction(settings, assessor, generator, device, ctx=ctx, samples=samples)
    result = _run(job, f"training {args.method}", args, ctx.is_main)
    if not ctx.is_main:
        return 0
    direction = result.direction
    if "test_accuracy" in direction.metrics:
        print(f"held-out accuracy {direction.metrics['test_accuracy']:.3f}")
    if "beta" in direction.evidence:
        _report_evidence(direction.evidence)
    print(result.path)
    return 0


def _estimate(
    args: argparse.Namespace,
    settings: TrainDirectionSettings,
    assessor: Assessor,
    generator: Generator | None,
    device: torch.device,
) -> int:
    """``train --estimate``: the measured cost of these settings here, the ETA and what fits each budget."""
    from memstudio.core.directions.estimate import estimate_training, parse_duration, suggest_settings
    from memstudio.core.directions.train import MIN_CITABLE_SAMPLES

    budgets = [parse_duration(b) for b in (args.budget or ["10m", "1h"])]
    estimate = _run(estimate_training(settings, assessor, generator, device), "estimating", args)
    unit = "step" if estimate.method == "ganalyze" else "batch"
    print(f"{estimate.step_s:.3f} s/{unit} at batch {estimate.batch_size} on {estimate.device}")
    print(f"ETA: {estimate.describe()}")
    for budget in budgets:
        suggestion = suggest_settings(settings, estimate, budget)
        print(f"suggestion: {suggestion.describe()}")
        if suggestion.changes:
            print(f"  {_suggested_flags(settings, suggestion.settings)}")
    n = _planned_n(settings, generator)
    if settings.evaluate and n < MIN_CITABLE_SAMPLES:
        print(
            f"warning: the evidence would have n = {n} held-out samples (fewer than {MIN_CITABLE_SAMPLES}): "
            "β and its CI would not be citable",
            file=sys.stderr,
        )
    return 0


def _suggested_flags(before: TrainDirectionSettings, after: TrainDirectionSettings) -> str:
    """The flags that turn the asked training into the suggested one."""
    flags = []
    if after.steps != before.steps:
        flags.append(f"--steps {after.steps}")
    if after.batch_size != before.batch_size:
        flags.append(f"--batch-size {after.batch_size}")
    if after.num_samples != before.num_samples:
        flags.append(f"--num-samples {after.num_samples}")
    return " ".join(flags)


def _planned_n(settings: TrainDirectionSettings, generator: Generator | None) -> int:
    """The evidence's n as the training will have it: held-out photos, or held-out samples of the GAN."""
    from memstudio.core.directions.train import split_photos

    if generator is not None:
        return settings.eval_samples
    return len(split_photos(settings.photos, settings.heldout_photos, settings.seed).heldout)


def _read_samples(args: argparse.Namespace, generator: Generator) -> Samples:
    """The samples file, checked against the generator and ``--space`` it is fitted for."""
    from memstudio.core.directions.samples import Samples

    samples = Samples.load(args.samples)
    if args.space and args.space != samples.space:
        raise MemstudioError(f"{args.samples}: its latents are in {samples.space!r}, not --space {args.space!r}")
    theirs = samples.generator.get("checkpoint_sha256")
    ours = getattr(generator, "checkpoint_hash", None)
    if theirs and ours and theirs != ours:
        raise MemstudioError(
            f"{args.samples}: sampled from another generator (SHA-256 {theirs}, --generator has {ours})"
        )
    return samples


def run_sample(args: argparse.Namespace) -> int:
    from memstudio.core import distributed
    from memstudio.core.directions.hyperplane import default_space
    from memstudio.core.directions.samples import sample_scores

    with distributed.session(_device(args)) as ctx:
        generator = _open_generator(args, ctx.device)
        assessor = _load_assessor(args.assessor, ctx.device)
        _check_same_models(ctx, generator, assessor)
        job = sample_scores(
            generator,
            assessor,
            args.space or default_space(generator),
            args.num_samples,
            seed=args.seed,
            batch_size=args.batch,
            z_bound=args.z_bound,
            class_index=args.class_index,
            ctx=ctx,
        )
        samples = _run(job, "sampling", args, ctx.is_main)
        if ctx.is_main:
            print(samples.save(Path(args.output).with_suffix(".safetensors")))
    return 0


def _load_direction(path: str) -> Direction:
    from memstudio.core.directions.base import Direction

    return Direction.load(path)


def _generator_for(direction: Direction, args: argparse.Namespace, device: torch.device) -> Generator:
    if args.generator:
        return _open_generator(args, device)
    if direction.space != "edit":
        raise MemstudioError(
            f"direction {direction.name!r} edits a {direction.space!r} latent: give --generator"
        )
    return _photo_editor(_photo_paths(args), args.photo_size, device)


def run_eval(args: argparse.Namespace) -> int:
    from memstudio.core.directions.evidence import HELDOUT_SEED, attach_evidence, evaluate_direction

    device = _device(args)
    direction = _load_direction(args.direction)
    assessor = _load_assessor(args.assessor or str(direction.assessor.get("name", "resmem")), device)
    generator = _generator_for(direction, args, device)
    job = evaluate_direction(
        generator,
        assessor,
        direction,
        _alphas(args),
        args.num_samples,
        args.batch,
        HELDOUT_SEED if args.seed is None else args.seed,
        factors={} if args.no_factors else None,
    )
    evidence = _run(job, "evidence", args)
    _report_evidence(evidence)
    print(attach_evidence(direction, evidence).save(args.output or args.direction))
    return 0


def run_project(args: argparse.Namespace) -> int:
    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.directions import MakeConditional

    # The studio's Make conditional on a pipeline of our own: it refuses to write the new direction over the
    # one it conditions or over one it keeps orthogonal to (either would silently change what later uses mean).
    pipeline = Pipeline("cpu")
    ids = [_hold_direction(pipeline, f"input-{i}", path) for i, path in enumerate([args.direction, *args.keep])]
    command = MakeConditional(
        ids[0], tuple(ids[1:]), str(args.output), "projected", keep_norm=not args.no_keep_norm, name=args.name
    )
    info = command.run(pipeline)
    for name, cos in info["cosines"].items():
        print(f"cos with {name}: {cos['before']:+.4f} before, {cos['after']:+.4f} after")
    print(info["path"])
    return 0


def _hold_direction(pipeline: Pipeline, direction_id: str, path: str) -> str:
    """Put the direction file ``path`` into ``pipeline`` under ``direction_id`` (no generator to check it
    against: projecting needs none); returns the id."""
    pipeline.directions[direction_id] = _load_direction(path)
    pipeline.direction_paths[direction_id] = str(Path(path).with_suffix(".json"))
    return direction_id


def run_layers(args: argparse.Namespace) -> int:
    from memstudio.core.directions.layer_job import analyze_and_record

    direction = _load_direction(args.direction)
    if args.apply:
        return _apply_layers(args, direction)
    output = args.output or args.direction
    if not args.generator:
        raise MemstudioError("the layer analysis renders W+ latents: give --generator")
    device = _device(args)
    generator = _open_generator(args, device)
    assessor = _load_assessor(args.assessor or str(direction.assessor.get("name", "resmem")), device)
    job = analyze_and_record(
        generator,
        assessor,
        direction,
        output,
        num_samples=args.samples,
        alphas=parse_float_list(args.alphas) if args.alphas else None,
        layers=parse_int_list(args.layers) if args.layers else None,
        batch_size=args.batch,
        out_dir=args.out_dir,
    )
    result = _run(job, "layer analysis", args)
    for path in result.files:
        print(path)
    print(result.summary)
    print(result.path)
    return 0


def _apply_layers(args: argparse.Namespace, direction: Direction) -> int:
    """``layers --apply``: the studio's Save layerwise copy (:class:`SaveLayerwiseCopy`) with the weights the
    flags give; like the studio it names the copy ``NAME-layers`` and never writes over the direction."""
    from memstudio.core.directions.layerwise import layer_weights
    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.directions import SaveLayerwiseCopy

    num_ws = args.num_ws
    if num_ws is None:
        if direction.space == "w+":
            num_ws = int(direction.vector.shape[0])
        elif args.generator:
            num_ws = _open_generator(args, _device(args)).num_ws
        else:
            raise MemstudioError("give --generator or --num-ws to know how many W+ layers there are")
    coefficients = parse_float_list(args.coefficients) if args.coefficients else 1.0
    weights = tuple(layer_weights(num_ws, parse_int_list(args.apply), coefficients).tolist())
    source = Path(args.direction).with_suffix(".json")
    output = args.output or str(source.with_name(f"{source.stem}-layers.json"))
    pipeline = Pipeline("cpu")
    pipeline.directions["source"], pipeline.direction_paths["source"] = direction, str(source)
    info = SaveLayerwiseCopy("source", weights, output, "copy").run(pipeline)
    print(f"layer weights: {[round(w, 4) for w in info['layer_weights']]}")
    print(info["path"])
    return 0
