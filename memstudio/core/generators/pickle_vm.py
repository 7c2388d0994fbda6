"""A pickle interpreter that can only build plain data and what its caller's functions return.

Python's own unpickler hands the file every object it names: it calls them, sets attributes on them (BUILD
on a class rewrites that class for the whole process), appends and assigns into them, and lets numpy's
``__setstate__`` run on file bytes. Here every opcode is interpreted by this module instead:

* a GLOBAL yields an inert :class:`Global` token (never the named object), and only names the caller lists;
* REDUCE / NEWOBJ on a token call the caller's own function for that name with the arguments the file gives;
* BUILD is handed to the caller's hook, which may only finish an object the caller itself made
  (:class:`Pending`); there is no attribute or ``__dict__`` update;
* APPEND/SETITEM/ADD work on exact ``list`` / ``dict`` / ``set`` objects only, with atomic keys;
* the number of opcodes is bounded (each creates at most one small object), as is every read against the
  bytes the file has left, so a small file cannot drive the loader to a large allocation.

Nothing here recurses, so deep nesting cannot raise ``RecursionError``; the callers bound their own walks.
"""

from __future__ import annotations

import pickletools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

#: The most opcodes one pickle may run: each creates at most one small object, so this bounds the memory a
#: file can make the interpreter hold beyond its own bytes (a 1024 px StyleGAN snapshot needs about 60 000).
MAX_OPCODES = 1_000_000
_MAX_INT_BITS = 128
_MAX_KEY_TUPLE = 16


class PickleRefused(Exception):
    """The pickle does something this interpreter does not allow; the message says what."""


class GlobalRefused(PickleRefused):
    """The pickle names a global that is not on the caller's list."""

    def __init__(self, global_name: str) -> None:
        super().__init__(global_name)
        self.global_name = global_name


@dataclass(frozen=True)
class Global:
    """What a GLOBAL opcode pushes: only the name; the named object is never looked up."""

    module: str
    name: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.module, self.name)


class Pending:
    """An object the caller created that still waits for its BUILD state; unusable until then."""

    done = False
    value: Any = None


@dataclass
class Allowed:
    """What one pickle may use: the functions behind REDUCE and NEWOBJ, the BUILD hook, persistent ids."""

    calls: Mapping[tuple[str, str], Callable[..., Any]]
    newobj: Mapping[tuple[str, str], Callable[..., Any]]
    tokens: frozenset[tuple[str, str]] = frozenset()  # names usable only as arguments (numpy.ndarray)
    #: dict subclasses (beyond ``dict``) that SETITEM may fill; their ``__setitem__`` must be trusted code.
    dict_types: frozenset[type] = frozenset()
    build: Callable[[Any, Any], None] | None = None
    persistent_load: Callable[[Any], Any] | None = None

    def names(self) -> frozenset[tuple[str, str]]:
        return frozenset(self.calls) | frozenset(self.newobj) | self.tokens


class BoundedReader:
    """A binary file view that refuses to read past its end (a length field cannot make a huge buffer)."""

    def __init__(self, file: IO[bytes], size: int) -> None:
        self._file = file
        self._left = size

    @property
    def left(self) -> int:
        return self._left

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self._left
        if n > self._left:
            raise EOFError(f"a field of {n} bytes runs past the end of the data ({self._left} bytes left)")
        data = self._file.read(n)
        self._left -= len(data)
        return data

    def readline(self) -> bytes:
        data = self._file.readline()
        self._left -= len(data)
        return data

    def tell(self) -> int:
        return self._file.tell()


_ATOMS = (str, int, float, bool, bytes, type(None))


def check_key(value: Any) -> Any:
    """Dict keys and set members: atoms or flat tuples of atoms, so hashing never recurses or runs code."""
    if type(value) in _ATOMS:
        return value
    if type(value) is tuple and len(value) <= _MAX_KEY_TUPLE and all(type(v) in _ATOMS for v in value):
        return value
    raise PickleRefused(f"a dict key or set member that is a {type(value).__name__}")


def _settled(value: Any) -> Any:
    if isinstance(value, Pending):
        raise PickleRefused("an object is used before its state was set")
    return value


def _int(value: int) -> int:
    if value.bit_length() > _MAX_INT_BITS:
        raise PickleRefused(f"an integer of {value.bit_length()} bits")
    return value


class _Mark:
    """The MARK sentinel on the stack."""


