"""Opening NVIDIA StyleGAN2 / StyleGAN2-ADA / StyleGAN3 network pickles without running any code from them.

NVIDIA's own loader ``exec()``s the Python source stored in every network object (``module_src``) and
unpickles arbitrary globals, so opening a file from the internet with it can run anything. Here a restricted
unpickler accepts only the handful of globals those files use (see ``../shared/formats/README.md`` §1.2, §3):
persistent network objects become inert :class:`PersistentRecord` s whose source text is kept as a string and
never executed; tensors come back through ``torch.load(weights_only=True)``; every other global is refused
with a :class:`CheckpointError` naming the file and the global. The ``G_ema`` record tree then gives the
constructor arguments and the state dict of our own :class:`StyleGAN2Generator` / :class:`StyleGAN3Generator`.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import CheckpointError
from memstudio.core.generators.sg_base import StyleGANGenerator
from memstudio.core.generators.stylegan2 import StyleGAN2Generator
from memstudio.core.generators.stylegan3 import StyleGAN3Generator

_SG2_CLASSES = frozenset(
    {
        "Generator",
        "MappingNetwork",
        "SynthesisNetwork",
        "SynthesisBlock",
        "SynthesisLayer",
        "ToRGBLayer",
        "FullyConnectedLayer",
        "Conv2dLayer",
    }
)
_SG3_CLASSES = frozenset(
    {
        "Generator",
        "MappingNetwork",
        "SynthesisNetwork",
        "SynthesisInput",
        "SynthesisLayer",
        "FullyConnectedLayer",
    }
)
_GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
# Constructor arguments that only choose a memory layout or training behaviour.
_LAYOUT_ONLY_ARGS = frozenset({"fp16_channels_last"})


@dataclass
class PersistentRecord:
    """One ``@persistence.persistent_class`` object as plain data; ``module_src`` is text, never executed."""

    class_name: str
    module_src: str
    state: dict[str, Any]
    version: int

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs") or {})

    @property
    def init_args(self) -> tuple[Any, ...]:
        return tuple(self.state.get("_init_args") or ())


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict``: a dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Refused(pickle.UnpicklingError):
    def __init__(self, global_name: str) -> None:
        super().__init__(global_name)
        self.global_name = global_name


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise pickle.UnpicklingError("a persistent object whose meta is not a {'type': 'class', ...} dict")
    class_name, state, src = meta.get("class_name"), meta.get("state"), meta.get("module_src", "")
    if not isinstance(class_name, str) or not isinstance(state, dict) or not isinstance(src, str):
        raise pickle.UnpicklingError("a persistent object with a malformed meta dict")
    return PersistentRecord(class_name, src, state, int(meta.get("version", 0)))


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool, backward_hooks: Any) -> torch.Tensor:
    return data


def _rebuild_parameter_with_state(
    data: torch.Tensor, requires_grad: bool, backward_hooks: Any, state: Any
) -> torch.Tensor:
    return data


def _load_storage(blob: Any) -> Any:
    if not isinstance(blob, (bytes, bytearray)):
        raise pickle.UnpicklingError("a tensor storage that is not a bytes blob")
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)


def _numpy_allowed() -> dict[tuple[str, str], Callable[..., Any]]:
    # Take the functions from numpy itself so both spellings work under numpy 1.x and 2.x alike.
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    allowed: dict[tuple[str, str], Callable[..., Any]] = {
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): np.ndarray,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
        allowed[(module, "scalar")] = scalar
    return allowed


_ALLOWED: dict[tuple[str, str], Callable[..., Any]] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch.storage", "_load_from_bytes"): _load_storage,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    **_numpy_allowed(),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise _Refused(f"{module}.{name}")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids do not occur in network pickles")


def read_network_pickle(path: str | Path) -> Any:
    """Unpickle an NVIDIA network pickle into plain data (dicts, tensors, :class:`PersistentRecord` s)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f).load()
    except _Refused as exc:
        hint = ""
        if exc.global_name.startswith("dnnlib.tflib"):
            hint = " This is a TensorFlow-era StyleGAN pickle; convert it with NVIDIA's legacy.py first."
        raise CheckpointError(
            f"{path}: refused to load: the pickle references {exc.global_name}, which is not part of a "
            f"StyleGAN network and could run code.{hint}"
        ) from None
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        RuntimeError,
        MemoryError,
        OverflowError,
        UnicodeDecodeError,
    ) as exc:
        raise CheckpointError(
            f"{path}: not a readable network pickle (truncated or corrupted?): {type(exc).__name__}: {exc}"
        ) from None


def _walk(record: PersistentRecord, prefix: str = "") -> Iterator[tuple[str, PersistentRecord]]:
    """Records in ``named_modules()`` pre-order."""
    yield prefix, record
    modules = record.state.get("_modules") or {}
    if not isinstance(modules, dict):
        raise TypeError(f"module {prefix or '<root>'} has a malformed _modules entry")
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PersistentRecord):
            raise TypeError(f"submodule {prefix}{name} is a {type(child).__name__}, not a network object")
        yield from _walk(child, f"{prefix}{name}.")


