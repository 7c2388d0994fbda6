"""The pickle interpreter behind the NVIDIA loader: plain data reads exactly as Python's unpickler reads it,
in every protocol; what it must not do is refused with a reason."""

from __future__ import annotations

import io
import pickle
import pickletools
from collections import OrderedDict

import pytest
from hostile_pickles import Build, Call, G, Get, Put, dumps

from memstudio.core.generators.nvidia_pickle import _NetworkPickle
from memstudio.core.generators.pickle_vm import (
    ALLOWED_OPCODES,
    Allowed,
    BoundedReader,
    GlobalRefused,
    PickleRefused,
    load,
)

PLAIN = Allowed(calls={}, newobj={})


def _load(data: bytes, allowed: Allowed = PLAIN, max_opcodes: int = 10_000) -> object:
    return load(BoundedReader(io.BytesIO(data), len(data)), allowed, max_opcodes)


def _sample() -> dict:
    shared = ["shared", 2**40, -(2**70)]
    return {
        "ints": [0, 1, -1, 255, 65535, 2**31 - 1, -(2**31), 2**63, True, False, None],
        "floats": [0.0, -1.5, 1e300, float("inf")],
        "text": ["", "ascii", "ünïcödé", "x" * 300],
        "bytes": [b"", b"\x00\xff" * 200],
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "sets": {"a", 1, (2, "b")},
        "frozen": frozenset({"c", 3.5}),
        "nested": {"a": {"b": [shared, shared, {"c": ()}]}},
        (1, "key"): "tuple key",
        7: shared,
    }


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_reads_as_pythons_unpickler_reads_it(protocol):
    # The NVIDIA loader's own table: protocols 2-3 write sets as builtins.set([...]) calls.
    sample = _sample()
    if protocol == 2:
        del sample["bytes"]  # protocol 2 writes bytes as _codecs.encode calls, which no network pickle has
    data = pickle.dumps(sample, protocol=protocol, fix_imports=False)  # Python 3 names (builtins.set)
    ours = _load(data, _NetworkPickle(element_budget=0).allowed)
    assert ours == pickle.loads(data)
    assert ours["nested"]["a"]["b"][0] is ours["nested"]["a"]["b"][1] is ours[7]  # the memo keeps sharing
    assert all(op.name in ALLOWED_OPCODES for op, _, _ in pickletools.genops(data))


@pytest.mark.parametrize("protocol", [0, 1])
def test_old_protocols_read_plain_data(protocol):
    value = {"a": [1, 2.5, "s", None, True, (3, "t")], "b": {"c": -(2**65)}}
    assert _load(pickle.dumps(value, protocol=protocol)) == value


def test_ordered_dicts_and_callables_come_from_the_callers_table():
    made = []

    def ordered(*args):
        made.append(args)
        return OrderedDict()

    allowed = Allowed(calls={("collections", "OrderedDict"): ordered}, newobj={}, dict_types=frozenset({OrderedDict}))
    data = pickle.dumps(OrderedDict([("z", 1), ("a", 2)]), protocol=4)
    out = _load(data, allowed)
    assert type(out) is OrderedDict and list(out.items()) == [("z", 1), ("a", 2)] and made == [()]
    with pytest.raises(GlobalRefused, match="collections.OrderedDict"):
        _load(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (pickle.PROTO + b"\x02" + pickle.MARK + pickle.INST + b"os\nsystem\n" + pickle.STOP, "opcode INST"),
        (dumps(Build(G("a", "b"), {"x": 1})), "a.b"),
        (dumps(Call([], ())), "a call of list"),
        (dumps(Build(Put(0, []), (None, {"append": 1}))), "a state update \\(BUILD\\) of list"),
        (dumps({(): 1, ((1,),): 2}), "a dict key or set member that is a tuple"),
        (dumps([Get(3)]), "memo entry 3 is read before it is written"),
        (pickle.PROTO + b"\x02" + pickle.EMPTY_DICT + pickle.NONE + pickle.APPEND + pickle.STOP, "APPEND on a dict"),
        (pickle.PROTO + b"\x02" + pickle.POP + pickle.STOP, "empty stack"),
    ],
)
def test_what_the_interpreter_refuses(data, reason):
    allowed = Allowed(calls={}, newobj={}, tokens=frozenset({("a", "b")}))
    with pytest.raises(PickleRefused, match=reason):
        _load(data, allowed)


def test_lengths_past_the_end_and_opcode_count_are_bounded():
    claim = pickle.PROTO + b"\x03" + pickle.BINBYTES8 + (2**40).to_bytes(8, "little") + b"xx"
    with pytest.raises(EOFError, match="runs past the end"):
        _load(claim)
    many = pickle.PROTO + b"\x02" + pickle.EMPTY_LIST + (pickle.NONE + pickle.APPEND) * 600 + pickle.STOP
    assert len(_load(many, max_opcodes=1203)) == 600
    with pytest.raises(PickleRefused, match="more than 1000 opcodes"):
        _load(many, max_opcodes=1000)
