"""Requests from the studio to the engine, and score results: small immutable values without torch.

The GUI thread builds these for every slider move; keeping them free of torch lets the window start (and
its tests run) without loading the inference stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memstudio.core.unavailable import Score


@dataclass(frozen=True)
class PhotoSubject:
    """A photo on disk, edited with the built-in photo editor."""

    path: str


@dataclass(frozen=True)
class SeedSubject:
    """A seed of the current generator (NVIDIA's seed rule), with truncation and class."""

    seed: int
    truncation: float = 1.0
    class_index: int | None = None


@dataclass(frozen=True)
class LatentSubject:
    """A latent held by the pipeline under ``key`` (an inverted face, a latent opened from a file)."""

    key: str


Subject = PhotoSubject | SeedSubject | LatentSubject


@dataclass(frozen=True)
class RenderRequest:
    """Everything needed to produce one frame; immutable so the GUI thread can hand it over safely.

    ``photo_edits`` are slider values in physical units; ``directions`` pairs a direction id with its α;
    ``layer_weights`` (W+ only) scales every direction per layer, the layerwise editor's coefficients.
    ``generator`` is the content hash of the generator the request was made for (seeds and latents): the
    pipeline refuses it when another generator is open, rather than render another network's image.
    ``ovalize`` names the assessors that score this frame's face oval instead of the whole frame.
    """

    request_id: int
    subject: Subject
    photo_edits: tuple[tuple[str, float], ...] = ()
    directions: tuple[tuple[str, float], ...] = ()
    layer_weights: tuple[float, ...] | None = None
    assessors: tuple[str, ...] = ()
    generator: str | None = None
    ovalize: tuple[str, ...] = ()


@dataclass
class Scores:
    """Scores of one frame; ``errors`` holds the assessors that could not run, with the reason.

    A value is :class:`~memstudio.core.unavailable.Unavailable` where the assessor has no score for this frame
    (valence without a face): shown as "n/a · no face", not as an error.
    """

    values: dict[str, Score] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    elapsed_ms: dict[str, float] = field(default_factory=dict)