def record_state_dict(record: PersistentRecord) -> dict[str, torch.Tensor]:
    """Parameters then buffers of the record tree under their ``state_dict`` names (None buffers skipped)."""
    out: dict[str, torch.Tensor] = {}
    for kind in ("_parameters", "_buffers"):
        for prefix, rec in _walk(record):
            for name, value in (rec.state.get(kind) or {}).items():
                if value is None:
                    continue
                if not isinstance(value, torch.Tensor):
                    raise TypeError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
                out[prefix + name] = value
    return out


def _plain(value: Any) -> Any:
    """EasyDicts, numpy scalars and tuples from a pickle → JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def generator_config(record: PersistentRecord) -> tuple[type[StyleGANGenerator], dict[str, Any]]:
    """Family class and our constructor config for a ``G_ema`` record (raises ValueError if unknown)."""
    classes = {rec.class_name for _, rec in _walk(record)}
    if "SynthesisInput" in classes:
        cls, allowed = StyleGAN3Generator, _SG3_CLASSES
    elif "SynthesisBlock" in classes:
        cls, allowed = StyleGAN2Generator, _SG2_CLASSES
    else:
        raise ValueError(f"neither a StyleGAN2 nor a StyleGAN3 generator (classes: {sorted(classes)})")
    for prefix, rec in _walk(record):
        if rec.class_name not in allowed:
            raise ValueError(f"unknown pickle class {rec.class_name!r} at {prefix.rstrip('.') or '<root>'}")

    kwargs = _plain(record.init_kwargs)
    args = record.init_args
    if len(args) > len(_GENERATOR_ARGS):
        raise ValueError(f"Generator was built with {len(args)} positional arguments")
    kwargs.update(zip(_GENERATOR_ARGS[: len(args)], _plain(args), strict=True))
    missing = [k for k in ("z_dim", "c_dim", "w_dim", "img_resolution") if k not in kwargs]
    if missing:
        raise ValueError(f"the Generator's constructor arguments lack {missing}")
    kwargs.setdefault("img_channels", 3)

    head = {k: kwargs.pop(k) for k in (*_GENERATOR_ARGS, "mapping_kwargs") if k in kwargs}
    if cls is StyleGAN3Generator:
        return cls, {**head, **kwargs}
    if "synthesis_kwargs" in kwargs:  # stylegan2-ada-pytorch: nested synthesis_kwargs, its own defaults
        synthesis = dict(kwargs.pop("synthesis_kwargs"))
        if kwargs:
            raise ValueError(f"unsupported Generator arguments {sorted(kwargs)}")
    else:  # stylegan3 repo's networks_stylegan2: flat, with fp16 and clamping on by default
        synthesis = {"num_fp16_res": 4, "conv_clamp": 256, **kwargs}
    synthesis = {k: v for k, v in synthesis.items() if k not in _LAYOUT_ONLY_ARGS}
    return cls, {**head, "synthesis_kwargs": synthesis}


def generator_from_record(record: PersistentRecord, source: str | Path) -> StyleGANGenerator:
    """Build our network from a ``G_ema`` record and load its tensors strictly."""
    if record.class_name != "Generator":
        raise CheckpointError(f"{source}: G_ema is a {record.class_name!r}, not a Generator")
    try:
        cls, cfg = generator_config(record)
        state = record_state_dict(record)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{source}: wrong architecture: {exc}") from None
    try:
        generator = cls.from_config(cfg)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: unsupported {cls.family} configuration {cfg}: {exc}") from None
    load_state_strict(generator, state, source)
    return generator


def load_state_strict(
    generator: StyleGANGenerator, state: dict[str, torch.Tensor], source: str | Path
) -> None:
    """``load_state_dict(strict=True)`` with an error that lists what is missing, extra or mis-shaped."""
    expected = generator.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:4])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:4])})")
        raise CheckpointError(
            f"{source}: the tensors do not match a {generator.family} network: {'; '.join(parts)}"
        )
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{source}: tensor {key} has shape {list(state[key].shape)}, "
                f"the architecture needs {list(value.shape)}"
            )
    generator.load_state_dict({k: v.to(torch.float32) for k, v in state.items()}, strict=True)


def load_nvidia_pickle(path: str | Path, device: str | torch.device = "cpu") -> StyleGANGenerator:
    """``G_ema`` of an NVIDIA network pickle as a ready-to-render generator in eval mode."""
    path = Path(path)
    data = read_network_pickle(path)
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{path}: not a StyleGAN network pickle (its top level is a {type(data).__name__})"
        )
    if "G_ema" not in data:
        kinds = {
            k: v.class_name if isinstance(v, PersistentRecord) else type(v).__name__ for k, v in data.items()
        }
        raise CheckpointError(f"{path}: the pickle has no G_ema generator (it holds {kinds})")
    record = data["G_ema"]
    if not isinstance(record, PersistentRecord):
        raise CheckpointError(f"{path}: G_ema is a {type(record).__name__}, not a network object")
    generator = generator_from_record(record, path)
    generator.checkpoint_hash = sha256_file(path)
    return generator.eval().requires_grad_(False).to(device)
