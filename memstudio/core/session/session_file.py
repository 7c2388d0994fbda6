"""The session file: what the studio shows, written as versioned JSON so the CLI (or the studio later) can show
the very same frame again.

A session file names its inputs by path *and* SHA-256 — the photo or latent file, the generator, every
direction file — and opening refuses any input that changed since the session was saved, naming it (the same
check a figure's sidecar gets, :func:`memstudio.core.figures.sources.check_unchanged`). Both directions of the
trip are engine commands over a :class:`Pipeline`: :class:`SaveSession` reads the files the pipeline opened
(its generator source and direction paths) and :class:`OpenSession` opens them again, so the studio and
``memstudio session`` run one implementation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstudio.core.errors import MemstudioError
from memstudio.core.jsonfile import read_json
from memstudio.core.requests import LatentSubject, PhotoSubject, SeedSubject, Subject
from memstudio.core.session.studio import GeneratorRef, StudioSession, StudioValues, needs_generator

if TYPE_CHECKING:
    from memstudio.core.pipeline import Pipeline

#: What ``"format"`` says in every session file (a JSON file of another kind is refused by it).
FORMAT = "memstudio-session"
#: The newest version this code reads and the one it writes.
VERSION = 1
#: A session is a few KB (a subject, some directions and their α); anything this large is not one.
MAX_SESSION_BYTES = 4 << 20


@dataclass(frozen=True)
class SessionSnapshot:
    """A session's model as plain immutable values, safe to hand between threads and to engine commands."""

    subject: Subject
    edits: tuple[tuple[str, float], ...] = ()
    alphas: tuple[tuple[str, float], ...] = ()
    layer_weights: tuple[float, ...] | None = None
    ovalize: tuple[str, ...] = ()
    assessors: tuple[str, ...] = ()
    generator: GeneratorRef | None = None


def snapshot(session: StudioSession, assessors: tuple[str, ...] = ()) -> SessionSnapshot:
    """What ``session`` shows now, scored by ``assessors`` (the live ones), as a snapshot to save."""
    values = session.values
    if values.subject is None:
        raise MemstudioError("nothing to save: open a photo, a seed or a latent first")
    return SessionSnapshot(
        subject=values.subject,
        edits=tuple(sorted(values.edits.items())),
        alphas=tuple(sorted(values.alphas.items())),
        layer_weights=values.layer_weights,
        ovalize=tuple(sorted(session.ovalized())),
        assessors=tuple(assessors),
        generator=session.generator if needs_generator(values.subject) else None,
    )


def apply_snapshot(session: StudioSession, shot: SessionSnapshot) -> None:
    """Make ``session`` show ``shot``: its generator current, its subject, edits, α, weights and ovalize."""
    if shot.generator is not None:
        session.set_generator(shot.generator)
        if isinstance(shot.subject, LatentSubject):
            session.add_latent(shot.subject.key, Path(shot.subject.key).name, shot.generator.sha256)
    session.values = StudioValues(
        subject=shot.subject,
        edits=dict(shot.edits),
        alphas=dict(shot.alphas),
        layer_weights=shot.layer_weights,
        generator=shot.generator.sha256 if shot.generator is not None else None,
    )
    for assessor in session.ovalized():
        session.set_ovalize(assessor, False)
    for assessor in shot.ovalize:
        session.set_ovalize(assessor, True)


# ----- writing ----------------------------------------------------------------------------------------------
def session_document(shot: SessionSnapshot, pipeline: Pipeline) -> dict[str, Any]:
    """The JSON document of ``shot``, with the files ``pipeline`` opened its generator and directions from."""
    from memstudio.core.checkpoints import sha256_file
    from memstudio.core.figures.sources import record_direction

    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "subject": _subject_entry(shot.subject, pipeline),
    }
    if shot.generator is not None:
        if pipeline.generator is None or pipeline.generator_hash != shot.generator.sha256:
            raise MemstudioError(
                f"the subject belongs to generator {shot.generator.name!r}, which is not the open one: "
                "open it again before saving the session"
            )
        source = pipeline.generator_source or shot.generator.source
        entry = {"source": source, "name": shot.generator.name, "sha256": shot.generator.sha256}
        if source and Path(source).is_file():
            entry["source"] = str(Path(source).resolve())
            entry["file_sha256"] = sha256_file(source)
        document["generator"] = entry
    if isinstance(shot.subject, LatentSubject):
        document["subject"]["sha256"] = sha256_file(document["subject"]["path"])
    directions = []
    for direction_id, alpha in shot.alphas:
        direction = pipeline.directions.get(direction_id)
        path = pipeline.direction_paths.get(direction_id)
        if direction is None or path is None:
            raise MemstudioError(f"direction {direction_id!r} was never saved to a file: save it before the session")
        entry = record_direction(direction, path)
        directions.append({"id": direction_id, "alpha": float(alpha), **_json_safe(entry)})
    document.update(
        edits=dict(shot.edits),
        directions=directions,
        layer_weights=None if shot.layer_weights is None else [float(w) for w in shot.layer_weights],
        ovalize=list(shot.ovalize),
        assessors=list(shot.assessors),
    )
    return document


