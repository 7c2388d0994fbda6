"""What an assessor is: a differentiable network that scores an image batch for one property.

Every assessor takes the project's image convention — ``[N, 3, H, W]`` RGB in [0, 1] on its device — and
does its own preprocessing (resize, crop, mean subtraction) inside ``forward``. Callers never need to know
a model's input recipe, and gradients flow from the score back to the pixels, which direction training needs.
"""

from __future__ import annotations

import torch
from PIL import Image
from torch import nn

from memstudio.core.device import tf32
from memstudio.core.imaging import pil_to_tensor
from memstudio.core.unavailable import Score, Unavailable, as_score


class Assessor(nn.Module):
    """Base class of all assessors. Subclasses set the class attributes and implement ``forward``.

    ``forward(images) -> scores`` returns a ``[N]`` float tensor.
    """

    #: Registry id used on the command line and in figure metadata, e.g. ``"resmem"``.
    name: str = ""
    #: The cognitive or image property scored, e.g. ``"memorability"``, ``"brightness"``.
    property: str = ""
    #: Nominal range of scores; sliders, plots and GANalyze's default α range follow it.
    score_range: tuple[float, float] = (0.0, 1.0)
    #: Decimals worth showing; more would be noise.
    decimals: int = 3
    #: Why an image may have no score (valence: no face), or None when every image gets a number. Only
    #: :meth:`score_prepared` marks such images with NaN; :meth:`score` and ``forward`` raise instead.
    unavailable: Unavailable | None = None

    def __init__(self) -> None:
        super().__init__()
        #: SHA-256 of the weights file the assessor was built from, for reproducible metadata.
        self.checkpoint_hash: str | None = None

    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Scores without gradients, for display, figures and evidence: ``[N]`` on the CPU as float32.

        In true float32 on a GPU too (see :func:`memstudio.core.device.tf32`): these are the numbers people cite.
        """
        with torch.inference_mode(), tf32(False):
            return self(images).detach().float().cpu()

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Per-image preprocessing, split out so images of different sizes can be scored in one batch.

        ``score_prepared(prepare(x)) == forward(x)``; assessors whose preprocessing yields a fixed size
        (ResMem's 227-px crop) override both, and batch scorers stack the prepared tensors.
        """
        return images

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        """:meth:`prepare` for a decoded file, on the CPU: ResMem resizes the 8-bit image itself, sparing a
        round trip through float pixels for every file of a folder."""
        return self.prepare(pil_to_tensor(image))

    def score_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        """Scores of a batch made by :meth:`prepare` (no gradients, CPU float, true float32 as :meth:`score`)."""
        with torch.inference_mode(), tf32(False):
            return self(prepared).detach().float().cpu()

    def score_prepared_details(self, prepared: torch.Tensor) -> tuple[torch.Tensor, list[dict[str, object]] | None]:
        """:meth:`score_prepared` plus each image's further outputs for JSON and tables (NIMA: the standard
        deviation and the rating distribution), or None; one forward pass for both."""
        return self.score_prepared(prepared), None

    def analyse_image(self, image: Image.Image) -> tuple[torch.Tensor, dict[str, object] | None]:
        """:meth:`prepare_image` plus details for JSON output (valence: every face's values), or None.

        One call per file on the decoding threads, so an assessor that must find something first (faces)
        finds it once for both the score and the details.
        """
        return self.prepare_image(image), None

    def score_available(self, images: torch.Tensor) -> list[Score]:
        """Scores for display where an image may have none: :attr:`unavailable` in its place, never a number."""
        return [as_score(v, self.unavailable) for v in self.score(images).tolist()]

    def describe(self) -> dict[str, object]:
        """Identity of this assessor for metadata sidecars."""
        return {"name": self.name, "property": self.property, "checkpoint_sha256": self.checkpoint_hash}


def check_images(images: torch.Tensor) -> None:
    """Fail loudly on the wrong shape, which would otherwise give a silently wrong score."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected an image batch [N, 3, H, W], got shape {tuple(images.shape)}")
