"""Opening NVIDIA StyleGAN2 / StyleGAN2-ADA / StyleGAN3 network pickles without running any code from them.

NVIDIA's own loader ``exec()``s the Python source stored in every network object (``module_src``) and
unpickles arbitrary globals, so opening a file from the internet with it can run anything. Here the file is
run by :mod:`pickle_vm`, an opcode interpreter that never hands the file a real Python object: the handful of
globals those files use (``../shared/formats/README.md`` §1.2, §3) map to functions of this module that check
their arguments and build plain values themselves. Persistent network objects become inert
:class:`PersistentRecord` s whose source text is kept as a string and never executed; numpy dtypes, arrays and
scalars are made here from their bytes and only for plain number types; tensor storages are parsed here from
torch's legacy blobs and tensors are views that must lie inside them; every other global is refused with a
:class:`CheckpointError` naming the file and the global. The ``G_ema`` record tree, walked with bounds on its
size and depth, then gives the constructor arguments (checked against limits and, on a meta-device skeleton,
against the stored shapes) and the state dict of our own :class:`StyleGAN2Generator` /
:class:`StyleGAN3Generator`.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import CheckpointError
from memstudio.core.generators.pickle_vm import (
    Allowed,
    BoundedReader,
    Global,
    GlobalRefused,
    Pending,
    PickleRefused,
    check_key,
    load,
)
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


@dataclass(repr=False)
class PersistentRecord:
    """One ``@persistence.persistent_class`` object as plain data; ``module_src`` is text, never executed."""

    class_name: str
    module_src: str
    state: dict[str, Any]
    version: int

    def __repr__(self) -> str:  # the state may be huge or contain itself: never repr it
        return f"PersistentRecord({self.class_name!r:.80})"

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


def _refuse(reason: str) -> NoReturn:
    raise PickleRefused(reason)


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        _refuse("a persistent object whose meta is not a {'type': 'class', ...} dict")
    class_name, state, src = meta.get("class_name"), meta.get("state"), meta.get("module_src", "")
    version = meta.get("version", 0)
    if not isinstance(class_name, str) or not isinstance(state, dict) or not isinstance(src, str):
        _refuse("a persistent object with a malformed meta dict")
    if type(version) is not int:
        _refuse("a persistent object whose version is not an integer")
    return PersistentRecord(class_name, src, state, version)


def _empty(cls: type) -> Callable[..., Any]:
    """``cls()`` for REDUCE/NEWOBJ with no arguments (EasyDict, OrderedDict: their items follow by SETITEMS)."""

    def make(*args: Any) -> Any:
        if args:
            _refuse(f"a {cls.__name__} created with arguments")
        return cls()

    return make


def _set_of(cls: type) -> Callable[..., Any]:
    """``set([...])`` / ``frozenset([...])`` as protocol 2-3 pickles write them; members as for dict keys."""

    def make(*args: Any) -> Any:
        if not args:
            return cls()
        if len(args) != 1 or type(args[0]) is not list:
            _refuse(f"a {cls.__name__} built from something other than a list")
        return cls(check_key(v) for v in args[0])

    return make


# --- numpy: only plain numeric dtypes, arrays and scalars, built here from their bytes ------------------------

#: numpy dtype codes a network pickle may use: bool, signed/unsigned ints, floats and complex numbers.
PLAIN_NUMPY_DTYPES = frozenset(
    {"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"}
)
_MAX_NDIM = 32


class _NumpyDtype(Pending):
    """``numpy.dtype(code, align, copy)`` awaiting its BUILD state; becomes a plain ``np.dtype`` we make."""

    def __init__(self, code: str) -> None:
        self.code = code


class _NumpyArray(Pending):
    """``_reconstruct(ndarray, (0,), b'b')`` awaiting its BUILD state ``(1, shape, dtype, fortran, bytes)``."""


def _numpy_dtype(code: Any, align: Any = False, copy: Any = True) -> _NumpyDtype:
    if not isinstance(code, str) or code not in PLAIN_NUMPY_DTYPES:
        _refuse(f"numpy dtype {code!r:.40}, which is not a plain number type")
    if type(align) not in (bool, int) or type(copy) not in (bool, int):
        _refuse("a numpy dtype with malformed arguments")
    return _NumpyDtype(code)


def _numpy_reconstruct(cls: Any, shape: Any, tag: Any) -> _NumpyArray:
    if cls != Global("numpy", "ndarray") or shape != (0,) or tag not in (b"b", "b"):
        _refuse("a numpy object other than a plain ndarray")
    return _NumpyArray()


def _raw_bytes(data: Any) -> bytes:
    if isinstance(data, str):  # Python 2 era pickles carry the buffer as a latin-1 str
        return data.encode("latin-1")
    if type(data) is not bytes:
        _refuse(f"numpy data that is a {type(data).__name__}, not bytes")
    return data


def _plain_dtype(dtype: Any) -> np.dtype:
    # Only dtypes this module made reach here (a BUILD turns a _NumpyDtype into one); check anyway.
    if not isinstance(dtype, np.dtype) or dtype.fields is not None or dtype.subdtype is not None:
        _refuse("a numpy array or scalar whose dtype is not a plain number type")
    if dtype.str[1:] not in PLAIN_NUMPY_DTYPES:
        _refuse(f"numpy dtype {dtype.str}, which is not a plain number type")
    return dtype


def _numpy_scalar(dtype: Any, data: Any) -> np.generic:
    dtype = _plain_dtype(dtype)
    raw = _raw_bytes(data)
    if len(raw) != dtype.itemsize:
        _refuse(f"a numpy {dtype} scalar of {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype)[0]


def _build_numpy(target: Pending, state: Any) -> None:
    """The BUILD step of the two numpy objects: validate the state, make the object here from its bytes."""
    if isinstance(target, _NumpyDtype):
        # numpy writes (3, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]).
        if type(state) is not tuple or len(state) not in (8, 9) or state[0] not in (3, 4):
            _refuse("a numpy dtype with a malformed state")
        byteorder, rest = state[1], state[2:]
        if byteorder not in ("<", ">", "|", "=") or rest[:5] != (None, None, None, -1, -1) or rest[5] != 0:
            _refuse("a numpy dtype with fields, a sub-array, a size or flags: not a plain number type")
        if len(rest) == 7 and rest[6] is not None:
            _refuse("a numpy dtype with metadata")
        target.value = np.dtype(target.code).newbyteorder(byteorder)
    elif isinstance(target, _NumpyArray):
        if type(state) is not tuple or len(state) != 5 or state[0] != 1:
            _refuse("a numpy array with a malformed state")
        _, shape, dtype, fortran, data = state
        dtype, raw = _plain_dtype(dtype), _raw_bytes(data)
        if type(shape) is not tuple or len(shape) > _MAX_NDIM or any(type(n) is not int or n < 0 for n in shape):
            _refuse("a numpy array with a malformed shape")
        if type(fortran) is not bool:
            _refuse("a numpy array with a malformed order flag")
        if math.prod(shape) * dtype.itemsize != len(raw):
            _refuse(f"a numpy array of shape {list(shape)} and dtype {dtype} stored in {len(raw)} bytes")
        flat = np.frombuffer(raw, dtype=dtype).copy()
        target.value = flat.reshape(shape, order="F" if fortran else "C")
    else:
        _refuse(f"a state update (BUILD) of a {type(target).__name__}")


# --- torch: storages parsed here from their legacy blobs, tensors as checked views of them ---------------------

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


@dataclass(frozen=True)
class _Storage:
    """One tensor storage from the file: a flat tensor holding exactly the bytes the file gave."""

    flat: torch.Tensor


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: torch.dtype
    numel: int


def _storage_ref(pid: Any) -> _StorageRef:
    """The persistent id ``('storage', torch.XStorage, key, location, numel[, None])`` of a legacy blob."""
    if type(pid) is not tuple or len(pid) not in (5, 6) or pid[0] != "storage":
        _refuse("a tensor storage blob with a malformed storage id")
    kind, key, location, numel = pid[1:5]
    if not isinstance(kind, Global) or kind.module != "torch" or kind.name not in _STORAGE_DTYPES:
        _refuse("a tensor storage of an unsupported type")
    if type(key) is not str or type(location) is not str or type(numel) is not int or numel < 0:
        _refuse("a tensor storage blob with a malformed storage id")
    if len(pid) == 6 and pid[5] is not None:
        _refuse("a tensor storage that is a view of another (not written by torch since 2018)")
    return _StorageRef(key, _STORAGE_DTYPES[kind.name], numel)


def _storage_from_bytes(blob: Any) -> _Storage:
    """``torch.storage._load_from_bytes``: torch's legacy ``torch.save`` of one storage, read here.

    The blob is five tiny pickles (magic number, protocol, system info, the storage's persistent id, its key
    list) and then the storage's element count and bytes; it yields exactly one storage of exactly those
    bytes, or is refused. No torch unpickler runs on it.
    """
    if type(blob) is not bytes:
        _refuse("a tensor storage that is not a bytes blob")
    reader = BoundedReader(io.BytesIO(blob), len(blob))
    plain = Allowed(calls={}, newobj={})
    if load(reader, plain, 16) != _LEGACY_MAGIC or load(reader, plain, 16) != _LEGACY_PROTOCOL:
        _refuse("a tensor storage blob that is not in torch's serialization format")
    info = load(reader, plain, 64)
    if type(info) is not dict or info.get("little_endian") is not True:
        _refuse("a tensor storage blob that is not little-endian")
    tokens = frozenset(("torch", name) for name in _STORAGE_DTYPES)
    ref = load(reader, Allowed(calls={}, newobj={}, tokens=tokens, persistent_load=_storage_ref), 32)
    if not isinstance(ref, _StorageRef):
        _refuse(f"a tensor storage blob that yields an object of type {type(ref).__name__}, not a storage")
    if load(reader, plain, 16) != [ref.key]:
        _refuse("a tensor storage blob whose key list does not match its storage")
    numel = int.from_bytes(reader.read(8), "little")
    nbytes = ref.numel * ref.dtype.itemsize
    if numel != ref.numel:
        _refuse(f"a tensor storage of {ref.numel} elements whose data header says {numel}")
    if reader.left != nbytes:
        _refuse(f"a tensor storage of {ref.numel} elements ({nbytes} bytes) whose blob carries {reader.left} bytes")
    data = bytearray(reader.read(nbytes))
    flat = torch.frombuffer(data, dtype=ref.dtype) if nbytes else torch.empty(0, dtype=ref.dtype)
    return _Storage(flat)


class _NetworkPickle:
    """What one network pickle may build; counts the tensor elements so views cannot multiply the weights."""

    def __init__(self, element_budget: int) -> None:
        self.elements_left = element_budget
        easy_dict, ordered_dict = _empty(EasyDict), _empty(OrderedDict)
        calls: dict[tuple[str, str], Callable[..., Any]] = {
            ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
            ("dnnlib.util", "EasyDict"): easy_dict,
            ("torch._utils", "_rebuild_tensor_v2"): self.rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
            ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
            ("collections", "OrderedDict"): ordered_dict,
            ("builtins", "set"): _set_of(set),
            ("builtins", "frozenset"): _set_of(frozenset),
            ("numpy", "dtype"): _numpy_dtype,
        }
        for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1.x and 2.x spellings
            calls[(module, "_reconstruct")] = _numpy_reconstruct
            calls[(module, "scalar")] = _numpy_scalar
        self.allowed = Allowed(
            calls=calls,
            newobj={("dnnlib.util", "EasyDict"): easy_dict},
            tokens=frozenset({("numpy", "ndarray")}),
            dict_types=frozenset({EasyDict, OrderedDict}),
            build=_build_numpy,
        )

    def rebuild_tensor(
        self,
        storage: Any,
        offset: Any,
        size: Any,
        stride: Any,
        requires_grad: Any = False,
        backward_hooks: Any = None,
        metadata: Any = None,
    ) -> torch.Tensor:
        """``torch._utils._rebuild_tensor_v2`` as a view that must lie inside its storage (never grows it)."""
        if not isinstance(storage, _Storage):
            _refuse("a tensor whose storage is not a storage")
        dims = (size, stride)
        if any(type(d) is not tuple or len(d) > _MAX_NDIM or any(type(n) is not int or n < 0 for n in d) for d in dims):
            _refuse("a tensor with a malformed size or stride")
        if len(size) != len(stride) or type(offset) is not int or offset < 0 or type(requires_grad) is not bool:
            _refuse("a tensor with a malformed size, stride or offset")
        if backward_hooks not in (None, {}) or metadata not in (None, {}):
            _refuse("a tensor with hooks or metadata")
        available = storage.flat.numel()
        numel = math.prod(size)
        if numel:
            extent = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) + 1
            if extent > available or numel > available - offset:
                _refuse(
                    f"a tensor of size {list(size)}, stride {list(stride)} at offset {offset} that does not fit "
                    f"in its storage of {available} elements"
                )
        elif offset > available:
            _refuse(f"a tensor at offset {offset} in a storage of {available} elements")
        self.elements_left -= numel
        if self.elements_left < 0:
            _refuse("tensors with more elements than the file has bytes (views that repeat one storage)")
        return storage.flat.as_strided(size, stride, offset)


def _rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        _refuse("a parameter whose data is not a tensor")
    return data


def _rebuild_parameter_with_state(data: Any, requires_grad: Any, backward_hooks: Any, state: Any) -> torch.Tensor:
    return _rebuild_parameter(data, requires_grad, backward_hooks)


def read_network_pickle(path: str | Path) -> Any:
    """Unpickle an NVIDIA network pickle into plain data (dicts, tensors, :class:`PersistentRecord` s)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    try:
        with open(path, "rb") as f:
            return load(BoundedReader(f, size), _NetworkPickle(element_budget=size).allowed)
    except GlobalRefused as exc:
        hint = ""
        if exc.global_name.startswith("dnnlib.tflib"):
            hint = " This is a TensorFlow-era StyleGAN pickle; convert it with NVIDIA's legacy.py first."
        raise CheckpointError(
            f"{path}: refused to load: the pickle references {exc.global_name}, which is not part of a "
            f"StyleGAN network and could run code.{hint}"
        ) from None
    except PickleRefused as exc:
        raise CheckpointError(f"{path}: refused to load: the pickle contains {exc}") from None
    except (
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


#: Bounds on the walks over the record tree and the constructor arguments: far above any StyleGAN (about 100
#: modules, 4 levels deep, a few dozen arguments), so a memo-shared DAG, a cycle or deep nesting stops early.
MAX_MODULES = 10_000
MAX_MODULE_DEPTH = 32
MAX_ARG_VALUES = 10_000
MAX_ARG_DEPTH = 16
_MAX_NAME = 256


def _where(prefix: str) -> str:
    return prefix.rstrip(".") or "<root>"


def _walk(record: PersistentRecord, prefix: str = "") -> Iterator[tuple[str, PersistentRecord]]:
    """Records in ``named_modules()`` pre-order; a tree only (each record once), bounded in size and depth."""
    seen: set[int] = set()
    todo: list[tuple[str, PersistentRecord, int]] = [(prefix, record, 0)]
    while todo:
        prefix, rec, depth = todo.pop()
        if id(rec) in seen:
            raise ValueError(f"module {_where(prefix)} occurs twice in the module tree (a cycle or a shared module)")
        if depth > MAX_MODULE_DEPTH:
            raise ValueError(f"modules nest deeper than {MAX_MODULE_DEPTH} levels (at {_where(prefix)[:200]}…)")
        seen.add(id(rec))
        if len(seen) > MAX_MODULES:
            raise ValueError(f"more than {MAX_MODULES} modules")
        yield prefix, rec
        modules = rec.state.get("_modules") or {}
        if not isinstance(modules, dict):
            raise TypeError(f"module {_where(prefix)} has a malformed _modules entry")
        children = []
        for name, child in modules.items():
            if child is None:
                continue
            if not isinstance(name, str) or len(name) > _MAX_NAME:
                raise TypeError(f"module {_where(prefix)} has a submodule with a malformed name")
            if not isinstance(child, PersistentRecord):
                raise TypeError(f"submodule {prefix}{name} is a {type(child).__name__}, not a network object")
            children.append((f"{prefix}{name}.", child, depth + 1))
        todo.extend(reversed(children))


def record_state_dict(record: PersistentRecord) -> dict[str, torch.Tensor]:
    """Parameters then buffers of the record tree under their ``state_dict`` names (None buffers skipped)."""
    out: dict[str, torch.Tensor] = {}
    for kind in ("_parameters", "_buffers"):
        for prefix, rec in _walk(record):
            entries = rec.state.get(kind) or {}
            if not isinstance(entries, dict):
                raise TypeError(f"module {_where(prefix)} has a malformed {kind} entry")
            for name, value in entries.items():
                if value is None:
                    continue
                if not isinstance(name, str) or len(name) > _MAX_NAME:
                    raise TypeError(f"module {_where(prefix)} has a tensor with a malformed name")
                if not isinstance(value, torch.Tensor):
                    raise TypeError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
                out[prefix + name] = value
    return out


def _plain(value: Any, where: str = "arguments") -> Any:
    """EasyDicts, numpy scalars and tuples from a pickle → JSON-friendly Python values.

    The walk visits at most :data:`MAX_ARG_VALUES` values and :data:`MAX_ARG_DEPTH` levels and refuses a
    container inside itself: memo references let a 2 KB pickle describe 10^40 nested copies.
    """
    budget = [MAX_ARG_VALUES]

    def convert(v: Any, path: str, depth: int, active: frozenset[int]) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError(f"the constructor arguments hold more than {MAX_ARG_VALUES} values")
        if depth > MAX_ARG_DEPTH:
            raise ValueError(f"the constructor arguments nest deeper than {MAX_ARG_DEPTH} levels (at {path[:200]})")
        if v is None or type(v) in (bool, int, float, str):
            return v
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, np.ndarray):
            budget[0] -= v.size
            if budget[0] < 0:
                raise ValueError(f"the constructor arguments hold more than {MAX_ARG_VALUES} values")
            return v.tolist()
        if id(v) in active:
            raise ValueError(f"constructor argument {path} contains itself")
        inner = active | {id(v)}
        if isinstance(v, dict):
            out = {}
            for k, item in v.items():
                if not isinstance(k, str):
                    raise ValueError(f"constructor argument {path} has a key that is a {type(k).__name__}")
                out[k] = convert(item, f"{path}.{k[:40]}", depth + 1, inner)
            return out
        if isinstance(v, (list, tuple)):
            return [convert(item, f"{path}[{i}]", depth + 1, inner) for i, item in enumerate(v)]
        raise ValueError(f"constructor argument {path} is a {type(v).__name__}")

    return convert(value, where, 0, frozenset())


