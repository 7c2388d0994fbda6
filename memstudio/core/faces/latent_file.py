"""Latent files (.npz): an inversion saved so the seed browser can reopen it and a figure can cite it.

Plain arrays only (``allow_pickle=False`` on load): ``values``, ``space``, ``label``, the generator's name and
SHA-256, ``steps``, ``loss``, and the optimised noise maps as ``noise:<buffer name>``. NVIDIA's projector
output (``projected_w.npz`` with one array ``w`` of shape ``[1, num_ws, w_dim]``) opens too, as a W+ latent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from memstudio.core.atomic import write_with
from memstudio.core.errors import MemstudioError
from memstudio.core.generators.base import Generator, Latent
from memstudio.core.npyfile import load_npz

FORMAT_VERSION = 1
_NOISE_PREFIX = "noise:"
#: The arrays :func:`save_latent` writes (plus NVIDIA's ``w``); anything else in an archive is never opened.
_MEMBERS = frozenset(
    {"format_version", "values", "space", "label", "generator_name", "generator_sha256", "steps", "loss"}
    | {"truncation", "seed", "class_index", "psnr", "w"}
)
#: A W+ latent is ~40 KB and a 1024-px generator's largest noise map 4 MB; these bounds leave ample room
#: while keeping a hostile archive far from the memory a header or a zip entry could claim.
MAX_MEMBER_BYTES = 64 << 20
MAX_TOTAL_BYTES = 256 << 20


class LatentFileError(MemstudioError):
    """A latent file is missing, damaged, or does not fit the generator it is opened with."""


def save_latent(path: str | Path, latent: Latent) -> Path:
    """Write ``latent`` (with its inversion extras, if any) to ``path`` atomically; returns the path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    extras = latent.extras if isinstance(latent.extras, dict) else {}
    generator = extras.get("generator") if isinstance(extras.get("generator"), dict) else {}
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(FORMAT_VERSION),
        "values": latent.values.detach().float().cpu().numpy(),
        "space": np.array(latent.space),
        "label": np.array(latent.label),
        "generator_name": np.array(str(generator.get("name") or "")),
        "generator_sha256": np.array(str(generator.get("checkpoint_sha256") or "")),
        "steps": np.array(int(extras.get("steps", 0))),
        "loss": np.array(float(extras.get("loss", float("nan")))),
        "truncation": np.array(float(latent.truncation)),
    }
    if latent.seed is not None:
        arrays["seed"] = np.array(int(latent.seed))
    if latent.class_index is not None:
        arrays["class_index"] = np.array(int(latent.class_index))
    if "psnr" in extras:
        arrays["psnr"] = np.array(float(extras["psnr"]))
    noise = extras.get("noise")
    if isinstance(noise, dict):
        for name, value in noise.items():
            arrays[_NOISE_PREFIX + name] = value.detach().float().cpu().numpy()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the temporary name
            np.savez(f, **arrays)

    return write_with(path, write)


def load_latent(path: str | Path) -> Latent:
    """Read a latent file written by :func:`save_latent` (or NVIDIA's ``projected_w.npz``)."""
    path = Path(path)
    if not path.is_file():
        raise LatentFileError(f"{path}: no such latent file")
    arrays = load_npz(
        path,
        lambda name: name in _MEMBERS or name.startswith(_NOISE_PREFIX),
        MAX_MEMBER_BYTES,
        MAX_TOTAL_BYTES,
        LatentFileError,
    )
    if "values" not in arrays:
        if "w" in arrays and arrays["w"].ndim == 3 and arrays["w"].dtype.kind in "biuf":
            return Latent("w+", torch.from_numpy(arrays["w"].astype(np.float32)), label=path.stem)
        raise LatentFileError(f"{path}: no 'values' array (keys: {sorted(arrays)[:8]})")
    try:
        return _latent(path, arrays)
    except (ValueError, TypeError, IndexError) as exc:  # a scalar that is an array, text where a number goes
        raise LatentFileError(f"{path}: not a latent file memstudio wrote ({exc})") from exc


def _latent(path: Path, arrays: dict[str, np.ndarray]) -> Latent:
    space = str(arrays.get("space", np.array(""))[()])
    if space not in ("z", "w", "w+", "edit"):
        raise LatentFileError(f"{path}: unknown latent space {space!r}")
    for key, value in arrays.items():
        if (key == "values" or key.startswith(_NOISE_PREFIX)) and value.dtype.kind not in "biuf":
            raise LatentFileError(f"{path}: {key!r} holds {value.dtype}, not numbers")
    values = torch.from_numpy(np.asarray(arrays["values"], dtype=np.float32))
    noise = {
        k[len(_NOISE_PREFIX) :]: torch.from_numpy(np.asarray(v, dtype=np.float32))
        for k, v in arrays.items()
        if k.startswith(_NOISE_PREFIX)
    }
    extras: dict[str, object] = {
        "generator": {
            "name": str(arrays["generator_name"][()]) if "generator_name" in arrays else "",
            "checkpoint_sha256": str(arrays["generator_sha256"][()]) if "generator_sha256" in arrays else "",
        },
        "steps": int(arrays["steps"]) if "steps" in arrays else 0,
        "loss": float(arrays["loss"]) if "loss" in arrays else float("nan"),
        "source_file": str(path),
    }
    if noise:
        extras["noise"] = noise
    if "psnr" in arrays:
        extras["psnr"] = float(arrays["psnr"])
    return Latent(
        space=space,
        values=values,
        seed=int(arrays["seed"]) if "seed" in arrays else None,
        truncation=float(arrays["truncation"]) if "truncation" in arrays else 1.0,
        class_index=int(arrays["class_index"]) if "class_index" in arrays else None,
        label=str(arrays["label"][()]) if "label" in arrays else path.stem,
        extras=extras,
    )


def check_latent_fits(latent: Latent, generator: Generator, source: str = "the latent") -> None:
    """Refuse a latent made for another generator, naming what differs."""
    if latent.space not in generator.spaces:
        raise LatentFileError(
            f"{source}: space {latent.space!r} is not one of {generator.name}'s {generator.spaces}"
        )
    extras = latent.extras if isinstance(latent.extras, dict) else {}
    info = extras.get("generator") if isinstance(extras.get("generator"), dict) else {}
    wanted = info.get("checkpoint_sha256") or ""
    if wanted and generator.checkpoint_hash and wanted != generator.checkpoint_hash:
        raise LatentFileError(
            f"{source}: made with generator {info.get('name')!r} (sha256 {wanted[:12]}…), not with "
            f"{generator.name!r} (sha256 {generator.checkpoint_hash[:12]}…)"
        )
    if latent.space == "w+" and latent.values.ndim == 3 and latent.values.shape[1] != generator.num_ws:
        raise LatentFileError(
            f"{source}: {latent.values.shape[1]} W+ layers, "
            f"but {generator.name} has num_ws = {generator.num_ws}"
        )
