"""The generators feature's commands: open a generator, list the stored ones, seed thumbnails, latent files.

All of them run on the engine thread with the pipeline it owns (``Engine.submit``), or in the CLI with a
pipeline of its own, and hand plain values back. Opening makes the generator current under its content hash
(:func:`memstudio.core.pipeline.generator_hash`); the latents of the previous one stay held under its hash, so
opening it again brings them back and a request for them meanwhile is refused, naming both generators.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import Progress
from memstudio.core.requests import RenderRequest

if TYPE_CHECKING:
    from memstudio.core.generators.base import Generator, Latent
    from memstudio.core.pipeline import Pipeline

#: ψ the dock starts at: StyleGAN's identity truncation; BigGAN's usual 0.4 (its images at ψ = 1 are poor).
DEFAULT_TRUNCATION = {"biggan": 0.4}
#: Truncation ranges the dock offers; BigGAN's batch-norm statistics exist only for ψ in (0, 1].
TRUNCATION_RANGE = {"biggan": (0.02, 1.0)}
STYLEGAN_TRUNCATION_RANGE = (0.0, 1.5)


def generator_info(generator: Generator, sha256: str = "") -> dict[str, Any]:
    """What the dock shows and needs about ``generator`` (plain values, safe to hand to the GUI thread);
    ``sha256`` is its content hash, the identity the session and every render request name it by."""
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
        "sha256": sha256,
        "default_truncation": DEFAULT_TRUNCATION.get(family, 1.0),
        "truncation_range": TRUNCATION_RANGE.get(family, STYLEGAN_TRUNCATION_RANGE),
    }


@dataclass(frozen=True)
class OpenGenerator:
    """Open ``source`` (file, folder or stored-model name) and make it current; result: its info dict.

    Opening is one long call, so progress is indeterminate until it returns. The previous generator stays
    current until the new one has loaded, so a refused file leaves the studio as it was.
    """

    source: str

    @property
    def title(self) -> str:
        return f"Opening generator {Path(self.source).name or self.source}"

    def steps(self, pipeline: Pipeline) -> Iterator[Progress]:
        from memstudio.core.generators.opening import open_generator

        yield Progress(0.0, f"reading {Path(self.source).name or self.source}…")
        generator = open_generator(self.source, device="cpu")
        pipeline.set_generator(generator, source=str(self.source))
        yield Progress(1.0, "loaded")
        return generator_info(pipeline.generator, pipeline.generator_hash or "")


@dataclass(frozen=True)
class ListStoredModels:
    """The models imported into the cache (``memstudio import-model``), for the chooser."""

    title: str = "List imported generators"

    def run(self, pipeline: Pipeline) -> list[dict[str, Any]]:
        from memstudio.core.generators.store import list_models

        return [
            {"name": m.name, "family": m.family, "resolution": m.resolution, "source_file": m.source_file}
            for m in list_models()
        ]


@dataclass(frozen=True)
class RenderThumbnails:
    """``size``-px thumbnails of ``seeds`` of the generator ``generator_hash``, as ``[(seed, pixels)]``; None
    when that generator is no longer current (the grid of another generator would be wrong, not late)."""

    generator_hash: str
    seeds: tuple[int, ...]
    truncation: float
    class_index: int | None
    size: int

    @property
    def title(self) -> str:
        return f"Thumbnails of seeds {self.seeds[0]}…{self.seeds[-1]}" if self.seeds else "Thumbnails"

    def run(self, pipeline: Pipeline) -> list[tuple[int, np.ndarray]] | None:
        if pipeline.generator is None or pipeline.generator_hash != self.generator_hash:
            return None
        seeds = list(self.seeds)
        pixels = render_seed_thumbnails(pipeline.generator, seeds, self.truncation, self.class_index, self.size)
        return list(zip(self.seeds, pixels, strict=True))


def render_seed_thumbnails(
    generator: Generator, seeds: list[int], truncation: float, class_index: int | None, size: int
) -> list[np.ndarray]:
    """``[size, size, 3]`` uint8 thumbnails of ``seeds``, rendered as one batch then reduced.

    Sizes above ``size`` are reduced with antialiasing; smaller outputs are kept as they are (the view
    enlarges them without inventing detail).
    """
    import torch
    import torch.nn.functional as F

    from memstudio.core.generators.base import Latent
    from memstudio.core.imaging import tensor_to_uint8

    if not seeds:
        return []
    with torch.inference_mode():
        latents = [generator.sample(seed, truncation, class_index) for seed in seeds]
        batch = Latent(
            latents[0].space,
            torch.cat([latent.values for latent in latents]),
            truncation=truncation,
            class_index=class_index,
        )
        images = generator.render(batch).float()
        if images.shape[-1] > size or images.shape[-2] > size:
            images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
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


@dataclass(frozen=True)
class SaveLatent:
    """Write the latent of ``request`` (directions applied) to ``path`` (.npz latent file); result: the path."""

    request: RenderRequest
    path: str

    @property
    def title(self) -> str:
        return f"Save latent → {Path(self.path).name}"

    def run(self, pipeline: Pipeline) -> str:
        from memstudio.core.faces.latent_file import save_latent

        return str(save_latent(self.path, latent_on_screen(pipeline, self.request)))


@dataclass(frozen=True)
class OpenLatent:
    """Read a latent file, check it fits the current generator and hold it under ``key``; result:
    ``{"key", "generator_hash"}`` (the generator it now belongs to)."""

    path: str
    key: str

    @property
    def title(self) -> str:
        return f"Open latent {Path(self.path).name}"

    def run(self, pipeline: Pipeline) -> dict[str, str]:
        from memstudio.core.faces.latent_file import check_latent_fits, load_latent

        if pipeline.generator is None:
            raise MemstudioError(f"{self.path}: open the generator it was made with first (File ▸ Open generator…)")
        latent = load_latent(self.path)
        check_latent_fits(latent, pipeline.generator, source=str(self.path))
        pipeline.hold_latent(self.key, latent, path=self.path)
        return {"key": self.key, "generator_hash": pipeline.generator_hash or ""}
