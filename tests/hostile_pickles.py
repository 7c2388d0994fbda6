"""A tiny pickle assembler for hostile test files: every opcode is written here by hand.

Python's pickler cannot write most attacks (a BUILD on a class, a dtype state with an object field, a memo
DAG), so tests describe the object graph with the nodes below and :func:`dumps` emits the opcodes.
Nothing here is ever unpickled by an unrestricted loader.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class G:
    """GLOBAL module.name (the name only; nothing is imported)."""

    module: str
    name: str


@dataclass(frozen=True)
class Call:
    """REDUCE: ``func(*args)``."""

    func: Any
    args: tuple


@dataclass(frozen=True)
class Build:
    """BUILD: ``obj`` then its ``state``."""

    obj: Any
    state: Any


@dataclass(frozen=True)
class NewObj:
    """NEWOBJ: ``cls.__new__(cls, *args)``."""

    cls: Any
    args: tuple


@dataclass(frozen=True)
class Put:
    """Emit ``node`` and store it in memo slot ``key``."""

    key: int
    node: Any


@dataclass(frozen=True)
class Get:
    """Push memo slot ``key``."""

    key: int


@dataclass(frozen=True)
class PersId:
    """BINPERSID of ``node``."""

    node: Any


@dataclass(frozen=True)
class Then:
    """Emit ``node`` and then the raw opcodes ``after`` (which must leave the stack as they found it)."""

    node: Any
    after: bytes


def put(key: int) -> bytes:
    return pickle.BINPUT + bytes([key]) if key < 256 else pickle.LONG_BINPUT + struct.pack("<I", key)


def get(key: int) -> bytes:
    return pickle.BINGET + bytes([key]) if key < 256 else pickle.LONG_BINGET + struct.pack("<I", key)


def string(text: str) -> bytes:
    data = text.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(data)) + data


def emit(node: Any) -> bytes:
    """The opcodes that push ``node`` on the unpickler's stack."""
    if node is None:
        return pickle.NONE
    if node is True or node is False:
        return pickle.NEWTRUE if node else pickle.NEWFALSE
    if isinstance(node, int):
        if -(2**31) <= node < 2**31:
            return pickle.BININT + struct.pack("<i", node)
        data = node.to_bytes((node.bit_length() + 8) // 8, "little", signed=True)
        return pickle.LONG1 + bytes([len(data)]) + data
    if isinstance(node, float):
        return pickle.BINFLOAT + struct.pack(">d", node)
    if isinstance(node, str):
        return string(node)
    if isinstance(node, bytes):
        return pickle.BINBYTES + struct.pack("<I", len(node)) + node
    if isinstance(node, tuple):
        return pickle.MARK + b"".join(emit(v) for v in node) + pickle.TUPLE
    if isinstance(node, list):
        return pickle.EMPTY_LIST + (pickle.MARK + b"".join(emit(v) for v in node) + pickle.APPENDS if node else b"")
    if isinstance(node, dict):
        items = b"".join(emit(k) + emit(v) for k, v in node.items())
        return pickle.EMPTY_DICT + (pickle.MARK + items + pickle.SETITEMS if node else b"")
    if isinstance(node, G):
        return pickle.GLOBAL + f"{node.module}\n{node.name}\n".encode()
    if isinstance(node, Call):
        return emit(node.func) + emit(node.args) + pickle.REDUCE
    if isinstance(node, NewObj):
        return emit(node.cls) + emit(node.args) + pickle.NEWOBJ
    if isinstance(node, Build):
        return emit(node.obj) + emit(node.state) + pickle.BUILD
    if isinstance(node, Put):
        return emit(node.node) + put(node.key)
    if isinstance(node, Get):
        return get(node.key)
    if isinstance(node, PersId):
        return emit(node.node) + pickle.BINPERSID
    if isinstance(node, Then):
        return emit(node.node) + node.after
    if isinstance(node, Raw):
        return node.data
    raise TypeError(f"cannot emit {type(node).__name__}")


@dataclass(frozen=True)
class Raw:
    """Opcodes written as they are (a hole to splice into, or a hand-made sequence)."""

    data: bytes


def dumps(node: Any, protocol: int = 3) -> bytes:
    """A complete pickle of ``node``."""
    return pickle.PROTO + bytes([protocol]) + emit(node) + pickle.STOP


def nested(outer: Any, hole: Raw, depth: int, inner: Any) -> bytes:
    """Opcodes of ``outer`` nested ``depth`` times into itself at ``hole`` around ``inner``, without recursion."""
    head, _, tail = emit(outer).partition(hole.data)
    return head * depth + emit(inner) + tail * depth


# --- the globals of NVIDIA network pickles -----------------------------------------------------------------

RECONSTRUCT = G("torch_utils.persistence", "_reconstruct_persistent_obj")
EASYDICT = G("dnnlib.util", "EasyDict")
ORDERED_DICT = G("collections", "OrderedDict")
REBUILD_TENSOR = G("torch._utils", "_rebuild_tensor_v2")
LOAD_FROM_BYTES = G("torch.storage", "_load_from_bytes")
NUMPY_DTYPE = G("numpy", "dtype")
NUMPY_NDARRAY = G("numpy", "ndarray")
NUMPY_RECONSTRUCT = G("numpy._core.multiarray", "_reconstruct")
NUMPY_SCALAR = G("numpy._core.multiarray", "scalar")
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}