#: Limits on the integer constructor arguments, checked before anything is built: far above every published
#: StyleGAN (512 or 1024 channels, 1024 px, 8 mapping layers) and small enough that the network skeleton,
#: built on torch's meta device to compare its shapes with the stored tensors, costs nothing.
ARG_LIMITS: dict[str, tuple[int, int]] = {
    "z_dim": (0, 1 << 14),
    "c_dim": (0, 1 << 14),
    "w_dim": (1, 1 << 14),
    "img_resolution": (4, 4096),
    "img_channels": (1, 4),
    "num_layers": (1, 64),
    "channel_base": (1, 1 << 20),
    "channel_max": (1, 1 << 14),
    "embed_features": (1, 1 << 14),
    "layer_features": (1, 1 << 14),
    "num_fp16_res": (0, 16),
    "num_critical": (0, 64),
    "filter_size": (1, 16),
    "lrelu_upsampling": (1, 4),
    "conv_kernel": (1, 7),
    "margin_size": (0, 64),
}
#: Every other number: finite and at most this large in magnitude.
MAX_ARG_MAGNITUDE = float(1 << 20)
_MAX_ARG_LIST = 64


def check_arg_limits(cfg: Any, path: str = "") -> None:
    """Refuse constructor arguments outside :data:`ARG_LIMITS` (raises ValueError naming the argument)."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            if key in ARG_LIMITS and value is not None:
                low, high = ARG_LIMITS[key]
                if type(value) is not int or not low <= value <= high:
                    raise ValueError(f"{path}{key} = {str(value)[:40]} is outside the sane range [{low}, {high}]")
            check_arg_limits(value, f"{path}{key}.")
    elif isinstance(cfg, list):
        if len(cfg) > _MAX_ARG_LIST:
            raise ValueError(f"{path.rstrip('.')} is a list of {len(cfg)} values")
        for value in cfg:
            check_arg_limits(value, path)
    elif type(cfg) in (int, float) and not (math.isfinite(cfg) and abs(cfg) <= MAX_ARG_MAGNITUDE):
        raise ValueError(f"{path.rstrip('.')} = {str(cfg)[:40]} is not a sane number")
    elif isinstance(cfg, str) and len(cfg) > _MAX_NAME:
        raise ValueError(f"{path.rstrip('.')} is a string of {len(cfg)} characters")


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

    kwargs = _plain(record.state.get("_init_kwargs") or {}, "init_kwargs")
    args = _plain(record.state.get("_init_args") or (), "init_args")
    if not isinstance(kwargs, dict) or not isinstance(args, list):
        raise ValueError("the Generator's constructor arguments are malformed")
    if len(args) > len(_GENERATOR_ARGS):
        raise ValueError(f"Generator was built with {len(args)} positional arguments")
    kwargs.update(zip(_GENERATOR_ARGS[: len(args)], args, strict=True))
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
    """Build our network from a ``G_ema`` record and load its tensors strictly.

    The constructor arguments come from the file, so they are checked against :data:`ARG_LIMITS` and then,
    on a skeleton built on torch's meta device (no memory), against the shapes of the stored tensors; only a
    network whose every tensor the file supplies is then built for real.
    """
    if record.class_name != "Generator":
        raise CheckpointError(f"{source}: G_ema is a {record.class_name!r}, not a Generator")
    try:
        cls, cfg = generator_config(record)
        state = record_state_dict(record)
        check_arg_limits(cfg)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{source}: wrong architecture: {exc}") from None
    skeleton = _build(cls, cfg, source, meta=True)
    check_state_shapes(skeleton, state, source)
    generator = _build(cls, cfg, source)
    load_state_strict(generator, state, source)
    return generator


def _build(
    cls: type[StyleGANGenerator], cfg: dict[str, Any], source: str | Path, meta: bool = False
) -> StyleGANGenerator:
    try:
        with torch.device("meta") if meta else contextlib.nullcontext():
            return cls.from_config(cfg)
    except (TypeError, ValueError, ArithmeticError, AssertionError, RuntimeError) as exc:
        raise CheckpointError(
            f"{source}: unsupported {cls.family} configuration {str(cfg)[:2000]}: {exc}"
        ) from None


def check_state_shapes(
    generator: torch.nn.Module, state: dict[str, torch.Tensor], source: str | Path
) -> None:
    """Raise a CheckpointError listing what is missing, extra or mis-shaped (``generator`` may be on meta)."""
    expected = generator.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    family = getattr(generator, "family", type(generator).__name__)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:4])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(k[:80] for k in unexpected[:4])})")
        raise CheckpointError(f"{source}: the tensors do not match a {family} network: {'; '.join(parts)}")
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{source}: tensor {key} has shape {list(state[key].shape)[:8]}, "
                f"the architecture needs {list(value.shape)}"
            )


def load_state_strict(
    generator: StyleGANGenerator, state: dict[str, torch.Tensor], source: str | Path
) -> None:
    """``load_state_dict(strict=True)`` with an error that lists what is missing, extra or mis-shaped."""
    check_state_shapes(generator, state, source)
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
            str(k)[:40]: v.class_name[:40] if isinstance(v, PersistentRecord) else type(v).__name__
            for k, v in itertools.islice(data.items(), 8)
        }
        raise CheckpointError(f"{path}: the pickle has no G_ema generator (it holds {kinds})")
    record = data["G_ema"]
    if not isinstance(record, PersistentRecord):
        raise CheckpointError(f"{path}: G_ema is a {type(record).__name__}, not a network object")
    generator = generator_from_record(record, path)
    generator.checkpoint_hash = sha256_file(path)
    return generator.eval().requires_grad_(False).to(device)
