"""Child process for the hostile-file tests: opens each file under an address-space cap and a time limit.

Usage: ``python isolated_load.py JOBS.json``. After importing torch and memstudio it caps its address space
(``RLIMIT_AS``) at what it uses then plus ``budget_mb``, so a loader that allocates gigabytes fails instead of
taking the machine; each job gets a SIGALRM deadline. For every job it prints ``{"start": id}`` and then
``{"done": id, ...}`` with the outcome, the seconds taken and the peak resident memory above the level before
the job (VmHWM, reset per job through /proc/self/clear_refs). A crash (a segfault) leaves a start without a
done; the parent runs the remaining jobs in a new child.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class _Deadline(Exception):
    """Raised by the SIGALRM handler when one hostile file takes longer than its time limit."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Deadline("the job ran past its deadline")


def _integrity(good: str) -> list[str]:
    """What a hostile file may have changed in this process: Counter, the EasyDict stand-in, loading."""
    from memstudio.core.generators.nvidia_pickle import EasyDict, load_nvidia_pickle

    problems = []
    try:
        if Counter("aab").most_common() != [("a", 2), ("b", 1)]:
            problems.append("collections.Counter was changed")
    except Exception as exc:  # a rewritten class may fail in any way; report it
        problems.append(f"collections.Counter fails: {exc!r}")
    try:
        if EasyDict(a=1).a != 1 or EasyDict.__getattr__.__name__ != "__getattr__":
            problems.append("EasyDict was changed")
    except Exception as exc:
        problems.append(f"EasyDict fails: {exc!r}")
    try:
        load_nvidia_pickle(good)
    except Exception as exc:
        problems.append(f"a good checkpoint no longer opens: {exc}")
    return problems


def main() -> None:
    jobs = json.loads(Path(sys.argv[1]).read_text())
    import torch

    torch.set_num_threads(1)
    from memstudio.core.checkpoints import safe_torch_load
    from memstudio.core.errors import MemstudioError
    from memstudio.core.generators.nvidia_pickle import load_nvidia_pickle, read_network_pickle

    loaders = {"nvidia": load_nvidia_pickle, "read": read_network_pickle, "torch": safe_torch_load}
    budget = int(os.environ.get("HOSTILE_BUDGET_MB", "1024")) << 20
    cap = _status_kb("VmSize") * 1024 + budget
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    signal.signal(signal.SIGALRM, _alarm)
    for job in jobs:
        print(json.dumps({"start": job["id"]}), flush=True)
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kb("VmRSS")
        started = time.perf_counter()
        signal.alarm(int(job.get("deadline", 30)))
        try:
            value = loaders[job["loader"]](job["path"])
            result: dict[str, Any] = {"outcome": "ok", "type": type(value).__name__}
            if isinstance(value, torch.Tensor):
                result["numel"] = value.numel()
            del value
        except MemstudioError as exc:
            result = {"outcome": "error", "type": type(exc).__name__, "message": str(exc)}
        except BaseException as exc:  # the point of the test: report anything else as a failure
            result = {"outcome": "crash", "type": type(exc).__name__, "message": str(exc)[:2000]}
        finally:
            signal.alarm(0)
        result["seconds"] = time.perf_counter() - started
        result["peak_mb"] = (_status_kb("VmHWM") - before) / 1024
        if job.get("integrity"):
            result["integrity"] = _integrity(job["integrity"])
        print(json.dumps({"done": job["id"], **result}), flush=True)


if __name__ == "__main__":
    main()
