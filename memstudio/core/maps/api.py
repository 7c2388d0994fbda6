"""One entry point for every heatmap method, as the engine, the CLI and the tests call it.

``map_job`` is the progressive form (a :mod:`~memstudio.core.jobs` generator: Progress steps, a ``preview``
``[1, 1, H, W]`` whenever a better map is ready, the final ``[H, W]`` map as its return value);
``compute_map`` runs it to the end. All methods return float32 maps in [0, 1], normalised per image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.jobs import Job, Progress, run_to_end
from memstudio.core.maps.common import MapError, check_image, map_preview, normalize_map

METHODS = ("regions", "occlusion", "gradient", "vms")


def map_job(
    image: torch.Tensor,
    assessor: Assessor | None = None,
    method: str = "regions",
    scales: tuple[float, ...] | list[float] | None = None,
    vms_checkpoint: str | Path | None = None,
    batch_size: int = 16,
    **options: object,
) -> Job[np.ndarray]:
    """Progressive heatmap of ``image`` ``[1, 3, H, W]`` in [0, 1].

    ``scales`` are window (regions) or patch (occlusion) sides as fractions of the short side; ``None`` takes
    the method's defaults. ``options`` go to the method: ``overlap``, ``crop_size`` (regions); ``overlap``,
    ``fill``, ``work_side`` (occlusion); ``samples``, ``noise``, ``smooth``, ``seed`` (gradient).
    The ``vms`` method needs ``vms_checkpoint`` and no assessor.
    """
    check_image(image)
    if method not in METHODS:
        raise MapError(f"unknown heatmap method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "vms":
        if vms_checkpoint is None:
            raise MapError("the vms method needs a trained checkpoint (vms_checkpoint=...)")
        from memstudio.core.maps.vms_checkpoint import predict_vms

        yield Progress(0.0, "predicting the VMS map")
        final = normalize_map(predict_vms(image, vms_checkpoint))
        yield Progress(1.0, "VMS map", map_preview(final))
        return final
    if assessor is None:
        raise MapError(f"the {method} method needs an assessor")
    if method == "regions":
        from memstudio.core.maps import regions

        kwargs = {"scales": tuple(scales)} if scales is not None else {}
        return (
            yield from regions.region_map_job(image, assessor, batch_size=batch_size, **kwargs, **options)
        )
    if method == "occlusion":
        from memstudio.core.maps import occlusion

        kwargs = {"scales": tuple(scales)} if scales is not None else {}
        return (
            yield from occlusion.occlusion_map_job(
                image, assessor, batch_size=batch_size, **kwargs, **options
            )
        )
    from memstudio.core.maps import saliency

    return (yield from saliency.gradient_map_job(image, assessor, batch_size=batch_size, **options))


def compute_map(
    image: torch.Tensor,
    assessor: Assessor | None = None,
    method: str = "regions",
    scales: tuple[float, ...] | list[float] | None = None,
    vms_checkpoint: str | Path | None = None,
    batch_size: int = 16,
    **options: object,
) -> np.ndarray:
    """The final heatmap ``[H, W]`` float32 in [0, 1] (see :func:`map_job`)."""
    return run_to_end(map_job(image, assessor, method, scales, vms_checkpoint, batch_size, **options))
