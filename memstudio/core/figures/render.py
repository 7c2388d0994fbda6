"""Images of a figure: a seed (or photo) edited by ``latent + Σ α·d`` at each α, rendered and scored.

A row is rendered as one batch and immediately turned into 8-bit panels at output size; the float tensors
are dropped before the next row, which is what lets :mod:`memstudio.core.figures.stream` export hundreds
of seeds in constant memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image

from memstudio.core.directions.base import Direction, apply_directions
from memstudio.core.figures.sources import FigureSources
from memstudio.core.figures.spec import FigureSpec, FigureSpecError
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.imaging import load_image, pil_to_tensor, tensor_to_uint8

Edits = list[tuple[Direction, float]]


@dataclass
class Panel:
    """One image of a figure as it will be printed, with the numbers its label shows."""

    pixels: np.ndarray  # [H, W, 3] uint8 at output size
    scores: dict[str, float]
    alpha: float
    seed: int | str
    layer: int | None = None
    heatmap: np.ndarray | None = None  # [H, W, 3] uint8 overlay, when the figure has a heatmap row

    @property
    def is_original(self) -> bool:
        return self.alpha == 0.0


def origin(sources: FigureSources, spec: FigureSpec, seed: int | str) -> tuple[Generator, Latent]:
    """The generator and the unedited latent of one row: a GAN seed, or a photo under the photo editor."""
    if spec.is_photo:
        from memstudio.core.generators.photo import PhotoEditor

        loaded = load_image(str(seed), max_side=spec.photo_max_side)
        editor = PhotoEditor(pil_to_tensor(loaded.image).to(sources.device), label=loaded.path.name)
        return editor, editor.sample()
    if sources.generator is None:
        raise FigureSpecError("this figure needs a generator, and none is open")
    generator = sources.generator
    latent = generator.sample(int(seed), spec.truncation, spec.class_index)
    return generator, latent


def edits_for_alpha(directions: list[Direction], alpha: float) -> Edits:
    """Every direction moved by the same α: a combined (e.g. conditional) edit."""
    return [(d, alpha) for d in directions]


def single_layer(direction: Direction, layer: int, num_ws: int) -> Direction:
    """The direction restricted to one W+ layer (paper 001 §3.4: change one layer, keep the others)."""
    if not 0 <= layer < num_ws:
        raise FigureSpecError(
            f"layer {layer} does not exist: the generator has {num_ws} W+ layers (0…{num_ws - 1})"
        )
    weights = torch.zeros(num_ws)
    weights[layer] = 1.0
    return replace(direction, layer_weights=weights)


def render_panels(
    sources: FigureSources,
    spec: FigureSpec,
    seed: int | str,
    columns: list[tuple[float, Edits]],
    layer: int | None = None,
    base: tuple[Generator, Latent] | None = None,
) -> list[Panel]:
    """Render and score one row: one panel per (α, edits) column, in column order."""
    generator, latent = base if base is not None else origin(sources, spec, seed)
    if layer is not None and latent.space != "w+":
        latent = generator.convert(latent, "w+")
    edited = [apply_directions(latent, edits).values for _, edits in columns]
    batch = latent.with_values(torch.cat(edited, dim=0))
    with torch.inference_mode():
        images = generator.render(batch).float().clamp(0, 1)
        scores = {a.name: a.score(images.to(_device_of(a, images))).tolist() for a in sources.assessors}
        maps = _heatmaps(sources, spec, images) if sources.map_fn is not None else None
    pixels = tensor_to_uint8(images)
    del images, batch, edited
    panels = []
    for i, (alpha, _) in enumerate(columns):
        panels.append(
            Panel(
                pixels=resize_panel(pixels[i], spec.output.panel_px),
                scores={name: float(values[i]) for name, values in scores.items()},
                alpha=float(alpha),
                seed=seed,
                layer=layer,
                heatmap=None
                if maps is None
                else resize_panel(overlay(pixels[i], maps[i]), spec.output.panel_px),
            )
        )
    return panels


def strip_panels(sources: FigureSources, spec: FigureSpec, seed: int | str) -> list[Panel]:
    """One seed × every α of the spec."""
    return render_panels(
        sources, spec, seed, [(a, edits_for_alpha(sources.directions, a)) for a in spec.alphas]
    )


def layer_panels(sources: FigureSources, spec: FigureSpec, seed: int | str, layer: int) -> list[Panel]:
    """One seed, one W+ layer × every coefficient in ``spec.alphas``."""
    if len(sources.directions) != 1:
        raise FigureSpecError("a layerwise grid shows exactly one direction")
    generator, latent = origin(sources, spec, seed)
    num_ws = generator.num_ws
    if num_ws <= 0:
        raise FigureSpecError(
            f"generator {generator.name!r} has no W+ layers; a layerwise grid needs StyleGAN"
        )
    direction = single_layer(sources.directions[0], layer, num_ws)
    columns = [(a, [(direction, a)]) for a in spec.alphas]
    return render_panels(sources, spec, seed, columns, layer=layer, base=(generator, latent))


def resize_panel(pixels: np.ndarray, size: int | None) -> np.ndarray:
    """Square output size by Lanczos, or the native pixels untouched when no size is asked for."""
    if size is None or (pixels.shape[0] == size and pixels.shape[1] == size):
        return np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(pixels).resize(new, Image.Resampling.LANCZOS))


def overlay(pixels: np.ndarray, heat: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """A [0, 1] map in the jet colormap (paper 004 §5) blended over the image it explains."""
    from matplotlib import colormaps

    h, w = pixels.shape[:2]
    heat_img = Image.fromarray(np.round(np.clip(heat, 0, 1) * 255).astype(np.uint8)).resize(
        (w, h), Image.Resampling.BILINEAR
    )
    colored = colormaps["jet"](np.asarray(heat_img, dtype=np.float32) / 255.0)[..., :3] * 255.0
    blended = (1 - opacity) * pixels.astype(np.float32) + opacity * colored
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def _heatmaps(sources: FigureSources, spec: FigureSpec, images: torch.Tensor) -> list[np.ndarray]:
    name = (spec.heatmap or {}).get("assessor")
    chosen = [a for a in sources.assessors if a.name == name] or sources.assessors[:1]
    if not chosen:
        raise FigureSpecError("a heatmap row needs an assessor")
    out = []
    for i in range(images.shape[0]):
        result = sources.map_fn(images[i : i + 1], chosen[0])
        # The maps core returns NumPy; a callable given by a caller may return a tensor.
        if isinstance(result, torch.Tensor):
            heat = result.detach().float().cpu().squeeze()
        else:
            heat = torch.from_numpy(np.asarray(result, dtype=np.float32)).squeeze()
        if heat.ndim != 2:
            raise FigureSpecError(
                f"the heatmap method returned shape {tuple(heat.shape)}, expected a 2-D map"
            )
        lo, hi = float(heat.min()), float(heat.max())
        # Maps outside [0, 1] are stretched to it, as paper 004 normalises its maps for display.
        if lo < 0.0 or hi > 1.0:
            heat = (heat - lo) / (hi - lo) if hi > lo else torch.zeros_like(heat)
        out.append(heat.numpy())
    return out


def _device_of(module: torch.nn.Module, fallback: torch.Tensor) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return fallback.device
