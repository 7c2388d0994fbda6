"""Tiny generators and assessors for the direction tests, with effects known in closed form.

``LinearStyle`` is StyleGAN's shape reduced to linear maps: z → w (linear mapping), w → w+ (repeat), and an
image that is affine in every layer's w, so the brightness of G(z) is affine in z and the GANalyze optimum
(c·θ = 1 for the brightness gradient c) is known. ``ClassFlip`` is a conditional generator whose classes
respond to z with opposite signs, so the class-conditional θ of the two classes must point opposite ways.
"""

from __future__ import annotations

import pytest
import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.generators.base import Generator, Latent

pytestmark = pytest.mark.usefixtures("single_thread")

LUMA = torch.tensor([0.299, 0.587, 0.114])




class MeanLuma(Assessor):
    """BT.601 mean luma: the brightness factor of paper 000, differentiable."""

    name = "toy-brightness"
    property = "brightness"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images * LUMA.to(images).view(1, 3, 1, 1)).sum(1).mean(dim=(1, 2))


class LinearStyle(Generator):
    """z (z_dim) → w (w_dim) → w+ (num_ws × w_dim) → 3×res×res image, all affine; render clamps nothing."""

    name = "linear-style"
    spaces = ("z", "w", "w+")
    default_space = "w+"

    def __init__(self, z_dim: int = 8, w_dim: int = 8, num_ws: int = 4, res: int = 8, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.z_dim, self.w_dim, self._num_ws, self.res = z_dim, w_dim, num_ws, res
        self.register_buffer("mapping", torch.randn(z_dim, w_dim, generator=g) / z_dim**0.5)
        self.register_buffer("synthesis", 0.05 * torch.randn(num_ws, w_dim, 3 * res * res, generator=g))

    @property
    def num_ws(self) -> int:
        return self._num_ws

    @property
    def resolution(self) -> int:
        return self.res

    def sample(self, seed: int, truncation: float = 1.0, class_index: int | None = None) -> Latent:
        z = torch.randn(1, self.z_dim, generator=torch.Generator().manual_seed(seed))
        w_plus = self.convert(Latent("z", z), "w+").values
        return Latent("w+", w_plus, seed=seed, extras={"z": z})

    def convert(self, latent: Latent, space: str) -> Latent:
        if latent.space == space:
            return latent
        if latent.space == "z" and space in ("w", "w+"):
            w = latent.values @ self.mapping
            return self.convert(Latent("w", w, class_index=latent.class_index), space)
        if latent.space == "w" and space == "w+":
            return Latent(
                "w+", latent.values[:, None].repeat(1, self._num_ws, 1), class_index=latent.class_index
            )
        return super().convert(latent, space)

    def render(self, latent: Latent) -> torch.Tensor:
        w_plus = self.convert(latent, "w+").values
        flat = 0.5 + torch.einsum("nlw,lwp->np", w_plus, self.synthesis)
        return flat.view(-1, 3, self.res, self.res)

    def brightness_gradient(self, space: str) -> torch.Tensor:
        """c with brightness(G(x)) = b0 + c·x for x in ``space`` (exact: everything is linear)."""
        per_pixel = (self.synthesis.view(self._num_ws, self.w_dim, 3, -1) * LUMA.view(1, 1, 3, 1)).sum(2)
        c_plus = per_pixel.mean(-1)  # [num_ws, w_dim]
        if space == "w+":
            return c_plus
        c_w = c_plus.sum(0)
        return c_w if space == "w" else self.mapping @ c_w


class ClassFlip(Generator):
    """Conditional linear generator: class 0 brightens along +a·z, class 1 along −a·z."""

    name = "class-flip"
    spaces = ("z",)
    default_space = "z"

    def __init__(self, z_dim: int = 6, res: int = 4, seed: int = 1) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.z_dim, self.res = z_dim, res
        self.register_buffer("a", 0.05 * torch.randn(z_dim, 3 * res * res, generator=g))

    @property
    def resolution(self) -> int:
        return self.res

    @property
    def num_classes(self) -> int:
        return 2

    def sample(self, seed: int, truncation: float = 1.0, class_index: int | None = None) -> Latent:
        z = torch.randn(1, self.z_dim, generator=torch.Generator().manual_seed(seed))
        return Latent("z", z, seed=seed, class_index=0 if class_index is None else class_index)

    def render(self, latent: Latent) -> torch.Tensor:
        sign = 1.0 if (latent.class_index or 0) == 0 else -1.0
        return (0.5 + sign * latent.values @ self.a).view(-1, 3, self.res, self.res)
