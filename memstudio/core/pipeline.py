"""What the studio shows, computed without Qt: subject → latent → edits → image → scores.

The engine thread owns one :class:`Pipeline` and calls it for every request; the CLI and the tests can use
the same object directly. It keeps the models resident (the current generator, assessors, directions) and
caches per-subject state (a photo's editor, a seed's latent), so a slider drag only pays for rendering.

Latents belong to a generator: they are held per generator content hash, so opening another generator hides
the old one's latents (a request for one is refused, naming both generators) and opening it again brings them
back. Every GAN request says which generator it was made for, and is refused when another one is open.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.assessors.registry import load_assessor
from memstudio.core.directions.base import Direction, apply_directions
from memstudio.core.errors import MemstudioError
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.generators.photo import PhotoEditor
from memstudio.core.imaging import LoadedImage, load_image, pil_to_tensor
from memstudio.core.requests import LatentSubject, PhotoSubject, RenderRequest, Scores, SeedSubject

__all__ = [
    "Pipeline",
    "RenderRequest",
    "PhotoSubject",
    "SeedSubject",
    "LatentSubject",
    "Scores",
    "edit_latent",
    "generator_hash",
]

#: Longest side of a photo while it is being edited: enough for a sharp canvas, small enough to drag live.
EDIT_SIDE = 1024


class Pipeline:
    """Models and caches behind the studio's frames. Not thread-safe: one thread (the engine's) uses it."""

    def __init__(self, device: torch.device | str = "cpu", edit_side: int = EDIT_SIDE) -> None:
        self.device = torch.device(device)
        self.edit_side = edit_side
        self.generator: Generator | None = None
        #: What the current generator was opened from (a file, folder or stored name), for figure metadata.
        self.generator_source: str | None = None
        #: Content hash of the current generator (its checkpoint's sha256, or of its weights if it has no file).
        self.generator_hash: str | None = None
        self.directions: dict[str, Direction] = {}
        #: Files the directions were opened from, so exported figures cite a file that reproduces them.
        self.direction_paths: dict[str, str] = {}
        self._latents: dict[str, dict[str, Latent]] = {}  # generator hash → latent key → latent
        #: Files latents were read from, by key, so a saved session can name the file that brings one back.
        self.latent_paths: dict[str, str] = {}
        self._generator_names: dict[str, str] = {}  # generator hash → name, to name both in a refusal
        self._editors: OrderedDict[str, tuple[PhotoEditor, LoadedImage]] = OrderedDict()
        self._assessor_failures: dict[str, str] = {}
        #: Assessors that score an oval crop of the face on white (paper 001 §2.2): those of the request being
        #: served (:attr:`RenderRequest.ovalize`), so a frame's scores follow the settings it was asked with.
        self.ovalize: set[str] = set()
        self._ovalized: dict[str, Assessor] = {}

    # ----- models ---------------------------------------------------------------------------------------
    def set_generator(self, generator: Generator | None, source: str | None = None) -> None:
        """Make ``generator`` current; the previous one is released (and its GPU memory with it).

        Its latents stay held under its hash: they come back when a generator of that hash is opened again.
        """
        self.generator = None
        self.generator_hash = None
        self.generator_source = source
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if generator is not None:
            self.generator = generator.to(self.device).eval()
            self.generator_hash = generator_hash(generator)
            self._generator_names[self.generator_hash] = generator.name

    @property
    def latents(self) -> Mapping[str, Latent]:
        """The current generator's latents by key, read-only (:meth:`hold_latent` adds one for a generator)."""
        return MappingProxyType(self._latents.get(self.generator_hash or "", {}))

    def hold_latent(
        self, key: str, latent: Latent, for_generator: str | None = None, path: str | Path | None = None
    ) -> None:
        """Hold ``latent`` under ``key`` for :class:`LatentSubject` renders, as made with the generator of hash
        ``for_generator`` (default: the current one; another one's latent waits until it is opened again).
        ``path``: the latent file it is saved in, which a saved session names."""
        owner = for_generator or self.generator_hash
        if owner is None:
            raise MemstudioError(f"latent {key!r}: no generator is open to hold it for")
        self._latents.setdefault(owner, {})[key] = latent.to(self.device)
        if path is not None:
            self.latent_paths[key] = str(path)

    def describe_generator(self, sha256: str) -> str:
        """``'tiny-faces' (sha256 0123456789ab…)``: how a refusal names a generator."""
        name = self._generator_names.get(sha256, "a generator not opened in this session")
        return f"{name!r} (sha256 {sha256[:12]}…)"

    def check_generator(self, request: RenderRequest) -> None:
        """Refuse a request made for another generator than the open one, naming both."""
        wanted = request.generator
        if wanted is None or wanted == self.generator_hash:
            return
        current = self.describe_generator(self.generator_hash) if self.generator_hash else "none"
        raise MemstudioError(
            f"this image belongs to generator {self.describe_generator(wanted)}, but the open generator is "
            f"{current}: open that generator again to show it"
        )

    def held_latent(self, key: str) -> Latent:
        """The current generator's latent ``key``; one held for another generator is refused, naming both."""
        latent = self.latents.get(key)
        if latent is not None:
            return latent
        owner = next((h for h, held in self._latents.items() if key in held and h != self.generator_hash), None)
        if owner is not None:
            current = self.describe_generator(self.generator_hash) if self.generator_hash else "none"
            raise MemstudioError(
                f"latent {key!r} was made with generator {self.describe_generator(owner)}, but the open "
                f"generator is {current}: open that generator again to edit it"
            )
        raise MemstudioError(f"latent {key!r} is not loaded")

    def assessor(self, name: str) -> Assessor:
        """A resident assessor; a model that failed to load is not retried on every frame."""
        if name in self._assessor_failures:
            raise MemstudioError(self._assessor_failures[name])
        try:
            return load_assessor(name, self.device)
        except Exception as exc:  # noqa: BLE001 - remembered and reported, whatever the cause
            self._assessor_failures[name] = f"{name}: {exc}"
            raise

    def scoring_assessor(self, name: str) -> Assessor:
        """The assessor as the studio scores with it: wrapped to ovalize faces first when the user asked."""
        base = self.assessor(name)
        if name not in self.ovalize:
            return base
        if name not in self._ovalized:
            from memstudio.core.faces.ovalize import Ovalized

            self._ovalized[name] = Ovalized(base, geometry="detect")
        return self._ovalized[name]

    def forget_failures(self) -> None:
        """Allow failed models to be tried again (after the user installed or fixed something)."""
        self._assessor_failures.clear()

    # ----- subjects -------------------------------------------------------------------------------------
    def photo(self, path: str) -> tuple[PhotoEditor, LoadedImage]:
        """The editor over ``path`` (cached for the last few photos)."""
        if path in self._editors:
            self._editors.move_to_end(path)
            return self._editors[path]
        loaded = load_image(path, max_side=self.edit_side)
        editor = PhotoEditor(pil_to_tensor(loaded.image).to(self.device), label=Path(path).stem)
        self._editors[path] = (editor, loaded)
        while len(self._editors) > 4:
            self._editors.popitem(last=False)
        return editor, loaded

    def latent_for(self, request: RenderRequest) -> tuple[Generator, Latent]:
        """The generator and edited latent a request describes."""
        subject = request.subject
        if isinstance(subject, PhotoSubject):
            editor, _ = self.photo(subject.path)
            latent = (
                editor.latent_from_values(dict(request.photo_edits))
                if request.photo_edits
                else editor.sample()
            )
            generator: Generator = editor
        else:
            if self.generator is None:
                raise MemstudioError("no generator is loaded: open one with File ▸ Open generator…")
            self.check_generator(request)
            generator = self.generator
            if isinstance(subject, SeedSubject):
                latent = generator.sample(subject.seed, subject.truncation, subject.class_index)
            else:
                latent = self.held_latent(subject.key)
            latent = latent.to(self.device)
        edits = []
        for direction_id, alpha in request.directions:
            direction = self.directions.get(direction_id)
            if direction is None:
                raise MemstudioError(f"direction {direction_id!r} is not loaded")
            if request.layer_weights is not None and direction.space in ("w", "w+"):
                direction = _with_layer_weights(direction, request.layer_weights)
            edits.append((direction, alpha))
        return generator, edit_latent(generator, latent, edits)

    # ----- frames ---------------------------------------------------------------------------------------
    @torch.inference_mode()
    def render(self, request: RenderRequest) -> torch.Tensor:
        """The frame of ``request``: ``[1, 3, H, W]`` in [0, 1] on the pipeline's device; its scores (the
        engine's next :meth:`score`) ovalize the assessors the request names."""
        self.ovalize = set(request.ovalize)
        generator, latent = self.latent_for(request)
        if "noise" in latent.extras:
            # An inverted face: render with the noise maps its projection optimised, or detail is lost.
            from memstudio.core.faces.invert import render_latent

            return render_latent(generator, latent)
        return generator.render(latent)

    @torch.inference_mode()
    def score(
        self, image: torch.Tensor, names: tuple[str, ...], should_stop: Callable[[], bool] = lambda: False
    ) -> Scores:
        """Score ``image`` with each assessor in turn; stops early (returning what it has) when told to."""
        scores = Scores()
        with _interruptible(should_stop):
            for name in names:
                if should_stop():
                    break
                start = time.perf_counter()
                try:
                    scores.values[name] = self.scoring_assessor(name).score_available(image)[0]
                except Superseded:
                    break
                except Exception as exc:  # noqa: BLE001 - one assessor failing must not hide the others
                    scores.errors[name] = str(exc)
                scores.elapsed_ms[name] = (time.perf_counter() - start) * 1000.0
        return scores


