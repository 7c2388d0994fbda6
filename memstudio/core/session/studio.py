"""The studio's model without Qt: what is on the canvas, for which generator, and how it is scored.

One :class:`StudioSession` holds the subject, the photo edits, the directions' α, the layer weights, the
current generator (by content hash) with the latents made for each generator, and the assessor settings
(which assessors score a subject's face oval). The GUI's undo stack (``memstudio.ui.state``) changes these
values and nothing else holds them; every frame the studio asks for is :meth:`StudioSession.render_request`,
so a request always names the generator it was made for and the ovalize setting it is scored with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from memstudio.core.errors import MemstudioError
from memstudio.core.requests import LatentSubject, PhotoSubject, RenderRequest, SeedSubject, Subject


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
        self._latents: dict[str, dict[str, str]] = {}  # generator hash → latent key → label
        self._ovalize: dict[str, frozenset[str]] = {}  # subject key → assessors scored on the face oval

    # ----- generator and its latents --------------------------------------------------------------------
    def set_generator(self, generator: GeneratorRef | None) -> None:
        """Make ``generator`` current. Latents of others are kept under their hash (not listed, not rendered)
        and come back with their generator; the subject keeps the generator it is an image of. Layer weights
        go with a generator change: another network may have another number of layers."""
        if (generator.sha256 if generator is not None else None) != self.generator_hash:
            self.values.layer_weights = None
        self.generator = generator

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
        """The frame of what the session shows: a seed or latent names the generator it is an image of."""
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
