"""``memstudio session``: show a studio session file, render its frame exactly as the studio does, or save
the latent of that frame (File ▸ Save latent…).

``render`` opens the session with the studio's own command (:class:`~memstudio.core.session.session_file.OpenSession`),
builds the studio's :class:`~memstudio.core.requests.RenderRequest` from it and runs the same pipeline steps
as the engine (render, quantise, score), so its PNG is the studio's frame pixel for pixel. ``save-latent`` runs
the studio's :class:`~memstudio.core.session.generators.SaveLatent` on that same request.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from memstudio.core.errors import MemstudioError

if TYPE_CHECKING:
    import torch

    from memstudio.core.pipeline import Pipeline
    from memstudio.core.requests import Subject
    from memstudio.core.session.session_file import SessionSnapshot
    from memstudio.core.session.studio import StudioSession


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "session",
        help="show or render a studio session file (File ▸ Save session…)",
        description="Work with the session files the studio saves: the same frame, from the command line.",
    )
    sub = parser.add_subparsers(dest="session_command", metavar="ACTION", required=True)
    render = sub.add_parser("render", help="render the session's frame to a PNG and print its scores")
    render.add_argument("session", help="session file (.json)")
    render.add_argument("-o", "--output", required=True, help="PNG to write")
    render.add_argument(
        "--assessor",
        action="append",
        metavar="NAME",
        help="score with this assessor (repeatable; default: the session's live assessors)",
    )
    render.add_argument(
        "--identity",
        metavar="PHOTO",
        help="also report the Faces dock's identity readout: the dlib distance between the face aligned from "
        "PHOTO and the face in the rendered frame",
    )
    render.add_argument("--device", default="cpu", help="torch device (default cpu, as the studio's engine)")
    render.set_defaults(func=run_render)
    show = sub.add_parser("show", help="print what a session file holds")
    show.add_argument("session", help="session file (.json)")
    show.set_defaults(func=run_show)
    latent = sub.add_parser(
        "save-latent",
        help="write the latent of the session's frame (its directions applied) to a latent file, as the studio's "
        "File ▸ Save latent… does",
    )
    latent.add_argument("session", help="session file (.json) of a seed or a latent")
    latent.add_argument("-o", "--output", required=True, help="latent file to write (.npz)")
    latent.add_argument("--device", default="cpu", help="torch device (default cpu, as the studio's engine)")
    latent.set_defaults(func=run_save_latent)


def open_in_pipeline(args: argparse.Namespace) -> tuple[Pipeline, StudioSession, SessionSnapshot]:
    """The session file opened as the studio opens it: a pipeline holding its inputs and the session model."""

    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.session_file import OpenSession, apply_snapshot
    from memstudio.core.session.studio import StudioSession

    try:
        pipeline = Pipeline(args.device)
    except RuntimeError as exc:
        raise MemstudioError(f"unknown --device {args.device!r}: {exc}") from exc
    shot = OpenSession(args.session).run(pipeline)
    session = StudioSession()
    apply_snapshot(session, shot)
    return pipeline, session, shot


def run_render(args: argparse.Namespace) -> int:
    from PIL import Image

    from memstudio.core.atomic import refuse_inputs, save_image_atomic
    from memstudio.core.imaging import tensor_to_uint8
    from memstudio.core.session.session_file import input_paths, read_session

    # Writing over the session's photo would also make the session unopenable (its hash no longer matches).
    refuse_inputs([args.output], [args.session, *input_paths(read_session(args.session))])
    pipeline, session, shot = open_in_pipeline(args)
    assessors = tuple(args.assessor) if args.assessor else shot.assessors
    request = session.render_request(0, assessors)
    image = pipeline.render(request)
    save_image_atomic(Image.fromarray(tensor_to_uint8(image)[0]), args.output)
    print(args.output)
    scores = pipeline.score(image, request.assessors)
    for name in request.assessors:
        oval = " (face oval)" if name in request.ovalize else ""
        if name in scores.values:
            print(f"{name}{oval}: {scores.values[name]:.4f}")
        else:
            print(f"{name}{oval}: error: {scores.errors.get(name, 'not scored')}")
    if args.identity:
        print(identity_line(pipeline, image, request.subject, args.identity))
    return 1 if scores.errors else 0


def identity_line(pipeline: Pipeline, frame: torch.Tensor, subject: Subject, photo: str) -> str:
    """The studio's identity readout of ``frame`` (the same two commands: align ``photo``, then measure).

    Like the Faces dock's Align, this writes the aligned face into memstudio's cache (never beside the photo).
    """
    from memstudio.core.requests import PhotoSubject
    from memstudio.core.session.faces import AlignFace, MeasureIdentity, identity_text

    face = AlignFace(str(photo)).run(pipeline)
    on_source = isinstance(subject, PhotoSubject) and Path(subject.path).resolve() == Path(photo).resolve()
    return identity_text(MeasureIdentity.of(frame, face, on_source).run(pipeline))


def run_save_latent(args: argparse.Namespace) -> int:
    from memstudio.core.atomic import refuse_inputs
    from memstudio.core.session.generators import SaveLatent
    from memstudio.core.session.session_file import input_paths, read_session

    # Writing over the session's own latent file (or the session) would lose what it shows.
    refuse_inputs([args.output], [args.session, *input_paths(read_session(args.session))])
    pipeline, session, _ = open_in_pipeline(args)
    print(SaveLatent(session.render_request(0), str(args.output)).run(pipeline))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from memstudio.core.session.session_file import read_session

    document = read_session(args.session)
    for line in describe(document):
        print(line)
    return 0


def describe(document: dict) -> list[str]:
    """The lines ``session show`` prints: subject, generator, edits, directions with α, weights, assessors."""
    subject = document["subject"]
    kind = subject["kind"]
    if kind == "seed":
        what = f"seed {subject['seed']}, ψ {subject.get('truncation', 1.0):g}"
        if subject.get("class_index") is not None:
            what += f", class {subject['class_index']}"
    else:
        what = f"{kind} {subject['path']}"
    lines = [f"session (format version {document['version']})", f"subject: {what}"]
    generator = document.get("generator")
    if generator:
        lines.append(
            f"generator: {generator.get('name', '')} from {generator.get('source')} "
            f"(sha256 {str(generator['sha256'])[:12]}…)"
        )
    edits = document.get("edits") or {}
    lines.append("photo edits: " + (", ".join(f"{k} {float(v):+g}" for k, v in sorted(edits.items())) or "none"))
    directions = document.get("directions") or []
    lines.append(f"directions: {len(directions) or 'none'}")
    lines += [
        f"  {d['id']}: α {float(d['alpha']):+g}  {Path(d['path']).name} (sha256 {str(d.get('sha256'))[:12]}…)"
        for d in directions
    ]
    if document.get("layer_weights") is not None:
        lines.append("layer weights: " + " ".join(f"{float(w):g}" for w in document["layer_weights"]))
    lines.append("assessors: " + (", ".join(document.get("assessors") or ()) or "none"))
    lines.append("face oval for: " + (", ".join(document.get("ovalize") or ()) or "none"))
    return lines
