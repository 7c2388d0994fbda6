"""Assessors trained from a user's own ratings: a pretrained trunk (ResMem's, or an imported NIMA's MobileNet)
→ pooled features → a small head.

They live with the other stored assessors in ``cache_dir()/assessors/NAME/`` (next to the generators'
``models/``): ``weights.safetensors`` holds the head, and ``config.json`` (``"kind": "trained-assessor"``) the
evidence of its cross-validation, the trunk's name and the SHA-256 of the ratings, the images and the trunk
weights. They load by name everywhere an assessor is asked for. The whole assessor is differentiable — the
trunk's preprocessing and network, then the head — so directions can be trained on it like on any other.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from memstudio.core.assessors.base import Assessor, check_images
from memstudio.core.assessors.training import MLP_HIDDEN, MlpHead, RidgeHead
from memstudio.core.assessors.trunk import DEFAULT_TRUNK, FEATURE_DIM, Trunk, load_trunk
from memstudio.core.checkpoints import cache_dir, sha256_file
from memstudio.core.device import tf32
from memstudio.core.errors import CheckpointError, MemstudioError
from memstudio.core.generators import store

KIND = "trained-assessor"
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
FAMILY = "ratings-ridge"
FORMAT_VERSION = 1
HEAD_KINDS = ("ridge", "mlp")


def _head_shapes(kind: str, dim: int) -> dict[str, tuple[int, ...]]:
    """The stored tensors of a head of ``kind`` on ``dim`` trunk features."""
    if kind == "ridge":
        return {"mean": (dim,), "scale": (dim,), "weight": (dim,), "bias": (1,)}
    hidden = MLP_HIDDEN
    return {"mean": (dim,), "scale": (dim,), "w1": (hidden, dim), "b1": (hidden,), "w2": (hidden,), "b2": (1,)}


class TrainedError(MemstudioError):
    """A trained-assessor operation cannot be done as asked (name taken or built in, no such assessor)."""


@dataclass(frozen=True)
class TrainedRecord:
    """A trained assessor as its ``config.json`` describes it (no weights loaded)."""

    name: str
    path: Path
    property: str
    score_range: tuple[float, float]
    decimals: int
    trunk_sha256: str
    evidence: dict[str, Any]
    data: dict[str, Any]
    trained_at: str
    feature_layer: str
    head: str
    config_sha256: str
    #: ``resmem``, or ``nima:NAME`` for the NIMA imported as NAME (see :mod:`memstudio.core.assessors.trunk`).
    trunk_name: str = DEFAULT_TRUNK

    def summary(self) -> str:
        """One line for model lists: what it predicts and how well, held out."""
        ev = self.evidence
        low, high = ev["ci95"]
        text = (
            f"{self.property} from your ratings ({self.data.get('n_images', '?')} images): "
            f"held-out Spearman ρ = {ev['spearman_rho']:.2f} [95% CI {low:.2f}, {high:.2f}], "
            f"{ev['folds']}-fold by {ev['unit']}"
        )
        ceiling = ev.get("ceiling") or {}
        if ceiling.get("available"):
            text += f"; raters' split-half ceiling {ceiling['spearman_brown_rho']:.2f}"
        return text


class LinearHead(nn.Module):
    """``((features − mean) / scale) · weight + bias`` in float64: the ridge solution as stored."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for key in ("mean", "scale", "weight", "bias"):
            self.register_buffer(key, state[key].to(torch.float64))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = (features.to(torch.float64) - self.mean) / self.scale
        return z @ self.weight + self.bias