class Superseded(Exception):
    """Raised inside a network's forward when a newer request makes its result useless."""


@contextlib.contextmanager
def _interruptible(should_stop: Callable[[], bool]) -> Iterator[None]:
    """Abandon a forward pass between layers once ``should_stop()`` turns true.

    ResMem takes ~0.2 s per image on a laptop CPU; checking between its modules lets a newer slider value
    start rendering within milliseconds instead of waiting for a stale score.
    """

    thread = threading.get_ident()  # the hook is global; only this thread's forward passes are ours

    def check(module: torch.nn.Module, args: object) -> None:
        if threading.get_ident() == thread and should_stop():
            raise Superseded

    handle = torch.nn.modules.module.register_module_forward_pre_hook(check)
    try:
        yield
    finally:
        handle.remove()


def generator_hash(generator: Generator) -> str:
    """A generator's content hash: its checkpoint file's sha256, or for one built in memory (no file) the
    sha256 of its weights, so two generators with equal weights share their latents and others never do."""
    if generator.checkpoint_hash:
        return generator.checkpoint_hash
    digest = hashlib.sha256()
    for name, tensor in sorted(generator.state_dict().items()):
        digest.update(name.encode("utf-8"))
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def edit_latent(generator: Generator, latent: Latent, edits: list[tuple[Direction, float]]) -> Latent:
    """Apply directions of any space: z edits act on the seed's z before mapping, then W/W+ edits."""
    z_edits = [(d, a) for d, a in edits if d.space == "z"]
    other = [(d, a) for d, a in edits if d.space != "z"]
    if z_edits and latent.space != "z":
        z = latent.extras.get("z")
        if not isinstance(z, torch.Tensor):
            raise MemstudioError(
                "a z direction needs the seed's z, and this latent has none (inverted or opened?)"
            )
        latent = Latent(
            "z", z.to(latent.values), latent.seed, latent.truncation, latent.class_index, latent.label
        )
    latent = apply_directions(latent, z_edits)
    if latent.space == "z" and other and "w+" in generator.spaces:
        latent = generator.convert(latent, "w+")
    return apply_directions(latent, other)


def _with_layer_weights(direction: Direction, layer_weights: tuple[float, ...]) -> Direction:
    from dataclasses import replace

    return replace(direction, layer_weights=torch.tensor(layer_weights, dtype=torch.float32))
