"""The studio's model without Qt: what is on the canvas, for which generator, and how it is scored.

One :class:`StudioSession` holds the subject, the photo edits, the directions' α, the layer weights, the
current generator (by content hash) with the latents made for each generator, and the assessor settings
(which assessors score a subject's face oval). The GUI's undo stack (``memstudio.ui.state``) changes these
values and nothing else holds them; every frame the studio asks for is :meth:`StudioSession.render_request`,
so a request always names the generator it was made for and the ovalize setting it is scored with. A session
saves to and loads from a small JSON file, which the CLI reads as the studio wrote it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memstudio.core.atomic import write_text_atomic
from memstudio.core.errors import MemstudioError
from memstudio.core.requests import LatentSubject, PhotoSubject, RenderRequest, SeedSubject, Subject

#: Version of the session file; a newer one is refused rather than half-read.
SESSION_VERSION = 1


@dataclass
class StudioValues:
    """What the canvas shows: a subject and the edits applied to it (the part the undo stack changes).

    ``generator`` is the content hash of the generator a seed or latent subject is an image of (None for a
    photo): undo can bring back a seed of a generator that is no longer open, and its request then names that
    generator, so the pipeline refuses it instead of showing the open generator's image of the same seed.
    """

    subject: Subject | None = None
    edits: dict[str, float] = field(default_factory=dict)
    alphas: dict[str, float] = field(default_factory=dict)
    layer_weights: tuple[float, ...] | None = None
    generator: str | None = None

    def copy(self) -> StudioValues:
        return StudioValues(self.subject, dict(self.edits), dict(self.alphas), self.layer_weights, self.generator)


@dataclass(frozen=True)
class GeneratorRef:
    """A generator as the session knows it: its content hash (the identity), name and where it came from."""

    sha256: str
    name: str = ""
    source: str = ""
    family: str = ""

    @property
    def stylegan(self) -> bool:
        """Faces invert into a StyleGAN only (its W space)."""
        return self.family.startswith("stylegan")

    def describe(self) -> str:
        return f"{self.name or 'generator'!r} (sha256 {self.sha256[:12]}…)"


def subject_label(subject: Subject | None) -> str:
    """"chelsea.png", "seed 3", or a latent's key: how the title bar and the Edit menu name a subject."""
    if isinstance(subject, PhotoSubject):
        return Path(subject.path).name
    if isinstance(subject, SeedSubject):
        return f"seed {subject.seed}"
    return "" if subject is None else str(getattr(subject, "key", ""))


def subject_key(subject: Subject | None) -> str:
    """A stable text key for a subject: ``photo:<path>``, ``seed:<n>:<ψ>:<class>``, ``latent:<key>``."""
    if isinstance(subject, PhotoSubject):
        return f"photo:{subject.path}"
    if isinstance(subject, SeedSubject):
        return f"seed:{subject.seed}:{subject.truncation:g}:{subject.class_index}"
    if isinstance(subject, LatentSubject):
        return f"latent:{subject.key}"
    return ""


def needs_generator(subject: Subject | None) -> bool:
    """Seeds and latents are images of a generator; photos are not."""
    return isinstance(subject, (SeedSubject, LatentSubject))