def _subject_entry(subject: Subject, pipeline: Pipeline) -> dict[str, Any]:
    from memstudio.core.checkpoints import sha256_file

    if isinstance(subject, PhotoSubject):
        path = Path(subject.path)
        return {"kind": "photo", "path": str(path.resolve()), "sha256": sha256_file(path)}
    if isinstance(subject, SeedSubject):
        return {
            "kind": "seed",
            "seed": subject.seed,
            "truncation": subject.truncation,
            "class_index": subject.class_index,
        }
    # A latent opened from a file is named by it (the CLI's keys are the paths themselves).
    path = Path(pipeline.latent_paths.get(subject.key, subject.key))
    if not path.is_file():
        raise MemstudioError(
            f"latent {subject.key!r} has no file: save it (File ▸ Save latent…) and open that file before saving "
            "the session"
        )
    return {"kind": "latent", "path": str(path.resolve())}


def _json_safe(value: Any) -> Any:
    """Tuples become lists and anything else JSON cannot hold becomes text (metadata of a direction)."""
    return json.loads(json.dumps(value, default=str))


def write_session(path: str | Path, document: dict[str, Any]) -> Path:
    """Write ``document`` to ``path`` atomically (a crash leaves the old file, never half a new one)."""
    from memstudio.core.atomic import write_text_atomic

    return write_text_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class SaveSession:
    """Write ``shot`` to ``path`` as a session file; result: the path written."""

    path: str
    shot: SessionSnapshot

    @property
    def title(self) -> str:
        return f"Save session → {Path(self.path).name}"

    def run(self, pipeline: Pipeline) -> str:
        from memstudio.core.atomic import refuse_inputs

        document = session_document(self.shot, pipeline)
        refuse_inputs([self.path], input_paths(document))  # saving over the photo or a direction loses it
        return str(write_session(self.path, document))


def input_paths(document: dict[str, Any]) -> list[str]:
    """The files a session reads: its photo or latent file, its generator's file, its direction files."""
    paths = [document.get("subject", {}).get("path"), (document.get("generator") or {}).get("source")]
    paths += [entry.get("path") for entry in document.get("directions", [])]
    return [path for path in paths if isinstance(path, str) and Path(path).is_file()]


# ----- reading ----------------------------------------------------------------------------------------------
def read_session(path: str | Path) -> dict[str, Any]:
    """The document in ``path``, refused with a clear :class:`MemstudioError` when it is not a session file
    this version can read (bad JSON, another kind of JSON file, a newer version, a malformed entry)."""
    path = Path(path)
    try:
        document = read_json(path, MAX_SESSION_BYTES, "session file", MemstudioError)
    except FileNotFoundError as exc:
        raise MemstudioError(f"{path}: no such session file") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise MemstudioError(f'{path}: not a memstudio session file (no "format": "{FORMAT}")')
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MemstudioError(f"{path}: session file has no valid version ({version!r})")
    if version > VERSION:
        raise MemstudioError(
            f"{path}: session file version {version} is newer than this memstudio reads ({VERSION}); update memstudio"
        )
    try:
        _snapshot_of(document, generator=None)
        if any("path" not in entry for entry in document.get("directions", [])):
            raise KeyError("a direction has no path")
        if _needs_generator(document) and not (document.get("generator") or {}).get("sha256"):
            raise KeyError("generator")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise MemstudioError(f"{path}: malformed session file ({type(exc).__name__}: {exc})") from exc
    return document


def _snapshot_of(document: dict[str, Any], generator: GeneratorRef | None) -> SessionSnapshot:
    """The values a session document holds (raises KeyError, TypeError or ValueError where one is malformed)."""
    edits = document.get("edits", {})
    if not isinstance(edits, dict):
        raise TypeError("edits is not an object")
    layer_weights = document.get("layer_weights")
    return SessionSnapshot(
        subject=_subject_of(document),
        edits=tuple(sorted((str(k), float(v)) for k, v in edits.items())),
        alphas=tuple(sorted((str(e["id"]), float(e["alpha"])) for e in document.get("directions", []))),
        layer_weights=None if layer_weights is None else tuple(float(w) for w in layer_weights),
        ovalize=tuple(str(a) for a in document.get("ovalize", [])),
        assessors=tuple(str(a) for a in document.get("assessors", [])),
        generator=generator,
    )


def _needs_generator(document: dict[str, Any]) -> bool:
    return document["subject"].get("kind") in ("seed", "latent")


