"""The photo editor's parameters: names, ranges and the latent ↔ slider mapping.

Kept free of torch imports so the studio window can build its sliders before the engine has loaded torch
(the window must appear within two seconds of launch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class EditParameter:
    """One slider of the photo editor: its physical range and unit."""

    name: str
    label: str
    low: float
    high: float
    unit: str = ""

    def physical(self, u: Tensor) -> Tensor:
        """Unbounded latent coordinate → physical value in ``[low, high]`` (0 ↦ 0)."""
        import torch  # the caller holds tensors, so torch is loaded already

        t = u.tanh()
        # torch.where keeps a non-zero gradient at u = 0, where every edit starts from the unedited photo.
        return torch.where(t >= 0, t * self.high, -t * self.low)

    def latent(self, value: float) -> float:
        """Physical value → latent coordinate (inverse of :meth:`physical`), clamped inside the range."""
        bound = self.high if value >= 0 else -self.low
        if bound == 0:
            return 0.0
        ratio = max(min(value / bound, 0.999), -0.999)
        return math.atanh(ratio)


#: The edit parameters in latent order. Ranges are chosen so the extreme is a strong but plausible edit.
PARAMETERS: tuple[EditParameter, ...] = (
    EditParameter("exposure", "Exposure", -1.0, 1.0, "EV"),
    EditParameter("contrast", "Contrast", -0.5, 0.6),
    EditParameter("saturation", "Saturation", -0.8, 0.8),
    EditParameter("hue", "Hue", -30.0, 30.0, "°"),
    EditParameter("temperature", "Temperature", -1.0, 1.0),
    EditParameter("zoom", "Zoom", -0.2, 0.7),
    EditParameter("center_x", "Centre x", -1.0, 1.0),
    EditParameter("center_y", "Centre y", -1.0, 1.0),
    EditParameter("vignette", "Vignette", -0.4, 0.6),
    EditParameter("sharpness", "Sharpen / blur", -1.0, 1.0),
)
PARAMETER_INDEX = {p.name: i for i, p in enumerate(PARAMETERS)}
#: Bumped whenever a parameter, its range or its rendering changes: a photo direction is a vector over exactly
#: these parameters as rendered by this editor, so a direction trained on another version is refused.
EDITOR_VERSION = 1
