"""``memstudio align PHOTO -o OUT``: detect a face and FFHQ-align it (optionally ovalized), like the studio.

``--json`` prints every detected face, the landmarks, the FFHQ quad and the source → aligned transform, so
the result can be checked against the photo or drawn as an overlay elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def positive_size(text: str) -> int:
    """argparse type: an image side of at least 8 px."""
    value = int(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"must be at least 8, not {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "align",
        help="detect a face and align it like FFHQ (for inversion into a StyleGAN)",
        description="Find the faces in a photo (MTCNN), take dlib's 68 landmarks and crop the face as "
        "NVIDIA's FFHQ procedure does.",
    )
    parser.add_argument("photo", help="photo with a face")
    parser.add_argument("-o", "--output", required=True, help="aligned image to write (PNG recommended)")
    parser.add_argument(
        "--size", type=positive_size, default=1024, help="side of the aligned image (default 1024)"
    )
    parser.add_argument("--face", type=int, help="index of the face, largest first (default: the largest)")
    parser.add_argument(
        "--ovalize", action="store_true", help="white outside a face oval (10k US Adult Faces)"
    )
    parser.add_argument("--no-dlib", action="store_true", help="use MTCNN's 5 points instead of dlib's 68")
    parser.add_argument("--json", action="store_true", help="print faces, landmarks and quad as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memstudio.core.atomic import refuse_inputs, save_image_atomic
    from memstudio.core.faces.ovalize import aligned_oval, ovalize_pil
    from memstudio.core.session.faces import AlignFace

    refuse_inputs([args.output], [args.photo])
    # The studio's alignment command (the Faces dock's Align), here without the studio's cache and overlay.
    command = AlignFace(
        str(args.photo), face_index=args.face, size=args.size, use_dlib=not args.no_dlib, source_name=str(args.photo)
    )
    loaded, faces, aligned = command.align("cpu")
    image = ovalize_pil(aligned.image, aligned_oval(args.size)) if args.ovalize else aligned.image
    out = Path(args.output)
    save_image_atomic(image, out)
    if len(faces) > 1 and args.face is None:
        print(
            f"memstudio align: {len(faces)} faces found; aligned the largest (choose with --face)",
            file=sys.stderr,
        )
    if args.json:
        report = {
            "photo": str(args.photo),
            "output": str(out),
            "notes": list(loaded.notes),
            "faces": [f.to_json() for f in faces],
            "face_index": 0 if args.face is None else args.face,
            **aligned.to_json(),
        }
        print(json.dumps(report, indent=2))
    else:
        print(f"{out}: {args.size}×{args.size} aligned face ({aligned.landmarks.source} landmarks)")
    return 0
