"""Run a hostile-input check in a child process under an address-space cap and a timeout.

A reader that regresses to allocating what a hostile header claims then fails the test with a MemoryError
(or is killed) instead of swapping the shared test machine to death or hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PRELUDE = """
import json, resource, sys, time
{imports}


def outcome(call):
    \"\"\"What one hostile input does: the error's class, whether it is a MemstudioError, and its message.\"\"\"
    try:
        call()
    except BaseException as exc:
        is_ours = any(c.__name__ == "MemstudioError" for c in type(exc).__mro__)
        return {{"error": type(exc).__name__, "memstudio": is_ours, "message": str(exc)[:500]}}
    return {{"error": None}}


def _vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")

# The cap is counted from here: torch and numpy reserve a few GB of address space just by being imported.
resource.setrlimit(resource.RLIMIT_AS, (_vm_bytes() + {budget}, resource.RLIM_INFINITY))
_start = time.perf_counter()
try:
{body}
    _out = {{"error": None, "results": globals().get("results")}}
except BaseException as exc:
    _out = {{"error": type(exc).__name__, "message": str(exc)[:2000],
             "memstudio": any(c.__name__ == "MemstudioError" for c in type(exc).__mro__)}}
_out["seconds"] = time.perf_counter() - _start
print("RESULT " + json.dumps(_out))
"""


def run_bounded(body: str, imports: str = "", budget_mb: int = 300, timeout_s: float = 60) -> dict:
    """Run ``body`` (after ``imports``) with ``budget_mb`` MB of address space beyond the imports.

    Returns ``{"error": class name or None, "message", "memstudio": is a MemstudioError, "seconds"}`` (and
    ``"results"``, whatever JSON-able value ``body`` left in a variable of that name); a child that dies
    (killed, segfault) or prints nothing fails the test with its output.
    """
    code = _PRELUDE.format(
        imports=textwrap.dedent(imports),
        budget=budget_mb << 20,
        body=textwrap.indent(textwrap.dedent(body), "    "),
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s, env=env, cwd=REPO
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"child failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1][len("RESULT ") :])