class MlpHeadModule(nn.Module):
    """``tanh(z · w1ᵀ + b1) · w2 + b2`` with ``z = (features − mean) / scale``, in float64."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        for key in ("mean", "scale", "w1", "b1", "w2", "b2"):
            self.register_buffer(key, state[key].to(torch.float64))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = (features.to(torch.float64) - self.mean) / self.scale
        return torch.tanh(z @ self.w1.T + self.b1) @ self.w2 + self.b2


def head_module(kind: str, state: dict[str, torch.Tensor], source: Path, dim: int = FEATURE_DIM) -> nn.Module:
    """The stored head of ``kind`` on ``dim`` trunk features (ResMem's by default) as a module, after checking
    every tensor's shape."""
    if kind not in HEAD_KINDS:
        raise CheckpointError(f"{source}: unknown head type {kind!r}")
    for key, shape in _head_shapes(kind, dim).items():
        if key not in state or tuple(state[key].shape) != shape:
            got = tuple(state[key].shape) if key in state else "missing"
            raise CheckpointError(f"{source}: tensor {key!r} of the {kind} head should have shape {shape}, has {got}")
    return LinearHead(state) if kind == "ridge" else MlpHeadModule(state)


class TrainedAssessor(Assessor):
    """A property learnt from ratings; scores are in the ratings' own units (float32 on the CPU as always)."""

    def __init__(self, trunk: Trunk, head: nn.Module, record: TrainedRecord) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.name = record.name
        self.property = record.property
        self.score_range = record.score_range
        self.decimals = record.decimals
        #: SHA-256 of the stored head (weights.safetensors); the config records the trunk's and the data's.
        self.checkpoint_hash = sha256_file(record.path / WEIGHTS_FILE)
        self.record = record

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images)
        return self.head(self.trunk(images)).to(images.dtype)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return self.trunk.prepare(images)

    def prepare_image(self, image: Image.Image) -> torch.Tensor:
        return self.trunk.prepare_image(image)

    def score(self, images: torch.Tensor) -> torch.Tensor:
        return self.score_prepared(self.prepare(images.detach()))

    def score_prepared(self, prepared: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), tf32(False):
            return self.head(self.trunk.pooled(prepared)).float().cpu()

    def describe(self) -> dict[str, object]:
        out = super().describe()
        out["trunk"] = self.record.trunk_name
        out["trunk_sha256"] = self.record.trunk_sha256
        out["ratings_sha256"] = self.record.data.get("ratings_sha256")
        return out


def list_trained() -> list[TrainedRecord]:
    """Trained assessors in the model store, by name; unreadable folders are left out."""
    found = []
    for folder in sorted(assessors_dir().iterdir()):
        if folder.name.startswith(".") or not _is_trained_folder(folder):
            continue
        try:
            found.append(read_record(folder))
        except CheckpointError:
            continue
    return found


def find_trained(name: str) -> TrainedRecord | None:
    """The trained assessor called ``name``, or None when the store has none of that name."""
    try:
        folder = _folder(name)
    except MemstudioError:
        return None
    if not _is_trained_folder(folder):
        return None
    return read_record(folder)


