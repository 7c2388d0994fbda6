"""Image factors of paper 000 §3.2 as differentiable assessors: brightness, colorfulness, redness, entropy.

GANalyze found that its memorability direction also moved these simple properties. Scoring them beside
ResMem shows whether an edit changed "memorability" or just made the picture brighter or redder; and being
differentiable, each can itself drive a direction (the brightness direction is the project's sanity check).
"""

from __future__ import annotations

import math

import torch

from memstudio.core.assessors.base import Assessor, check_images
from memstudio.core.generators.photo import luma


class BrightnessAssessor(Assessor):
    """Mean grayscale (BT.601 luma) in [0, 1]."""

    name = "brightness"
    property = "brightness"
    score_range = (0.0, 1.0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        return luma(images).mean(dim=(1, 2, 3))


class ColorfulnessAssessor(Assessor):
    """Hasler & Süsstrunk (2003) colourfulness, σ_rgyb + 0.3·μ_rgyb, on the 0–255 scale of the original paper.

    rg = R − G and yb = ½(R + G) − B; σ and μ are the root-sum-squares of the two opponent channels' standard
    deviations and means. The authors' perceptual scale: ~15 slightly, ~33 moderately, ~59 quite, ~82 highly,
    ~109 extremely colourful.
    """

    name = "colorfulness"
    property = "colorfulness"
    score_range = (0.0, 150.0)
    decimals = 1

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        x = images * 255.0
        r, g, b = x[:, 0], x[:, 1], x[:, 2]
        rg = (r - g).flatten(1)
        yb = (0.5 * (r + g) - b).flatten(1)
        sigma = torch.sqrt(rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False) + 1e-12)
        mu = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2 + 1e-12)
        return sigma + 0.3 * mu


class RednessAssessor(Assessor):
    """Share of red pixels in [0, 1], made differentiable with a soft threshold.

    A pixel is red when its red channel exceeds both others by more than ``margin`` (0.15 of full scale); the
    hard step is replaced by a logistic of width ``softness`` so gradients exist near the threshold.
    """

    name = "redness"
    property = "redness"
    score_range = (0.0, 1.0)

    def __init__(self, margin: float = 0.15, softness: float = 0.02) -> None:
        super().__init__()
        self.margin = margin
        self.softness = softness

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        excess = images[:, 0] - torch.maximum(images[:, 1], images[:, 2])
        return torch.sigmoid((excess - self.margin) / self.softness).mean(dim=(1, 2))


class EntropyAssessor(Assessor):
    """Shannon entropy (bits) of the 256-bin intensity histogram, with linear soft binning.

    Bin centres sit on the 8-bit levels, so for 8-bit images the soft histogram equals the ordinary one;
    between levels a value splits its weight between the two neighbouring bins, which keeps the score
    differentiable. Range [0, 8] bits.
    """

    name = "entropy"
    property = "entropy"
    score_range = (0.0, 8.0)
    decimals = 2

    bins = 256

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        level = (luma(images).clamp(0, 1) * (self.bins - 1)).flatten(1)
        # Triangular kernel as linear interpolation: each value adds (1 − frac) to the bin below and frac to
        # the bin above. Two scatter-adds cost O(pixels), and the gradient flows through frac.
        low = level.detach().floor().clamp(max=self.bins - 2)
        frac = level - low
        low = low.long()
        hist = torch.zeros(level.shape[0], self.bins, device=images.device, dtype=level.dtype)
        hist = hist.scatter_add(1, low, 1.0 - frac).scatter_add(1, low + 1, frac)
        p = hist / hist.sum(dim=1, keepdim=True)
        plogp = torch.where(p > 0, p * torch.log(p.clamp(min=1e-30)), torch.zeros_like(p))
        return -plogp.sum(dim=1) / math.log(2.0)
