"""What a generator is: latent spaces by name, a seed → latent rule, and latent → image rendering.

Generators are photo editing (space ``edit``), StyleGAN2/3 (``z``, ``w``, ``w+``) and BigGAN (``z`` with a
class). Every ``render`` returns the image convention ``[N, 3, H, W]`` RGB in [0, 1]; the same seed and the
same checkpoint give the same pixels.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field, replace

import torch
from torch import nn


@dataclass(frozen=True)
class Latent:
    """A point in one of a generator's spaces, with where it came from.

    ``values`` is ``[N, ...]``: ``[N, z_dim]`` for z, ``[N, w_dim]`` for w, ``[N, num_ws, w_dim]`` for w+,
    ``[N, num_params]`` for photo edits. ``seed``/``truncation``/``class_index`` record the origin so a
    figure can say how to reproduce it; ``label`` names it in the seed browser.
    """

    space: str
    values: torch.Tensor
    seed: int | None = None
    truncation: float = 1.0
    class_index: int | None = None
    label: str = ""
    extras: dict[str, object] = field(default_factory=dict, compare=False)

    def with_values(self, values: torch.Tensor) -> Latent:
        """Same origin, new values: how an edit produces its latent."""
        return replace(self, values=values)

    def to(self, device: torch.device | str) -> Latent:
        return replace(self, values=self.values.to(device))


class Generator(nn.Module, abc.ABC):
    """Base class of generators."""

    name: str = ""
    #: Latent spaces this generator exposes, in the order a user would pick them.
    spaces: tuple[str, ...] = ()
    #: The space directions are edited in unless the user says otherwise.
    default_space: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.checkpoint_hash: str | None = None

    @property
    def num_ws(self) -> int:
        """Number of W+ layers (0 where there is no W+); derived from the architecture, never a literal."""
        return 0

    @property
    @abc.abstractmethod
    def resolution(self) -> int:
        """Side of the square output in pixels (photo editing: the working size)."""

    @property
    def num_classes(self) -> int:
        """0 for unconditional generators."""
        return 0

    @abc.abstractmethod
    def sample(self, seed: int, truncation: float = 1.0, class_index: int | None = None) -> Latent:
        """The latent the official tools derive from ``seed``, in :attr:`default_space`."""

    def convert(self, latent: Latent, space: str) -> Latent:
        """Map a latent into ``space`` (z → w → w+); only forward mappings exist."""
        if latent.space == space:
            return latent
        raise ValueError(f"{self.name}: cannot convert a {latent.space!r} latent to {space!r}")

    @abc.abstractmethod
    def render(self, latent: Latent) -> torch.Tensor:
        """Latent → ``[N, 3, H, W]`` in [0, 1], differentiable in ``latent.values``."""

    def describe(self) -> dict[str, object]:
        """Identity of this generator for metadata sidecars."""
        return {"name": self.name, "checkpoint_sha256": self.checkpoint_hash, "num_ws": self.num_ws}