def _subject_of(document: dict[str, Any]) -> Subject:
    entry = document["subject"]
    kind = entry.get("kind")
    if kind == "photo":
        return PhotoSubject(str(entry["path"]))
    if kind == "seed":
        class_index = entry.get("class_index")
        return SeedSubject(
            int(entry["seed"]), float(entry.get("truncation", 1.0)), None if class_index is None else int(class_index)
        )
    if kind == "latent":
        return LatentSubject(str(entry["path"]))
    raise ValueError(f"unknown subject kind {kind!r}")


@dataclass(frozen=True)
class OpenSession:
    """Open ``path``: its generator (if the subject needs one) and directions, each checked against the hashes
    the file recorded, its latent file held; result: the :class:`SessionSnapshot` to show.

    Everything is read and checked before the pipeline changes, so a refused file leaves it as it was.
    """

    path: str

    @property
    def title(self) -> str:
        return f"Open session {Path(self.path).name}"

    def run(self, pipeline: Pipeline) -> SessionSnapshot:
        from memstudio.core.checkpoints import sha256_file
        from memstudio.core.figures.sources import check_unchanged, open_direction
        from memstudio.core.session.directions import check_fit

        document = read_session(self.path)
        subject = _subject_of(document)
        if isinstance(subject, (PhotoSubject, LatentSubject)):
            path = Path(subject.path if isinstance(subject, PhotoSubject) else subject.key)
            if not path.is_file():
                raise MemstudioError(f"{path}: the {document['subject']['kind']} this session shows is missing")
            check_unchanged(document["subject"].get("sha256"), sha256_file(path), str(path), "session")
        generator_ref = None
        scratch = pipeline
        if _needs_generator(document):
            generator_ref, scratch = self._open_generator(document["generator"], pipeline)
        directions = {}
        for entry in document.get("directions", []):
            direction = open_direction(entry, check_hashes=True, made="session")
            check_fit(scratch, direction, entry["path"])
            directions[str(entry["id"])] = (direction, str(entry["path"]))
        latent = None
        if isinstance(subject, LatentSubject):
            from memstudio.core.faces.latent_file import check_latent_fits, load_latent

            latent = load_latent(subject.key)
            check_latent_fits(latent, scratch.generator, source=subject.key)
        # Everything checked: only now does the pipeline change.
        if scratch is not pipeline:
            pipeline.set_generator(scratch.generator, source=scratch.generator_source)
        for direction_id, (direction, path) in directions.items():
            pipeline.directions[direction_id] = direction
            pipeline.direction_paths[direction_id] = path
        if latent is not None:
            pipeline.hold_latent(subject.key, latent, path=subject.key)
        return _snapshot_of(document, generator_ref)

    def _open_generator(self, entry: dict[str, Any], pipeline: Pipeline) -> tuple[GeneratorRef, Pipeline]:
        """The session's generator, checked by hash: the open one when it matches, else one opened aside."""
        from memstudio.core.checkpoints import sha256_file
        from memstudio.core.figures.sources import check_unchanged
        from memstudio.core.generators.opening import open_generator
        from memstudio.core.pipeline import Pipeline

        source = str(entry.get("source") or entry.get("name") or "")
        scratch = pipeline
        if pipeline.generator_hash != entry["sha256"]:
            if not source:
                raise MemstudioError(f"{self.path}: the session names no generator source")
            if entry.get("file_sha256") and Path(source).is_file():
                check_unchanged(entry["file_sha256"], sha256_file(source), source, "session")
            # Opened and checked on the CPU: the open generator stays resident on the device until the session
            # is known to be good, and only then is it replaced (set_generator releases it first).
            scratch = Pipeline("cpu", pipeline.edit_side)
            scratch.set_generator(open_generator(source, device="cpu"), source=source)
            check_unchanged(entry["sha256"], scratch.generator_hash, f"generator {source!r}", "session")
        generator = scratch.generator
        family = str(getattr(generator, "family", "") or type(generator).__name__)
        return GeneratorRef(entry["sha256"], generator.name, source, family), scratch


@dataclass(frozen=True)
class OpenSessionInStudio:
    """:class:`OpenSession` for the studio: also what its docks show of what was opened; result:
    ``{"snapshot", "generator" (info dict or None), "directions" (info dicts)}``."""

    path: str

    @property
    def title(self) -> str:
        return f"Open session {Path(self.path).name}"

    def run(self, pipeline: Pipeline) -> dict[str, Any]:
        from memstudio.core.session.directions import direction_info
        from memstudio.core.session.generators import generator_info

        shot = OpenSession(self.path).run(pipeline)
        generator = None
        if shot.generator is not None:
            generator = generator_info(pipeline.generator, pipeline.generator_hash or "")
        directions = [
            direction_info(direction_id, pipeline.directions[direction_id], pipeline.direction_paths[direction_id])
            for direction_id, _ in shot.alphas
        ]
        return {"snapshot": shot, "generator": generator, "directions": directions}
