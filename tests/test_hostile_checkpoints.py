"""Hostile network pickles and .pt files: each attack is refused with a clear error, fast and in little memory.

Every file is assembled opcode by opcode (``hostile_pickles``) and opened in a child process
(``isolated_load.py``) whose address space is capped at what torch and memstudio need plus 1 GiB and whose
jobs have a deadline: a loader that segfaults, rewrites a class, recurses, or allocates gigabytes then fails
its test instead of crashing or stalling the suite. One child runs all the files (a crash restarts the rest).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hostile_pickles import (
    EASYDICT,
    LOAD_FROM_BYTES,
    NUMPY_SCALAR,
    OBJECT_DTYPE,
    ORDERED_DICT,
    REBUILD_TENSOR,
    Build,
    Call,
    G,
    Get,
    PersId,
    Put,
    Raw,
    Then,
    dumps,
    emit,
    get,
    nested,
    numpy_array,
    numpy_dtype,
    record,
    storage_blob,
    string,
    tensor,
)
from test_nvidia_pickle import _nvidia_kwargs, snapshot, tiny_sg2, write_network_pickle

import memstudio
from memstudio.core.checkpoints import safe_torch_load
from memstudio.core.errors import CheckpointError

HERE = Path(__file__).resolve().parent
PEAK_MB = 300  # "a few hundred MB" at most above the process's level before the file
SECONDS = 20
BASE_KWARGS = {"z_dim": 32, "c_dim": 0, "w_dim": 32, "img_resolution": 16, "img_channels": 3}
FROZENSET = G("builtins", "frozenset")
# numpy's reduce of a structured dtype with one object field, its flags cleared (27 → 1): the reported attack.
EVIL_DTYPE = numpy_dtype("V8", (3, "|", None, ("a",), {"a": (OBJECT_DTYPE, 0)}, 8, 1, 1))
BYTES_FIELD_DTYPE = numpy_dtype(
    "V8", (3, "|", None, ("a",), {"a": (numpy_dtype("S4096", (3, "|", None, None, None, 4096, 1, 0)), 0)}, 8, 1, 0)
)


def _empty_state(modules: Any = None, **extra: Any) -> dict:
    return {"_parameters": {}, "_buffers": {}, "_modules": {} if modules is None else modules, **extra}


def _generator(init_kwargs: Any, layers: Any = None) -> Any:
    """A StyleGAN2-looking G_ema record tree, enough to reach the walk over its constructor arguments."""
    block = record("SynthesisBlock", _empty_state(layers))
    synthesis = record("SynthesisNetwork", _empty_state({"b4": block}))
    return record("Generator", _empty_state({"synthesis": synthesis}, _init_args=(), _init_kwargs=init_kwargs))


def _pickle(top: Any) -> Callable[[Path], bytes]:
    return lambda tmp: dumps(top)


def _laughs(levels: int = 12, fan: int = 10) -> Any:
    """A memo DAG: each level is a list of ``fan`` references to the level below (fan**levels leaves)."""
    node: Any = Put(0, ["lol"])
    for level in range(1, levels + 1):
        node = Put(level, [node] + [Get(level - 1)] * (fan - 1))
    return node


def _module_laughs(levels: int = 12, fan: int = 10) -> Any:
    """The same DAG in ``_modules``: each layer lists the layer below ``fan`` times."""
    node: Any = Put(0, record("SynthesisLayer", _empty_state()))
    for level in range(1, levels + 1):
        children = {"m0": node, **{f"m{i}": Get(level - 1) for i in range(1, fan)}}
        node = Put(level, record("SynthesisLayer", _empty_state(children)))
    return {"G_ema": _generator(dict(BASE_KWARGS), {"layer": node})}


def _deep_list(depth: int) -> Raw:
    """``[[[...]]]`` ``depth`` levels deep: ``depth`` EMPTY_LISTs, then APPEND each into the one below."""
    return Raw(pickle.EMPTY_LIST * depth + pickle.APPEND * (depth - 1))


def _deep_modules(tmp: Path, depth: int = 100_000) -> bytes:
    hole = Raw(b"<HOLE>")
    layer = record("SynthesisLayer", _empty_state({"m": hole}))
    chain = nested(layer, hole, depth, record("SynthesisLayer", _empty_state()))
    head, _, tail = emit({"G_ema": _generator(dict(BASE_KWARGS), {"chain": hole})}).partition(hole.data)
    return pickle.PROTO + b"\x03" + head + chain + tail + pickle.STOP


def _module_cycle(tmp: Path) -> bytes:
    """synthesis._modules['b4']._modules['again'] is synthesis itself (memo slots 1: the dict, 2: the record)."""
    modules = Put(1, {})
    synthesis = Put(2, record("SynthesisNetwork", _empty_state(modules)))
    block = record("SynthesisBlock", _empty_state({"again": Get(2)}))
    # After synthesis is built: modules['b4'] = block, where block refers back to synthesis.
    fill = Then(synthesis, get(1) + string("b4") + emit(block) + pickle.SETITEM + pickle.POP)
    top = record("Generator", _empty_state({"synthesis": fill}, _init_args=(), _init_kwargs=dict(BASE_KWARGS)))
    return dumps({"G_ema": top})


def _kwargs_cycle(tmp: Path) -> bytes:
    kwargs = Then(Put(1, dict(BASE_KWARGS)), string("mapping_kwargs") + get(1) + pickle.SETITEM)
    return dumps({"G_ema": _generator(kwargs)})


def _good_snapshot(tmp: Path, **kwargs: Any) -> Path:
    g = tiny_sg2()
    path = tmp / f"good-{len(kwargs)}-{sorted(kwargs.items())}.pkl".replace(" ", "")
    return write_network_pickle(path, snapshot(g, _nvidia_kwargs({**g.config(), **kwargs})))


def _oversized_kwargs(**kwargs: Any) -> Callable[[Path], bytes]:
    return lambda tmp: _good_snapshot(tmp, **kwargs).read_bytes()


def _zip_bomb(tmp: Path, numel: int = 96 << 20) -> bytes:
    """A zip-format .pt whose one storage (``numel`` float32 zeros, 384 MiB) is deflated to about 0.4 MB."""
    path = tmp / "bomb-src.pt"
    storage = PersId(("storage", G("torch", "FloatStorage"), "0", "cpu", numel))
    data_pkl = dumps(Call(REBUILD_TENSOR, (storage, 0, (numel,), (1,), False, Call(ORDERED_DICT, ()))), 2)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("archive/data.pkl", data_pkl, zipfile.ZIP_STORED)
        archive.writestr("archive/byteorder", "little", zipfile.ZIP_STORED)
        with archive.open("archive/data/0", "w", force_zip64=True) as member:
            zeros = bytes(4 << 20)
            for _ in range(numel * 4 // len(zeros)):
                member.write(zeros)
        archive.writestr("archive/version", "3\n", zipfile.ZIP_STORED)
    return path.read_bytes()


# id → (file contents, loader, what the error must say); every one of these opened fine or crashed before.
CASES: dict[str, tuple[Callable[[Path], bytes], str, str]] = {
    # §1 memory corruption through numpy: object fields, as an array, in the kwargs, as a scalar, a bytes field.
    "numpy-object-field-array": (
        _pickle({"x": numpy_array(EVIL_DTYPE, (1,), b"A" * 8)}),
        "nvidia",
        "numpy dtype 'V8', which is not a plain number type",
    ),
    "numpy-object-field-in-kwargs": (
        _pickle({"G_ema": _generator({**BASE_KWARGS, "noise": numpy_array(EVIL_DTYPE, (1,), b"A" * 8)})}),
        "nvidia",
        "numpy dtype 'V8'",
    ),
    "numpy-object-field-scalar": (
        _pickle({"x": Call(NUMPY_SCALAR, (EVIL_DTYPE, b"A" * 8))}),
        "nvidia",
        "numpy dtype 'V8'",
    ),
    "numpy-bytes-field-past-itemsize": (
        _pickle({"G_ema": _generator({**BASE_KWARGS, "x": numpy_array(BYTES_FIELD_DTYPE, (1,), b"A" * 8)})}),
        "nvidia",
        "numpy dtype 'V8'",
    ),
    "numpy-object-array-dtype": (
        _pickle({"x": numpy_array(OBJECT_DTYPE, (1,), b"A" * 8)}),
        "nvidia",
        "numpy dtype 'O8'",
    ),
    # §1 class rewriting: BUILD on our EasyDict class; _load_from_bytes handing out collections.Counter.
    "class-rewrite-easydict": (
        _pickle({"G_ema": Build(EASYDICT, (None, {"__getattr__": FROZENSET}))}),
        "nvidia",
        "a state update (BUILD) of dnnlib.util.EasyDict",
    ),
    "class-rewrite-counter": (
        _pickle(
            {
                "G_ema": Build(
                    Call(LOAD_FROM_BYTES, (storage_blob(b"", top=G("collections", "Counter"), keys=[]),)),
                    (None, {"most_common": FROZENSET}),
                )
            }
        ),
        "nvidia",
        "refused",
    ),
    "storage-blob-yields-no-storage": (
        _pickle({"t": Call(LOAD_FROM_BYTES, (storage_blob(b"", top=5, keys=[]),))}),
        "read",
        "yields an object of type int, not a storage",
    ),
    # §2 bounded readers.
    "billion-laughs-in-kwargs": (
        _pickle({"G_ema": _generator({**BASE_KWARGS, "junk": _laughs()})}),
        "nvidia",
        "more than 10000 values",
    ),
    "billion-laughs-in-modules": (_pickle(_module_laughs()), "nvidia", "occurs twice in the module tree"),
    "arch-z-w-12000": (_oversized_kwargs(z_dim=12000, w_dim=12000), "nvidia", "the architecture needs [32, 12000]"),
    "arch-beyond-limits": (_oversized_kwargs(w_dim=10**7), "nvidia", "w_dim = 10000000 is outside the sane range"),
    # 1e6-deep lists and 100k-deep modules run into the opcode bound; shallower ones into the walks' bounds.
    "deep-list-1e6-in-kwargs": (
        _pickle({"G_ema": _generator({**BASE_KWARGS, "junk": _deep_list(1_000_000)})}),
        "nvidia",
        "more than 1000000 opcodes",
    ),
    "deep-list-100k-in-kwargs": (
        _pickle({"G_ema": _generator({**BASE_KWARGS, "junk": _deep_list(100_000)})}),
        "nvidia",
        "nest deeper than 16 levels",
    ),
    "deep-modules-100k": (_deep_modules, "nvidia", "more than 1000000 opcodes"),
    "deep-modules-5k": (lambda tmp: _deep_modules(tmp, 5000), "nvidia", "modules nest deeper than 32 levels"),
    "module-self-cycle": (_module_cycle, "nvidia", "occurs twice in the module tree"),
    "kwargs-self-cycle": (_kwargs_cycle, "nvidia", "contains itself"),
    "tensor-size-past-storage": (
        _pickle({"t": tensor([1.0, 2.0, 3.0, 4.0], size=(1000,))}),
        "read",
        "does not fit in its storage of 4 elements",
    ),
    "tensor-stride-past-storage": (
        _pickle({"t": tensor([1.0, 2.0, 3.0, 4.0], size=(4,), stride=(1000,))}),
        "read",
        "does not fit in its storage of 4 elements",
    ),
    "tensor-offset-past-storage": (
        _pickle({"t": tensor([1.0, 2.0, 3.0, 4.0], size=(4,), offset=10)}),
        "read",
        "does not fit in its storage of 4 elements",
    ),
    "storage-claims-more-than-it-carries": (
        _pickle({"t": Call(LOAD_FROM_BYTES, (storage_blob(b"\0" * 16, numel=1 << 30),))}),
        "read",
        "(4294967296 bytes) whose blob carries 16 bytes",
    ),
    "pt-zip-bomb": (_zip_bomb, "torch", "looks like a zip bomb"),
}
INTEGRITY = ("class-rewrite-easydict", "class-rewrite-counter")


def _run_isolated(jobs: list[dict], work: Path) -> dict[str, dict]:
    """Run ``jobs`` in child processes; a job whose child died or stalled gets outcome 'died'."""
    env = dict(os.environ, MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(memstudio.__file__).parents[1]), env.get("PYTHONPATH", "")])
    results: dict[str, dict] = {}
    remaining = list(jobs)
    while remaining:
        spec = work / f"jobs-{len(results)}.json"
        spec.write_text(json.dumps(remaining))
        timeout = 120 + sum(job["deadline"] for job in remaining)
        try:
            proc = subprocess.run(
                [sys.executable, str(HERE / "isolated_load.py"), str(spec)],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
            )
            out, rc, err = proc.stdout, proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            rc, err = "timeout", ""
        started = None
        for line in out.splitlines():
            event = json.loads(line)
            if "start" in event:
                started = event["start"]
            else:
                results[event.pop("done")] = event
                started = None
        if started is None and not any(job["id"] in results for job in remaining):
            raise RuntimeError(f"the isolated loader failed before any job (rc {rc}): {err[-3000:]}")
        if started is not None:
            results[started] = {"outcome": "died", "rc": rc, "message": err[-2000:]}
        remaining = [job for job in remaining if job["id"] not in results]
    return results


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("hostile")
    good = _good_snapshot(work)
    jobs = []
    for case, (make, loader, _) in CASES.items():
        path = work / f"{case}.{'pt' if loader == 'torch' else 'pkl'}"
        path.write_bytes(make(work))
        job = {"id": case, "path": str(path), "loader": loader, "deadline": 30}
        if case in INTEGRITY:
            job["integrity"] = str(good)
        jobs.append(job)
    jobs.append({"id": "good", "path": str(good), "loader": "nvidia", "deadline": 30})
    results = _run_isolated(jobs, work)
    for case in CASES:
        results[case]["path"] = str(work / f"{case}.{'pt' if CASES[case][1] == 'torch' else 'pkl'}")
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file_is_refused_fast_and_small(hostile, case):
    result = hostile[case]
    assert result["outcome"] == "error" and result["type"] == "CheckpointError", result
    message = result["message"]
    assert message.startswith(result["path"] + ":"), message
    assert CASES[case][2] in message, message
    assert len(message) < 1500, f"{len(message)} characters: {message[:300]}…"
    assert result["peak_mb"] < PEAK_MB, result
    assert result["seconds"] < SECONDS, result


@pytest.mark.parametrize("case", INTEGRITY)
def test_class_rewrite_leaves_process_intact(hostile, case):
    # After the attack, in the same process: Counter and the EasyDict stand-in work, a good checkpoint opens.
    assert hostile[case]["outcome"] == "error", hostile[case]
    assert hostile[case]["integrity"] == []


def test_cap_leaves_room_for_a_good_checkpoint(hostile):
    # The child's cap is not what refuses the files above: under it, after them, a good snapshot opens.
    assert hostile["good"]["outcome"] == "ok" and hostile["good"]["type"] == "StyleGAN2Generator", hostile["good"]


def test_pt_archive_members_are_checked_before_torch_reads_them(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, good)
    assert torch.equal(safe_torch_load(good)["w"], torch.arange(6.0).reshape(2, 3))
    # The same archive with one member torch never writes (torch itself would ignore it) is refused.
    extra = tmp_path / "extra.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(extra, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("archive/payload.bin", b"x" * 10)
    with pytest.raises(CheckpointError, match=r"extra\.pt: refused to load: .*members torch does not write.*payload"):
        safe_torch_load(extra)
