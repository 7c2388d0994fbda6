"""``memstudio memgame``: build memory-game stimulus sets, play them, score responses (000 §3.4, 004 §2.2).

Targets are grouped into versions of one seed (e.g. one GAN seed at several α) either by file name — the
default rule reads ``<seed>_alpha<α>.<ext>`` (also ``<seed>-a<α>``; change it with ``--name-pattern`` giving a
regular expression with groups ``seed`` and optionally ``alpha``) — or by a manifest passed among the targets:
a CSV with columns ``image, seed_id[, alpha][, version]`` or a JSON list of ``{"image", "seed_id", "alpha"}``
objects (paths relative to the manifest). No participant ever sees two versions of a seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from memstudio.core.errors import MemstudioError
from memstudio.core.experiments.protocol import BLANK_MS, IMAGE_MS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "memgame",
        help="memory-game experiments: build stimulus sets, play, score",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="memgame_command", metavar="ACTION", required=True)

    b = sub.add_parser("build", help="build counterbalanced sequences from targets and fillers")
    b.add_argument(
        "targets",
        nargs="+",
        metavar="TARGETS",
        help="target images, folders, or CSV/JSON manifests (a strip's --panels folder is read through its "
        "manifest.json, as the studio reads it)",
    )
    b.add_argument("--fillers", nargs="+", required=True, metavar="DIR", help="filler image folders or files")
    b.add_argument("--participants", type=int, required=True, metavar="N")
    b.add_argument("--seed", type=int, default=0, metavar="S", help="random seed; same seed, same design")
    b.add_argument(
        "--preset",
        choices=("ganalyze", "lamem"),
        default="ganalyze",
        help="defaults of paper 000 (215 images, 60 targets, 34–139, 0–3) or 004 (186, 66, 35–150, ≤7)",
    )
    b.add_argument(
        "--target-span",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="intervening images before a target repeat",
    )
    b.add_argument(
        "--vigilance-span",
        type=int,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="intervening images before a vigilance repeat",
    )
    b.add_argument("--length", type=int, help="images per sequence, repeats included")
    b.add_argument("--targets-per-sequence", type=int, metavar="N")
    b.add_argument("--vigilance-per-sequence", type=int, metavar="N")
    b.add_argument("--name-pattern", metavar="REGEX", help="how file names group targets into seeds")
    b.add_argument(
        "--images",
        choices=("copy", "symlink", "hardlink"),
        default="copy",
        help="how images are placed in the output folder",
    )
    b.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="new folder for the design")
    b.set_defaults(func=run_build)

    v = sub.add_parser("validate", help="report every violated constraint of a built design")
    v.add_argument("design", metavar="OUTDIR", help="a folder written by 'memgame build'")
    v.set_defaults(func=run_validate)

    p = sub.add_parser("play", help="play one sequence full-screen and record the responses")
    p.add_argument("sequence", metavar="SEQUENCE", help="a sequence file (.csv or .json) of a built design")
    p.add_argument("--participant", metavar="ID", help="participant id written to the responses")
    p.add_argument("--image-ms", type=int, default=IMAGE_MS, help="image duration (600 ms in the papers)")
    p.add_argument("--blank-ms", type=int, default=BLANK_MS, help="blank interval (800 ms in the papers)")
    p.add_argument("--feedback", action="store_true", help="green frame on hits, red on false alarms")
    p.add_argument("--windowed", action="store_true", help="a normal window instead of full screen")
    p.add_argument(
        "--practice",
        action="store_true",
        help="start with the web game's practice block (8 abstract images, feedback frames, not recorded)",
    )
    p.add_argument("-o", "--output", metavar="CSV", help="response file (default: DESIGN/responses/ID.csv)")
    p.set_defaults(func=run_play)

    w = sub.add_parser(
        "export-web",
        help="a static web experiment (HTML + JS + images) that plays the design's sequences in a browser",
        description="Writes a self-contained site: open SITE/index.html?participant=P001 from disk or any static "
        "host. Same timing and keys as 'memgame play', a practice block first, and at the end the participant "
        "downloads the same response CSV that 'memgame play' writes (nothing leaves the browser otherwise).",
    )
    w.add_argument("design", metavar="GAME_DIR", help="a folder written by 'memgame build'")
    w.add_argument("-o", "--output", required=True, metavar="SITE_DIR", help="new folder for the site")
    w.add_argument("--image-ms", type=int, default=IMAGE_MS, help="image duration (as memgame play)")
    w.add_argument("--blank-ms", type=int, default=BLANK_MS, help="blank interval (as memgame play)")
    w.add_argument("--feedback", action="store_true", help="green frame on hits, red on false alarms")
    w.add_argument("--no-practice", action="store_true", help="start with the game, without the practice block")
    w.add_argument("--windowed", action="store_true", help="do not ask the browser for full screen")
    w.add_argument("--completion-code", metavar="CODE", help="one code for everyone (default: random per session)")
    w.add_argument(
        "--post-url",
        metavar="URL",
        help="also POST each session as JSON to the lab's own endpoint (which must allow the site's origin)",
    )
    w.add_argument("--title", default="Memory game", help="the page title")
    w.set_defaults(func=run_export_web)

    s = sub.add_parser("score", help="score response CSVs: hit rates, false alarms, delay-corrected m_T")
    s.add_argument("responses", nargs="+", metavar="RESPONSES.csv")
    s.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="scores.csv",
        help="per-image scores; a summary (α, exclusions, consistency) goes beside it as NAME.summary.json",
    )
    s.add_argument("--design", metavar="DIR", help="design folder (default: found above the response files)")
    s.add_argument(
        "--delay-T",
        type=float,
        metavar="T",
        help="delay (intervening images) at which m_T is reported; default the geometric mean delay",
    )
    s.add_argument(
        "--exclusion",
        choices=("lamem", "ganalyze"),
        default="lamem",
        help="vigilance thresholds of 004 (>25%% misses) or 000 (>55%% misses or >30%% false alarms)",
    )
    s.add_argument("--max-vigilance-miss", type=float, metavar="RATE")
    s.add_argument("--max-false-alarm-rate", type=float, metavar="RATE")
    s.add_argument(
        "--allow-no-vigilance",
        action="store_true",
        help="keep participants who had no vigilance repeats instead of stopping",
    )
    s.add_argument(
        "--consistency",
        type=int,
        default=0,
        metavar="N",
        help="split-half Spearman over N random participant splits (25 in 004)",
    )
    s.add_argument(
        "--assessor",
        metavar="NAME",
        help="also correlate human scores with this assessor (any of `memstudio models`: resmem, nima, valence, "
        "one trained from your ratings…); images it has no score for (valence: no face) are left out and counted",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of the random splits")
    s.set_defaults(func=run_score)


def _game_config(args: argparse.Namespace):
    from memstudio.core.experiments.stimuli import GANALYZE_GAME, LAMEM_GAME, GameConfig

    base = LAMEM_GAME if args.preset == "lamem" else GANALYZE_GAME
    return GameConfig(
        length=args.length if args.length is not None else base.length,
        targets_per_sequence=(
            args.targets_per_sequence if args.targets_per_sequence is not None else base.targets_per_sequence
        ),
        vigilance_per_sequence=(
            args.vigilance_per_sequence
            if args.vigilance_per_sequence is not None
            else base.vigilance_per_sequence
        ),
        target_span=tuple(args.target_span) if args.target_span else base.target_span,
        vigilance_span=tuple(args.vigilance_span) if args.vigilance_span else base.vigilance_span,
    )


def run_build(args: argparse.Namespace) -> int:
    from memstudio.core.experiments.session import build_game
    from memstudio.core.session.memgame import game_targets

    built = build_game(
        # As the studio's Build a game: a panels folder's manifest groups the versions of a seed (a layer
        # grid's files are named per layer, so their names alone would split one seed into several).
        [game_targets(Path(target)) for target in args.targets],
        args.fillers,
        args.participants,
        args.output,
        _game_config(args),
        args.seed,
        args.images,
        args.name_pattern,
    )
    print(built.summary)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from memstudio.core.experiments.sequence_io import load_design

    root = Path(args.design)
    _, sequences, violations = load_design(root)
    for v in violations:
        print(v)
    print(f"{root}: {len(sequences)} sequences, {len(violations)} violated constraint(s)")
    return 1 if violations else 0


def run_play(args: argparse.Namespace) -> int:
    from memstudio.core.experiments.sequence_io import find_design_root, read_sequence

    sequence_path = Path(args.sequence)
    sequence = read_sequence(sequence_path)
    root = find_design_root(sequence_path) or sequence_path.resolve().parent
    participant = args.participant or sequence.participant
    output = Path(args.output) if args.output else root / "responses" / f"{participant}.csv"
    if output.exists():
        raise MemstudioError(f"{output}: already exists; pass -o to choose another response file")
    from memstudio.ui.features.memgame.runner import play_sequence  # Qt only when a game is actually played

    written = play_sequence(
        sequence,
        root,
        output,
        participant,
        args.image_ms,
        args.blank_ms,
        args.feedback,
        full_screen=not args.windowed,
        practice=args.practice,
    )
    if written is None:
        print("memgame: aborted; no responses were written", file=sys.stderr)
        return 1
    print(f"{written}: responses of {participant} ({len(sequence.trials)} trials)")
    return 0


def run_export_web(args: argparse.Namespace) -> int:
    from memstudio.core.experiments.web_export import WebOptions, export_web

    options = WebOptions(
        image_ms=args.image_ms,
        blank_ms=args.blank_ms,
        feedback=args.feedback,
        practice=not args.no_practice,
        fullscreen=not args.windowed,
        completion_code=args.completion_code,
        post_url=args.post_url,
        title=args.title,
    )
    result = export_web(args.design, args.output, options)
    print(
        f"{result.site}: web memory game, {result.sequences} sequences, {result.images} images, "
        f"{result.bytes / 1e6:.1f} MB; open {result.site / 'index.html'}?participant={result.first}"
    )
    return 0


def run_score(args: argparse.Namespace) -> int:
    from memstudio.core.experiments.session import ScoreSettings, score_game

    settings = ScoreSettings(
        design=args.design,
        delay_T=args.delay_T,
        exclusion=args.exclusion,
        max_vigilance_miss=args.max_vigilance_miss,
        max_false_alarm_rate=args.max_false_alarm_rate,
        require_vigilance=not args.allow_no_vigilance,
        consistency=args.consistency,
        assessor=args.assessor,
        seed=args.seed,
    )
    scored = score_game(args.responses, args.output, settings)
    for line in scored.lines:
        print(line)
    print(f"{scored.scores}: per-image scores; {scored.summary_path}: summary")
    return 0