_MARK = _Mark()
_CONSTANT = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_VALUE_OPS = frozenset(
    {
        "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
        "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
        "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    }
)  # fmt: skip
_STRUCTURE_OPS = frozenset(
    {
        "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP", "NONE", "NEWTRUE", "NEWFALSE",
        "EMPTY_LIST", "APPEND", "APPENDS", "LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
        "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS", "EMPTY_SET", "ADDITEMS", "FROZENSET",
        "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET",
        "GLOBAL", "STACK_GLOBAL", "REDUCE", "NEWOBJ", "BUILD", "PERSID", "BINPERSID",
    }
)  # fmt: skip
#: Every opcode the interpreter runs; anything else (INST, OBJ, EXT*, NEWOBJ_EX, buffers) is refused.
ALLOWED_OPCODES = _VALUE_OPS | _STRUCTURE_OPS


def load(reader: BoundedReader, allowed: Allowed, max_opcodes: int = MAX_OPCODES) -> Any:
    """Run one pickle (up to its STOP) from ``reader`` and return its top object."""
    names = allowed.names()
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}
    count = 0

    def pop_mark() -> list[Any]:
        if not marks:
            raise PickleRefused("an opcode needs a MARK that is not there")
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return [_settled(v) for v in items]

    def pop() -> Any:
        if len(stack) <= (marks[-1] if marks else 0):
            raise PickleRefused("the pickle pops from an empty stack")
        return stack.pop()

    def top() -> Any:
        if len(stack) <= (marks[-1] if marks else 0):
            raise PickleRefused("the pickle reads from an empty stack")
        return stack[-1]

    def set_items(target: Any, items: list[Any]) -> None:
        if type(target) is not dict and type(target) not in allowed.dict_types:
            raise PickleRefused(f"SETITEM on a {type(target).__name__}")
        if len(items) % 2:
            raise PickleRefused("SETITEMS with an odd number of items")
        for i in range(0, len(items), 2):
            target[check_key(items[i])] = items[i + 1]

    def global_token(module: Any, name: Any) -> Global:
        if not isinstance(module, str) or not isinstance(name, str):
            raise PickleRefused("a STACK_GLOBAL whose names are not strings")
        if (module, name) not in names:
            raise GlobalRefused(f"{module}.{name}")
        return Global(module, name)

    def call(table: Mapping[tuple[str, str], Callable[..., Any]], func: Any, args: Any, how: str) -> Any:
        if not isinstance(func, Global) or func.key not in table:
            label = f"{func.module}.{func.name}" if isinstance(func, Global) else type(func).__name__
            raise PickleRefused(f"{how} of {label}, which this loader does not call that way")
        if type(args) is not tuple:
            raise PickleRefused(f"{how} with arguments that are a {type(args).__name__}, not a tuple")
        return table[func.key](*args)

    for opcode, arg, _pos in pickletools.genops(reader):
        count += 1
        if count > max_opcodes:
            raise PickleRefused(f"more than {max_opcodes} opcodes")
        op = opcode.name
        if op not in ALLOWED_OPCODES:
            raise PickleRefused(f"opcode {op}, which network pickles do not use")
        if op in _VALUE_OPS:
            stack.append(_int(arg) if type(arg) is int else arg)
        elif op in _CONSTANT:
            stack.append(_CONSTANT[op])
        elif op == "PROTO":
            if arg > 5:
                raise PickleRefused(f"pickle protocol {arg}")
        elif op == "FRAME":
            pass  # framing only groups opcodes for buffered reading
        elif op == "STOP":
            if len(stack) != 1 or marks:
                raise PickleRefused("the pickle stops with a malformed stack")
            return _settled(stack[0])
        elif op == "MARK":
            marks.append(len(stack))
        elif op == "POP":
            if stack and marks and len(stack) == marks[-1]:
                marks.pop()  # POP of a MARK, as pickle's own loader allows
            else:
                pop()
        elif op == "POP_MARK":
            pop_mark()
        elif op == "DUP":
            stack.append(top())
        elif op == "EMPTY_LIST":
            stack.append([])
        elif op == "EMPTY_TUPLE":
            stack.append(())
        elif op == "EMPTY_DICT":
            stack.append({})
        elif op == "EMPTY_SET":
            stack.append(set())
        elif op == "LIST":
            stack.append(pop_mark())
        elif op == "TUPLE":
            stack.append(tuple(pop_mark()))
        elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(op[-1])
            items = [_settled(pop()) for _ in range(n)][::-1]
            stack.append(tuple(items))
        elif op == "DICT":
            out: dict[Any, Any] = {}
            set_items(out, pop_mark())
            stack.append(out)
        elif op == "FROZENSET":
            stack.append(frozenset(check_key(v) for v in pop_mark()))
        elif op in ("APPEND", "APPENDS"):
            items = [_settled(pop())] if op == "APPEND" else pop_mark()
            target = top()
            if type(target) is not list:
                raise PickleRefused(f"{op} on a {type(target).__name__}")
            target.extend(items)
        elif op in ("SETITEM", "SETITEMS"):
            if op == "SETITEM":
                value = _settled(pop())
                items = [_settled(pop()), value]
            else:
                items = pop_mark()
            set_items(top(), items)
        elif op == "ADDITEMS":
            items = pop_mark()
            target = top()
            if type(target) is not set:
                raise PickleRefused(f"ADDITEMS on a {type(target).__name__}")
            target.update(check_key(v) for v in items)
        elif op in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            memo[len(memo) if op == "MEMOIZE" else arg] = top()
        elif op in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in memo:
                raise PickleRefused(f"memo entry {arg} is read before it is written")
            value = memo[arg]
            if isinstance(value, Pending):
                if not value.done:
                    raise PickleRefused("an object is used before its state was set")
                value = value.value
            stack.append(value)
        elif op == "GLOBAL":
            module, _, name = arg.partition(" ")
            stack.append(global_token(module, name))
        elif op == "STACK_GLOBAL":
            name = pop()
            stack.append(global_token(pop(), name))
        elif op == "REDUCE":
            args = _settled(pop())
            stack.append(call(allowed.calls, pop(), args, "a call"))
        elif op == "NEWOBJ":
            args = _settled(pop())
            stack.append(call(allowed.newobj, pop(), args, "object creation"))
        elif op == "BUILD":
            state = _settled(pop())
            target = top()
            if allowed.build is None or not isinstance(target, Pending) or target.done:
                what = f"{target.module}.{target.name}" if isinstance(target, Global) else type(target).__name__
                raise PickleRefused(f"a state update (BUILD) of {what}")
            allowed.build(target, state)
            target.done = True
            stack[-1] = target.value
        elif op in ("PERSID", "BINPERSID"):
            if allowed.persistent_load is None:
                raise PickleRefused("a persistent id (network pickles have none)")
            stack.append(allowed.persistent_load(_settled(pop()) if op == "BINPERSID" else arg))
    raise PickleRefused("the pickle ends before its STOP")

