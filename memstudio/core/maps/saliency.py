"""Gradient saliency: |∂score/∂pixel|, smoothed, optionally averaged over noisy copies (SmoothGrad).

The cheapest map (one forward and backward pass) and the only one at pixel resolution, but also the noisiest:
raw gradients flicker between neighbouring pixels, so the magnitude (max over colour channels, as Simonyan et
al. do) is Gaussian-smoothed, and SmoothGrad (Smilkov et al.) averages the gradients of ``samples`` copies of
the image with Gaussian noise of ``noise`` × the image's value range. Every assessor is differentiable by
contract, so this works for all of them.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from memstudio.core.assessors.base import Assessor
from memstudio.core.jobs import Job, Progress, run_to_end
from memstudio.core.maps.common import (
    MapError,
    batches,
    check_image,
    gaussian_blur,
    map_preview,
    module_device,
    normalize_map,
    resize_map,
)

DEFAULT_SMOOTH = 0.02
DEFAULT_WORK_SIDE = 512


def _gradients(assessor: Assessor, images: torch.Tensor) -> torch.Tensor:
    """``[N, H, W]`` max-over-channels |∂score/∂pixel| of each image of the batch."""
    # The engine renders under inference_mode; gradients must be re-enabled here, on a fresh leaf tensor.
    with torch.inference_mode(False), torch.enable_grad():
        x = images.detach().clone().requires_grad_(True)
        scores = assessor(x)
        (grad,) = torch.autograd.grad(scores.sum(), x)
    return grad.abs().amax(dim=1).detach()


def gradient_map_job(
    image: torch.Tensor,
    assessor: Assessor,
    samples: int = 0,
    noise: float = 0.15,
    smooth: float = DEFAULT_SMOOTH,
    batch_size: int = 8,
    seed: int = 0,
    work_side: int = DEFAULT_WORK_SIDE,
) -> Job[np.ndarray]:
    """Gradient saliency of ``image`` ``[1, 3, H, W]``: plain when ``samples`` is 0, SmoothGrad otherwise.

    ``smooth`` is the Gaussian σ as a fraction of the short side. With SmoothGrad, every batch yields a
    preview of the running average; same ``seed``, same noise, same map. Returns ``[H, W]`` float32 in [0, 1].
    """
    check_image(image)
    if samples < 0:
        raise MapError(f"samples must be 0 (plain gradient) or more, got {samples}")
    if noise < 0 or smooth < 0:
        raise MapError(f"noise and smooth must be non-negative, got noise={noise}, smooth={smooth}")
    height, width = int(image.shape[2]), int(image.shape[3])
    device = module_device(assessor)
    work = image.detach().to(device=device, dtype=torch.float32)
    k = min(1.0, work_side / max(height, width))
    if k < 1.0:
        size = (max(8, round(height * k)), max(8, round(width * k)))
        work = F.interpolate(work, size=size, mode="bilinear", align_corners=False, antialias=True)
    sigma_px = smooth * min(work.shape[2], work.shape[3])

    def finish(total: torch.Tensor, count: int) -> np.ndarray:
        saliency = gaussian_blur((total / count)[None, None], sigma_px)[0, 0]
        return normalize_map(resize_map(saliency.cpu(), height, width))

    if samples == 0:
        final = finish(_gradients(assessor, work)[0], 1)
        yield Progress(1.0, "gradient", map_preview(final))
        return final
    generator = torch.Generator().manual_seed(seed)
    spread = noise * float(work.max() - work.min())
    total = torch.zeros(work.shape[2:], device=device)
    done = 0
    final = normalize_map(torch.zeros(height, width))
    for chunk in batches(list(range(samples)), batch_size):
        eps = torch.randn((len(chunk), *work.shape[1:]), generator=generator).to(device) * spread
        total += _gradients(assessor, work + eps).sum(dim=0)
        done += len(chunk)
        final = finish(total, done)
        yield Progress(done / samples, f"SmoothGrad {done}/{samples} samples", map_preview(final))
    return final


def gradient_map(
    image: torch.Tensor,
    assessor: Assessor,
    samples: int = 0,
    noise: float = 0.15,
    smooth: float = DEFAULT_SMOOTH,
    batch_size: int = 8,
    seed: int = 0,
    work_side: int = DEFAULT_WORK_SIDE,
) -> np.ndarray:
    """The final gradient saliency map ``[H, W]`` float32 in [0, 1] (see :func:`gradient_map_job`)."""
    return run_to_end(gradient_map_job(image, assessor, samples, noise, smooth, batch_size, seed, work_side))
