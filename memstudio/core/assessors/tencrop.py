"""Square resizing and the ten-crop average of the Caffe era (four corners and the centre, each mirrored).

MemNet (227 of 256) and EmoNet (224 of 256) average their network over these ten views. Offsets follow
GANalyze's ``tencrop`` (``pytorch/assessors/emonet.py``, ``tensorflow/assessors/memnet.py``): corners at 0 and
``size − crop``, the centre at ``floor((size − crop) / 2) + 1`` (one pixel lower-right of Caffe's
``oversample``, which rounds down), so scores match the published PyTorch and TensorFlow code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Antialiased bilinear resize to ``size``×``size`` (a no-op at that size), differentiable."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def crop_offsets(size: int, crop: int) -> list[tuple[int, int]]:
    """(top, left) of the five unmirrored crops: the corners, then the centre."""
    far = size - crop
    centre = far // 2 + 1
    return [(0, 0), (0, far), (far, 0), (far, far), (centre, centre)]


def ten_crop(images: torch.Tensor, crop: int) -> torch.Tensor:
    """``[N, C, S, S]`` → ``[N·10, C, crop, crop]``: per image the five crops, then the same five mirrored."""
    size = images.shape[-1]
    crops = [images[:, :, t : t + crop, s : s + crop] for t, s in crop_offsets(size, crop)]
    views = torch.stack(crops + [c.flip(-1) for c in crops], dim=1)
    return views.reshape(-1, *views.shape[2:])


def crop_mean(outputs: torch.Tensor) -> torch.Tensor:
    """Average a network's ``[N·10]`` outputs back to one value per image, ``[N]``."""
    return outputs.reshape(-1, 10).mean(dim=1)