class StudioSession:
    """The one source of truth for the studio's model (the GUI adapts it to Qt signals and undo)."""

    def __init__(self) -> None:
        self.values = StudioValues()
        self.generator: GeneratorRef | None = None
        #: Generators seen in this session by hash (names for messages, sources to reopen).
        self.generators: dict[str, GeneratorRef] = {}
        self._latents: dict[str, dict[str, str]] = {}  # generator hash → latent key → label
        self._ovalize: dict[str, frozenset[str]] = {}  # subject key → assessors scored on the face oval

    # ----- generator and its latents --------------------------------------------------------------------
    def set_generator(self, generator: GeneratorRef | None) -> None:
        """Make ``generator`` current. Latents of others are kept under their hash (not listed, not rendered)
        and come back with their generator; the subject keeps the generator it is an image of."""
        self.generator = generator
        if generator is not None:
            self.generators[generator.sha256] = generator

    @property
    def generator_hash(self) -> str | None:
        return self.generator.sha256 if self.generator is not None else None

    def add_latent(self, key: str, label: str, generator_hash: str | None = None) -> None:
        """Record latent ``key`` as made with ``generator_hash`` (default: the current generator)."""
        owner = generator_hash or self.generator_hash
        if owner is None:
            raise MemstudioError(f"latent {key!r}: no generator is open to hold it for")
        self._latents.setdefault(owner, {})[key] = label

    def latents(self, generator_hash: str | None = None) -> dict[str, str]:
        """Latent key → label of ``generator_hash`` (default: the current generator), in the order made."""
        owner = generator_hash or self.generator_hash
        return dict(self._latents.get(owner, {})) if owner else {}

    def latent_owner(self, key: str) -> str | None:
        """The hash of the generator latent ``key`` was made with, or None if the session has no such latent."""
        return next((owner for owner, held in self._latents.items() if key in held), None)

    def generator_of(self, subject: Subject | None) -> str | None:
        """The hash of the generator ``subject`` is an image of: a latent's maker, a seed's current generator,
        None for a photo."""
        if isinstance(subject, LatentSubject):
            return self.latent_owner(subject.key) or self.generator_hash
        if isinstance(subject, SeedSubject):
            return self.generator_hash
        return None

    def shows(self, subject: Subject | None) -> bool:
        """Whether the canvas already shows ``subject`` of the generator it would be shown of now."""
        return subject == self.values.subject and self.generator_of(subject) == self.values.generator

    # ----- assessor settings ----------------------------------------------------------------------------
    def set_ovalize(self, assessor: str, on: bool, subject: Subject | None = None) -> frozenset[str]:
        """Score ``subject``'s (default: the current subject's) face oval with ``assessor``, or stop; the set."""
        key = subject_key(subject if subject is not None else self.values.subject)
        names = set(self._ovalize.get(key, frozenset()))
        if on:
            names.add(assessor)
        else:
            names.discard(assessor)
        self._ovalize[key] = frozenset(names)
        return self._ovalize[key]

    def ovalized(self, subject: Subject | None = None) -> frozenset[str]:
        """Assessors that score ``subject``'s (default: the current subject's) face oval."""
        return self._ovalize.get(subject_key(subject if subject is not None else self.values.subject), frozenset())

    # ----- requests -------------------------------------------------------------------------------------
    def render_request(self, request_id: int, assessors: tuple[str, ...] = ()) -> RenderRequest:
        """The frame of what the session shows: seeds and latents name the current generator's hash."""
        values = self.values
        if values.subject is None:
            raise MemstudioError("nothing to render: open a photo, a seed or a latent first")
        return RenderRequest(
            request_id=request_id,
            subject=values.subject,
            photo_edits=tuple(sorted(values.edits.items())),
            directions=tuple(sorted(values.alphas.items())),
            layer_weights=values.layer_weights,
            assessors=assessors,
            generator=values.generator if needs_generator(values.subject) else None,
            ovalize=tuple(sorted(self.ovalized() & set(assessors))),
        )

    # ----- file -----------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        values = self.values
        return {
            "version": SESSION_VERSION,
            "subject": _subject_to_json(values.subject),
            "edits": dict(values.edits),
            "alphas": dict(values.alphas),
            "layer_weights": list(values.layer_weights) if values.layer_weights is not None else None,
            "subject_generator": values.generator,
            "generator": self.generator_hash,
            "generators": {
                h: {"name": g.name, "source": g.source, "family": g.family} for h, g in self.generators.items()
            },
            "latents": {h: dict(held) for h, held in self._latents.items()},
            "ovalize": {key: sorted(names) for key, names in self._ovalize.items() if names},
        }

    def save(self, path: str | Path) -> Path:
        """Write the session as JSON (atomically: a crash leaves the old file)."""
        path = Path(path)
        write_text_atomic(path, json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> StudioSession:
        """Read a session file; a file that is not one says so, naming the file and what is wrong."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MemstudioError(f"{path}: cannot read the session file ({exc})") from exc
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise MemstudioError(f"{path}: not a memstudio session file ({type(exc).__name__}: {exc})") from exc

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudioSession:
        version = int(data["version"])
        if version > SESSION_VERSION:
            raise ValueError(f"version {version} is newer than this memstudio reads ({SESSION_VERSION})")
        session = cls()
        for sha256, info in dict(data.get("generators") or {}).items():
            session.generators[str(sha256)] = GeneratorRef(
                str(sha256), str(info["name"]), str(info["source"]), str(info.get("family", ""))
            )
        current = data.get("generator")
        if current is not None:
            session.generator = session.generators.get(str(current), GeneratorRef(str(current)))
        session._latents = {str(h): {str(k): str(v) for k, v in held.items()} for h, held in data["latents"].items()}
        session._ovalize = {str(k): frozenset(map(str, v)) for k, v in data["ovalize"].items()}
        weights = data.get("layer_weights")
        session.values = StudioValues(
            _subject_from_json(data.get("subject")),
            {str(k): float(v) for k, v in data["edits"].items()},
            {str(k): float(v) for k, v in data["alphas"].items()},
            tuple(float(w) for w in weights) if weights is not None else None,
            None if data.get("subject_generator") is None else str(data["subject_generator"]),
        )
        return session


def _subject_to_json(subject: Subject | None) -> dict[str, Any] | None:
    if isinstance(subject, PhotoSubject):
        return {"photo": subject.path}
    if isinstance(subject, SeedSubject):
        return {"seed": subject.seed, "truncation": subject.truncation, "class_index": subject.class_index}
    if isinstance(subject, LatentSubject):
        return {"latent": subject.key}
    return None


def _subject_from_json(data: dict[str, Any] | None) -> Subject | None:
    if data is None:
        return None
    if "photo" in data:
        return PhotoSubject(str(data["photo"]))
    if "seed" in data:
        class_index = data.get("class_index")
        return SeedSubject(
            int(data["seed"]), float(data["truncation"]), None if class_index is None else int(class_index)
        )
    if "latent" in data:
        return LatentSubject(str(data["latent"]))
    raise ValueError(f"unknown subject {data!r}")