def read_record(folder: Path) -> TrainedRecord:
    config_path = folder / CONFIG_FILE
    try:
        text = config_path.read_bytes()
        raw = json.loads(text.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path}: unreadable trained-assessor config: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("kind") != KIND or raw.get("family") != FAMILY:
        raise CheckpointError(f"{config_path}: not a trained-assessor config")
    if not isinstance(raw.get("format_version"), int) or raw["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{config_path}: format {raw.get('format_version')!r} is newer than this memstudio")
    try:
        low, high = raw["score_range"]
        return TrainedRecord(
            name=str(raw["name"]),
            path=folder,
            property=str(raw["property"]),
            score_range=(float(low), float(high)),
            decimals=int(raw["decimals"]),
            trunk_sha256=str(raw["trunk"]["sha256"]),
            evidence=dict(raw["evidence"]),
            data=dict(raw["data"]),
            trained_at=str(raw.get("trained_at", "")),
            feature_layer=str(raw["trunk"]["feature_layer"]),
            head=str(raw.get("head", {}).get("type", "ridge")),
            config_sha256=hashlib.sha256(text).hexdigest(),
            trunk_name=str(raw["trunk"].get("name", DEFAULT_TRUNK)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{config_path}: incomplete trained-assessor config ({exc})") from exc


def check_name(name: str, replace: bool = False) -> str:
    """Refuse a name before any work is done: invalid, or taken by a stored model (built-in assessors' names
    are refused by :func:`memstudio.core.assessors.registry.check_trained_name`, which knows them)."""
    target = _folder(name)
    if target.exists():
        if not _is_trained_folder(target):
            raise TrainedError(
                f"{name!r} is already used in the model store ({target}) by a model that is not a trained "
                "assessor; choose another --name"
            )
        if not replace:
            raise TrainedError(
                f"a trained assessor named {name!r} already exists; use --replace to overwrite it, or another --name"
            )
    return name


def save_trained(
    name: str, head: RidgeHead | MlpHead, config: dict[str, Any], replace: bool = False
) -> TrainedRecord:
    """Write a trained assessor under ``name`` through the store's atomic folder write.

    A name already used in the store (without ``replace``) is refused.
    """
    from safetensors.torch import save_file

    check_name(name, replace)
    target = _folder(name)
    record = {"format_version": FORMAT_VERSION, "kind": KIND, "family": FAMILY, "name": name, **config}
    tensors = {
        key: torch.from_numpy(np.atleast_1d(np.asarray(value, dtype=np.float64))).contiguous()
        for key, value in head.tensors().items()
    }

    def fill(staging: Path) -> None:
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"kind": KIND, "name": name})
        (staging / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    _write_folder(target, fill)
    return read_record(target)


def load_trained(name: str, device: torch.device | str = "cpu") -> TrainedAssessor:
    """The trained assessor ``name`` on ``device``, on the trunk it was trained with (same weights, checked)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    record = find_trained(name)
    if record is None:
        raise TrainedError(f"no trained assessor named {name!r} in {assessors_dir()}")
    weights = record.path / WEIGHTS_FILE
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{weights}: unreadable weights (truncated or corrupted?): {exc}") from exc
    trunk = load_trunk(record.trunk_name, device)
    if record.feature_layer != trunk.feature_layer:
        raise CheckpointError(
            f"{record.name}: made for trunk features {record.feature_layer!r}; this memstudio computes "
            f"{trunk.feature_layer!r}; retrain it with `memstudio assessor train`"
        )
    head = head_module(record.head, state, weights, sum(trunk.feature_blocks))
    if trunk.checkpoint_hash != record.trunk_sha256:
        where = "the installed resmem package" if record.trunk_name == DEFAULT_TRUNK else f"{record.trunk_name}"
        raise CheckpointError(
            f"{record.name}: trained on {record.trunk_name} weights {record.trunk_sha256[:12]}…, but {where} "
            f"has {str(trunk.checkpoint_hash)[:12]}…; retrain it with `memstudio assessor train`"
        )
    return TrainedAssessor(trunk, head.to(device), record).eval()


def remove_trained(name: str) -> None:
    """Delete the trained assessor ``name`` (only folders written by :func:`save_trained`)."""
    folder = _folder(name)
    if not _is_trained_folder(folder):
        raise TrainedError(f"no trained assessor named {name!r} in {folder.parent}")
    shutil.rmtree(folder)


def assessors_dir() -> Path:
    """Where stored assessors are kept (under memstudio's cache, next to the generators' ``models/``)."""
    path = cache_dir() / "assessors"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _folder(name: str) -> Path:
    return assessors_dir() / store.validate_name(name)


def _is_trained_folder(path: Path) -> bool:
    """Whether ``path`` holds a trained assessor (cheap; :func:`read_record` validates)."""
    if not ((path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()):
        return False
    try:
        raw = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(raw, dict) and raw.get("kind") == KIND


def _write_folder(target: Path, fill) -> None:
    """Make ``target`` whole or not at all: ``fill`` writes a temporary sibling folder, which then takes its
    place (the model store's pattern), so a crash or Ctrl-C leaves no half assessor and the old one intact."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