def record(class_name: str, state: dict) -> Call:
    """A ``@persistent_class`` object as NVIDIA's pickles write it."""
    meta = {"type": "class", "version": 6, "module_src": "", "class_name": class_name, "state": state}
    return Call(RECONSTRUCT, (meta,))


def storage_blob(
    data: bytes, numel: int | None = None, top: Any = None, keys: list | None = None, kind: str = "FloatStorage"
) -> bytes:
    """``torch.save(storage, _use_new_zipfile_serialization=False)`` of one storage, as a legacy blob;
    ``top`` replaces the storage's persistent id (the object the blob yields), ``keys`` its key list."""
    numel = len(data) // 4 if numel is None else numel
    if top is None:
        top = PersId(("storage", G("torch", kind), "0", "cpu", numel, None))
    keys = ["0"] if keys is None else keys
    pickles = [dumps(_LEGACY_MAGIC, 2), dumps(1001, 2), dumps(_SYS_INFO, 2), dumps(top, 2), dumps(keys, 2)]
    return b"".join(pickles) + struct.pack("<q", numel) + data


def tensor(values: list[float], size: tuple | None = None, stride: tuple | None = None, offset: int = 0) -> Call:
    """``torch._utils._rebuild_tensor_v2`` over a float32 storage holding ``values``."""
    data = struct.pack(f"<{len(values)}f", *values)
    size = (len(values),) if size is None else size
    stride = (1,) if stride is None else stride
    storage = Call(LOAD_FROM_BYTES, (storage_blob(data),))
    return Call(REBUILD_TENSOR, (storage, offset, size, stride, False, Call(ORDERED_DICT, ())))


def numpy_dtype(code: str, state: tuple) -> Build:
    """``numpy.dtype(code, False, True)`` with the BUILD state ``state``."""
    return Build(Call(NUMPY_DTYPE, (code, False, True)), state)


PLAIN_DTYPE_STATE = (3, "<", None, None, None, -1, -1, 0)
OBJECT_DTYPE = numpy_dtype("O8", (3, "|", None, None, None, -1, -1, 63))


def numpy_array(dtype: Any, shape: tuple, data: bytes) -> Build:
    """``numpy._core.multiarray._reconstruct(ndarray, (0,), b'b')`` with the BUILD state numpy writes."""
    return Build(Call(NUMPY_RECONSTRUCT, (NUMPY_NDARRAY, (0,), b"b")), (1, shape, dtype, False, data))
