"""A direction is data: a vector in one latent space, where it came from, and the evidence that it works.

It applies as ``latent + Σ αᵢ·dᵢ``. A direction fitted in W applies to a W+ latent on every layer, scaled
per layer by ``layer_weights`` (all ones unless a layerwise edit says otherwise, paper 001 §3.4).
It saves to a pair of small files: ``NAME.json`` (everything readable) and ``NAME.safetensors`` (the tensors).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from memstudio.core.atomic import write_text_atomic, write_with
from memstudio.core.errors import MemstudioError
from memstudio.core.generators.base import Latent
from memstudio.core.jsonfile import read_json

FORMAT_VERSION = 1
#: A direction's JSON holds names, settings and evidence numbers: kilobytes, a few MB at most.
MAX_JSON_BYTES = 64 << 20


class DirectionError(MemstudioError):
    """A direction file is malformed or does not fit the latent it is applied to."""


@dataclass
class Direction:
    """A unit of editing: ``vector`` is shaped like one latent without its batch dimension.

    ``class_vectors`` (``[num_classes, *vector.shape]``) holds the class-conditional variant of GANalyze;
    where present, a latent with ``class_index`` uses its own class's vector.
    """

    name: str
    property: str
    space: str
    vector: torch.Tensor
    method: str = "manual"
    layer_weights: torch.Tensor | None = None
    class_vectors: torch.Tensor | None = None
    generator: dict[str, object] = field(default_factory=dict)
    assessor: dict[str, object] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)
    metrics: dict[str, object] = field(default_factory=dict)
    evidence: dict[str, object] = field(default_factory=dict)
    alpha_range: tuple[float, float] = (-0.5, 0.5)

    def vector_for(self, latent: Latent) -> torch.Tensor:
        """The vector to add to ``latent``, shaped ``[N, *latent shape]`` (class and layers resolved)."""
        vec = self.vector
        if self.class_vectors is not None and latent.class_index is not None:
            vec = self.class_vectors[latent.class_index]
        vec = vec.to(latent.values.device, latent.values.dtype)
        if latent.space == self.space:
            shaped = vec
            if self.space == "w+" and self.layer_weights is not None:
                shaped = vec * self.layer_weights.to(vec)[:, None]
        elif self.space == "w" and latent.space == "w+":
            num_ws = latent.values.shape[1]
            weights = torch.ones(num_ws) if self.layer_weights is None else self.layer_weights
            if weights.numel() != num_ws:
                raise DirectionError(
                    f"direction {self.name!r} has {weights.numel()} layer weights, the latent has {num_ws} layers"
                )
            shaped = weights.to(vec)[:, None] * vec[None, :]
        else:
            raise DirectionError(
                f"direction {self.name!r} lives in {self.space!r} and cannot edit a {latent.space!r} latent"
            )
        if tuple(shaped.shape) != tuple(latent.values.shape[1:]):
            raise DirectionError(
                f"direction {self.name!r} has shape {tuple(shaped.shape)}, "
                f"the latent {tuple(latent.values.shape[1:])}"
            )
        return shaped.unsqueeze(0)

    def save(self, path: str | Path) -> Path:
        """Write ``path`` with suffix ``.json`` plus its ``.safetensors`` twin; returns the JSON path."""
        json_path = Path(path).with_suffix(".json")
        tensors = {"vector": self.vector.detach().float().cpu().contiguous()}
        if self.layer_weights is not None:
            tensors["layer_weights"] = self.layer_weights.detach().float().cpu().contiguous()
        if self.class_vectors is not None:
            tensors["class_vectors"] = self.class_vectors.detach().float().cpu().contiguous()
        meta = {
            k: v for k, v in asdict(self).items() if k not in ("vector", "layer_weights", "class_vectors")
        }
        meta["format_version"] = FORMAT_VERSION
        meta["tensors"] = json_path.with_suffix(".safetensors").name
        text = json.dumps(meta, indent=2, default=_json_default)
        # Tensors first: the JSON that names them only appears once they are complete.
        write_with(json_path.with_suffix(".safetensors"), lambda tmp: save_file(tensors, str(tmp)))
        write_text_atomic(json_path, text)
        return json_path

    @classmethod
    def load(cls, path: str | Path) -> Direction:
        """Read a direction saved by :meth:`save`; errors name the file and the problem."""
        json_path = Path(path).with_suffix(".json")
        try:
            meta = read_json(json_path, MAX_JSON_BYTES, "direction file", DirectionError)
        except FileNotFoundError as exc:
            raise DirectionError(f"{json_path}: not a readable direction file (no such file)") from exc
        if not isinstance(meta, dict):
            raise DirectionError(
                f"{json_path}: not a direction file (the top level is a {type(meta).__name__}, not an object)"
            )
        tensors_path = _tensors_path(json_path, meta.pop("tensors", None))
        try:
            tensors = load_file(str(tensors_path))
        except (OSError, SafetensorError, ValueError) as exc:
            raise DirectionError(f"{json_path}: its tensors {tensors_path} are not readable ({exc})") from exc
        if not isinstance(tensors.get("vector"), torch.Tensor):
            raise DirectionError(f"{tensors_path}: holds no 'vector' tensor")
        meta.pop("format_version", None)
        meta["alpha_range"] = tuple(meta.get("alpha_range", (-0.5, 0.5)))
        try:
            return cls(
                vector=tensors["vector"],
                layer_weights=tensors.get("layer_weights"),
                class_vectors=tensors.get("class_vectors"),
                **meta,
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise DirectionError(
                f"{json_path}: direction file is missing or has unknown fields ({exc})"
            ) from exc


def _tensors_path(json_path: Path, entry: object) -> Path:
    """The safetensors file a direction names, which must sit in the direction's own folder (or below).

    A direction file is something people share; an absolute or ``..`` path in it would read any file the
    user can read, so it is resolved relative to the JSON and refused if it leaves that folder.
    """
    if not isinstance(entry, str) or not entry:
        raise DirectionError(f"{json_path}: not a readable direction file (no 'tensors' file name)")
    folder = json_path.parent.resolve()
    target = (folder / entry).resolve()
    if Path(entry).is_absolute() or not target.is_relative_to(folder):
        raise DirectionError(
            f"{json_path}: its tensors file {entry!r} is outside the direction's folder; "
            "keep NAME.json and NAME.safetensors side by side"
        )
    return target


def apply_directions(latent: Latent, edits: Iterable[tuple[Direction, float]]) -> Latent:
    """``latent + Σ αᵢ·dᵢ``: the one place where directions touch latents.

    A direction trained with norm-preserving renormalisation (GANalyze's option, ``settings["renormalize"]``)
    is applied the way it was trained: the edited latent is rescaled per sample to the norm it had before that
    edit, so the studio's sliders behave as the direction's evidence says.
    """
    values = latent.values
    for direction, alpha in edits:
        if not alpha:
            continue
        edited = values + float(alpha) * direction.vector_for(latent)
        if direction.settings.get("renormalize"):
            edited = renormalize(edited, values)
        values = edited
    return latent.with_values(values)


def renormalize(edited: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Rescale each edited latent to its original's norm (per sample), so edits stay on the z shell."""
    dims = tuple(range(1, edited.ndim))
    scale = original.norm(dim=dims, keepdim=True) / edited.norm(dim=dims, keepdim=True).clamp_min(1e-12)
    return edited * scale


def _json_default(obj: object) -> object:
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} in a direction file")
