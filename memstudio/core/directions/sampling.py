"""Where the latents of direction training and evaluation come from, for GANs and photo editing alike.

GANalyze, the hyperplane fit, the evidence and the layer analysis all need "a batch of starting points and a
generator that renders them". For a GAN that is z drawn from a (truncated) normal, mapped into the edit space;
for photo editing it is a subset of the held photos with the zero (or a randomly jittered) edit vector.
:class:`LatentSource` hides the difference so every algorithm is written once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from memstudio.core.errors import MemstudioError
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.generators.photo import PhotoEditor
from memstudio.core.imaging import load_image, pil_to_tensor

#: Seed of the held-out samples of evidence and analyses. Training draws from its own ``seed``-seeded stream;
#: a distant seed keeps the two sets apart with overwhelming probability for continuous latents.
HELDOUT_SEED = 1_000_003


def module_device(module: nn.Module) -> torch.device:
    """The device a module's tensors live on (CPU for a module without any)."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


def truncated_normal(shape: Sequence[int], bound: float | None, rng: torch.Generator) -> torch.Tensor:
    """Standard normal samples, redrawn until inside ``[-bound, bound]`` (paper 000 uses bound 2).

    Redrawing (rather than clamping) keeps the shape of the distribution inside the bound.
    """
    z = torch.randn(*shape, generator=rng)
    if bound is None or bound <= 0:
        return z
    outside = z.abs() > bound
    while bool(outside.any()):
        z[outside] = torch.randn(int(outside.sum()), generator=rng)
        outside = z.abs() > bound
    return z


def z_shape(generator: Generator) -> tuple[int, ...]:
    """Shape of one z vector, read from the latent the generator itself samples."""
    probe = generator.sample(0)
    if "z" in probe.extras:
        return tuple(torch.as_tensor(probe.extras["z"]).shape[1:])
    if probe.space == "z":
        return tuple(probe.values.shape[1:])
    raise MemstudioError(f"generator {generator.name!r} exposes no z space to sample directions from")


def load_photo_batch(paths: Sequence[str | Path], size: int = 256) -> torch.Tensor:
    """Photos → ``[N, 3, size, size]``: centre square, resized, so one editor holds them all."""
    if not paths:
        raise MemstudioError("no photos given to train or evaluate a photo-editing direction")
    batch = []
    for path in paths:
        image = pil_to_tensor(load_image(path).image)
        if image.ndim == 3:
            image = image.unsqueeze(0)
        h, w = image.shape[-2:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = image[..., top : top + side, left : left + side]
        batch.append(F.interpolate(square, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
    return torch.cat(batch).clamp(0, 1)


class LatentSource:
    """Draws batches ``(renderer, latent)`` with the latent in ``space``.

    GAN: z ~ N(0, 1) truncated to ``[-z_bound, z_bound]``, one class per batch for conditional generators
    (a :class:`Latent` carries a single ``class_index``), converted z → ``space``.
    Photo editing: a subset of the photos held by the :class:`PhotoEditor`, edit vector ``edit_std·N(0, 1)``
    (0 = the unedited photos); the renderer is an editor over exactly that subset.
    """

    def __init__(
        self,
        generator: Generator,
        space: str | None = None,
        z_bound: float | None = 2.0,
        classes: Sequence[int] | None = None,
        edit_std: float = 0.0,
    ) -> None:
        self.generator = generator
        self.space = space or generator.default_space
        if self.space not in generator.spaces:
            raise MemstudioError(
                f"generator {generator.name!r} has no latent space {self.space!r} "
                f"(it has {', '.join(generator.spaces)})"
            )
        self.z_bound = z_bound
        self.edit_std = edit_std
        self.is_photo = isinstance(generator, PhotoEditor)
        self.device = module_device(generator)
        if generator.num_classes > 0:
            self.classes = list(classes) if classes else list(range(generator.num_classes))
        else:
            self.classes = []
        self._z_shape = None if self.is_photo else z_shape(generator)

    @property
    def num_photos(self) -> int:
        return int(self.generator.photos.shape[0]) if self.is_photo else 0

    def draw(self, n: int, rng: torch.Generator) -> tuple[Generator, Latent]:
        """A random batch of ``n`` starting points (photos: ``n`` distinct photos when there are enough)."""
        if self.is_photo:
            count = self.num_photos
            if n <= count:
                index = torch.randperm(count, generator=rng)[:n]
            else:
                index = torch.randint(count, (n,), generator=rng)
            return self._photo_batch(index, rng)
        class_index = self._draw_class(rng)
        z = truncated_normal((n, *self._z_shape), self.z_bound, rng).to(self.device)
        latent = Latent(space="z", values=z, class_index=class_index)
        return self.generator, self.generator.convert(latent, self.space)

    def _draw_class(self, rng: torch.Generator) -> int | None:
        if not self.classes:
            return None
        return self.classes[int(torch.randint(len(self.classes), (1,), generator=rng))]

    def batches(self, total: int, batch_size: int, seed: int) -> Iterator[tuple[Generator, Latent]]:
        """Fixed evaluation batches: GAN → ``total`` samples from ``seed``; photos → each photo once."""
        rng = torch.Generator().manual_seed(seed)
        if self.is_photo:
            for start in range(0, self.num_photos, batch_size):
                index = torch.arange(start, min(start + batch_size, self.num_photos))
                yield self._photo_batch(index, rng)
            return
        # All z first, so the held-out set does not depend on the batch size (classes are drawn per batch).
        z_all = truncated_normal((total, *self._z_shape), self.z_bound, rng).to(self.device)
        for start in range(0, total, batch_size):
            z = z_all[start : start + batch_size]
            class_index = self._draw_class(rng)
            yield self.generator, self.generator.convert(Latent("z", z, class_index=class_index), self.space)

    def count(self, total: int) -> int:
        """How many samples :meth:`batches` yields for ``total``."""
        return self.num_photos if self.is_photo else total

    def _photo_batch(self, index: torch.Tensor, rng: torch.Generator) -> tuple[Generator, Latent]:
        photos = self.generator.photos[index.to(self.generator.photos.device)]
        editor = PhotoEditor(photos, label=getattr(self.generator, "label", "photo"))
        values = torch.zeros(len(index), editor.num_params)
        if self.edit_std > 0:
            values = self.edit_std * torch.randn(len(index), editor.num_params, generator=rng)
        return editor, Latent(space="edit", values=values.to(self.device))
