"""The emphasis check of paper 004 §5: is the map right about which regions make the image memorable?

The paper re-renders an image three ways from its map — *high*: memorable regions kept detailed and the rest
abstracted; *medium*: a random half kept detailed; *low*: the reverse of high — and finds human memorability
ranks high > medium > low. The studio does the same with its assessor standing in for the people. The paper
abstracted with cartoonization; we abstract with a Gaussian blur plus partial desaturation, which removes
the same things (fine detail, colour contrast) without a cartoon filter's own strong edges.

"Kept detailed" means the original pixels, so none of the renders adds anything the photo lacked; as in the
paper, all three usually score below the original.
"""

from __future__ import annotations

import numpy as np
import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.maps.colormap import check_map
from memstudio.core.maps.common import MapError, check_image, gaussian_blur, module_device

RENDERS = ("original", "high", "medium", "low")


def abstract(image: torch.Tensor, blur: float = 0.02, desaturate: float = 0.7) -> torch.Tensor:
    """De-emphasised version of ``image``: Gaussian blur (σ = ``blur`` × short side) and colour pulled
    ``desaturate`` of the way towards its BT.601 grey."""
    sigma = blur * min(image.shape[2], image.shape[3])
    soft = gaussian_blur(image, sigma)
    grey = (0.299 * soft[:, 0:1] + 0.587 * soft[:, 1:2] + 0.114 * soft[:, 2:3]).expand_as(soft)
    return (soft + desaturate * (grey - soft)).clamp(0, 1)


def _soft_mask(values: np.ndarray, feather_px: float) -> torch.Tensor:
    """Top half of ``values`` (above the median) → 1, bottom half → 0, edges feathered over ``feather_px``."""
    t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    hard = (t > t.median()).float()
    if int(hard.sum()) == 0:  # a flat map: nothing is above the median, so the halves are arbitrary
        hard = (t >= t.median()).float()
    return gaussian_blur(hard[None, None], feather_px)[0, 0].clamp(0, 1)


def random_half(height: int, width: int, seed: int = 0, cells: int = 8) -> np.ndarray:
    """A random half of the image: ``cells × cells`` blocks, exactly half of them chosen (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(cells * cells, generator=generator)
    blocks = torch.zeros(cells * cells)
    blocks[order[: cells * cells // 2]] = 1.0
    # Values just above and below 0.5 so the median split picks exactly the chosen blocks.
    field = torch.nn.functional.interpolate(
        blocks.view(1, 1, cells, cells), size=(height, width), mode="nearest"
    )
    return (field[0, 0] * 0.5 + 0.25).numpy()


def emphasis_renders(
    image: torch.Tensor, map_: np.ndarray, seed: int = 0, blur: float = 0.02, desaturate: float = 0.7
) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """The four renders (original, high, medium, low) as ``[1, 3, H, W]`` tensors and the emphasis mask of
    each (1 = original pixels, 0 = abstracted)."""
    check_image(image)
    arr = check_map(map_)
    height, width = int(image.shape[2]), int(image.shape[3])
    if arr.shape != (height, width):
        raise MapError(f"the map is {arr.shape[1]}×{arr.shape[0]} but the image is {width}×{height}")
    image = image.detach().float().cpu()
    feather = 0.02 * min(height, width)
    high = _soft_mask(arr, feather)
    masks = {
        "original": torch.ones(height, width),
        "high": high,
        "medium": _soft_mask(random_half(height, width, seed), feather),
        "low": 1.0 - high,
    }
    flat = abstract(image, blur, desaturate)
    renders = {name: m * image + (1.0 - m) * flat for name, m in masks.items()}
    renders["original"] = image.clone()
    return renders, {name: m.numpy() for name, m in masks.items()}


def emphasis_check(
    image: torch.Tensor,
    map_: np.ndarray,
    assessor: Assessor,
    seed: int = 0,
    blur: float = 0.02,
    desaturate: float = 0.7,
) -> dict[str, object]:
    """Render and score the emphasis experiment.

    Returns ``{"images": {name: [1,3,H,W]}, "masks": {name: [H,W]}, "scores": {name: float},
    "order_holds": bool}`` for names original, high, medium, low; ``order_holds`` is the paper's
    result high > medium > low.
    """
    renders, masks = emphasis_renders(image, map_, seed, blur, desaturate)
    device = module_device(assessor)
    batch = torch.cat([renders[name] for name in RENDERS]).to(device)
    scores = assessor.score(batch).tolist()
    by_name = dict(zip(RENDERS, (float(s) for s in scores), strict=True))
    return {
        "images": renders,
        "masks": masks,
        "scores": by_name,
        "order_holds": by_name["high"] > by_name["medium"] > by_name["low"],
    }
