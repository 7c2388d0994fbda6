"""Work the generator dock sends to the engine thread: opening a generator, seed thumbnails, latent files.

Everything here runs on the engine thread with the pipeline it owns (never on the GUI thread), and is
Qt-free so the same functions can be driven from a test without a window. The GUI side imports this module
only inside the closures it hands to the engine, so building the window never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from memstudio.core.errors import MemstudioError
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.imaging import tensor_to_uint8
from memstudio.core.jobs import Progress
from memstudio.core.pipeline import Pipeline
from memstudio.core.requests import RenderRequest

#: ψ the dock starts at: StyleGAN's identity truncation; BigGAN's usual 0.4 (its images at ψ = 1 are poor).
DEFAULT_TRUNCATION = {"biggan": 0.4}
#: Truncation ranges the dock offers; BigGAN's batch-norm statistics exist only for ψ in (0, 1].
TRUNCATION_RANGE = {"biggan": (0.02, 1.0)}
STYLEGAN_TRUNCATION_RANGE = (0.0, 1.5)


def generator_info(generator: Generator) -> dict[str, Any]:
    """What the dock shows and needs about ``generator`` (plain values, safe to hand to the GUI thread)."""
    family = str(getattr(generator, "family", "") or type(generator).__name__)
    class_names: tuple[str, ...] = ()
    if family == "biggan" and generator.num_classes == 1000:
        from memstudio.core.generators.biggan import imagenet_class_names

        class_names = imagenet_class_names()
    default_class = getattr(generator, "default_class", 0) if generator.num_classes else None
    return {
        "name": generator.name,
        "family": family,
        "resolution": int(generator.resolution),
        "num_ws": int(generator.num_ws),
        "num_classes": int(generator.num_classes),
        "class_names": class_names,
        "default_class": default_class,
        "checkpoint_sha256": generator.checkpoint_hash or "",
        "default_truncation": DEFAULT_TRUNCATION.get(family, 1.0),
        "truncation_range": TRUNCATION_RANGE.get(family, STYLEGAN_TRUNCATION_RANGE),
    }


def open_generator_job(source: str) -> Callable[[Pipeline], Iterator[Progress]]:
    """A job factory that opens ``source`` (file, folder or stored-model name) and makes it current.

    Opening is one long call, so progress is indeterminate until it returns. The previous generator stays
    current until the new one has loaded, so a refused file leaves the studio as it was.
    """

    def factory(pipeline: Pipeline) -> Iterator[Progress]:
        from memstudio.core.generators.opening import open_generator

        yield Progress(0.0, f"reading {Path(source).name or source}…")
        generator = open_generator(source, device="cpu")
        pipeline.set_generator(generator, source=str(source))
        info = generator_info(pipeline.generator)
        yield Progress(1.0, "loaded")
        return info

    return factory


def _batch_latent(latents: list[Latent], truncation: float, class_index: int | None) -> Latent:
    return Latent(
        latents[0].space,
        torch.cat([latent.values for latent in latents]),
        truncation=truncation,
        class_index=class_index,
    )


@torch.inference_mode()
def render_seed_thumbnails(
    generator: Generator, seeds: list[int], truncation: float, class_index: int | None, size: int
) -> list[np.ndarray]:
    """``[size, size, 3]`` uint8 thumbnails of ``seeds``, rendered as one batch then reduced.

    Sizes above ``size`` are reduced with antialiasing; smaller outputs are kept as they are (the view
    enlarges them without inventing detail).
    """
    if not seeds:
        return []
    latents = [generator.sample(seed, truncation, class_index) for seed in seeds]
    images = generator.render(_batch_latent(latents, truncation, class_index)).float()
    if images.shape[-1] > size or images.shape[-2] > size:
        images = F.interpolate(
            images, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return list(tensor_to_uint8(images.clamp(0, 1).cpu()))


def latent_on_screen(pipeline: Pipeline, request: RenderRequest) -> Latent:
    """The latent the canvas shows for ``request`` (directions applied), tagged with the generator."""
    if pipeline.generator is None:
        raise MemstudioError("no generator is loaded: open one with File ▸ Open generator… first")
    generator, latent = pipeline.latent_for(request)
    if generator is not pipeline.generator:
        raise MemstudioError("the canvas shows a photo, not a generator image: click a seed first")
    extras = dict(latent.extras)
    extras["generator"] = generator.describe()
    return replace(latent, values=latent.values.detach().cpu(), extras=extras)


def save_latent_file(pipeline: Pipeline, request: RenderRequest, path: str) -> Path:
    """Write the on-screen latent to ``path`` (.npz in the faces engineer's latent-file layout)."""
    from memstudio.core.faces.latent_file import save_latent

    return save_latent(path, latent_on_screen(pipeline, request))


def open_latent_file(pipeline: Pipeline, path: str, key: str) -> str:
    """Read a latent file, check it fits the current generator, and hold it as ``pipeline.latents[key]``."""
    from memstudio.core.faces.latent_file import check_latent_fits, load_latent

    if pipeline.generator is None:
        raise MemstudioError(f"{path}: open the generator it was made with first (File ▸ Open generator…)")
    latent = load_latent(path)
    check_latent_fits(latent, pipeline.generator, source=str(path))
    pipeline.latents[key] = latent.to(pipeline.device)
    return key
