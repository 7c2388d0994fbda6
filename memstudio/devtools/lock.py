"""The dependency lock: ``requirements.lock`` pins every package a fresh install gets, so two machines on two
days install the same stack (pyproject.toml keeps open ranges for people who install memstudio as a library).

``python -m memstudio.devtools.lock check`` fails loudly when the lock and pyproject.toml disagree: a
requirement with no pin, a pin outside the requirement's range, or a pyproject whose dependency lists changed
since the lock was written (its header records their hash). ``write --python VENV_PYTHON`` freezes a venv that
was installed from pyproject.toml alone into a new lock (``make lock`` does the whole refresh).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: the lock tool needs 3.11's tomllib (memstudio itself does not)
    tomllib = None

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
HASH_PREFIX = "# pyproject-dependencies-sha256: "


def _requirements(pyproject: Path) -> list[Requirement]:
    if tomllib is None:
        raise SystemExit("the lock tool needs Python 3.11 or newer (tomllib)")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    texts = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        texts.extend(extra)
    return [Requirement(t) for t in texts]


def dependencies_hash(pyproject: Path = PYPROJECT) -> str:
    """Hash of the dependency lists only, so editing the rest of pyproject.toml does not stale the lock."""
    if tomllib is None:
        raise SystemExit("the lock tool needs Python 3.11 or newer (tomllib)")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lists = {"dependencies": project.get("dependencies", []), **project.get("optional-dependencies", {})}
    return hashlib.sha256(json.dumps(lists, sort_keys=True).encode()).hexdigest()


def read_pins(lock: Path = LOCK) -> tuple[dict[str, str], str | None]:
    """``{canonical name: version}`` and the recorded pyproject hash of a lock file."""
    pins: dict[str, str] = {}
    recorded = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith(HASH_PREFIX):
            recorded = line[len(HASH_PREFIX) :].strip()
        if not line or line.startswith("#"):
            continue
        req = Requirement(line.split(" --hash")[0])
        versions = [s.version for s in req.specifier if s.operator == "=="]
        if len(versions) != 1:
            raise SystemExit(f"{lock}: {line!r} is not an exact pin (name==version)")
        pins[canonicalize_name(req.name)] = versions[0]
    return pins, recorded


def problems(pyproject: Path = PYPROJECT, lock: Path = LOCK) -> list[str]:
    """Every way the lock fails pyproject.toml, in words; empty when they agree."""
    if not lock.is_file():
        return [f"{lock} is missing: run `make lock`"]
    pins, recorded = read_pins(lock)
    found = []
    if recorded != dependencies_hash(pyproject):
        found.append("pyproject.toml's dependencies changed since the lock was written: run `make lock`")
    for req in _requirements(pyproject):
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            found.append(f"{req} has no pin in {lock.name}")
        elif not req.specifier.contains(pins[name], prereleases=True):
            found.append(f"{lock.name} pins {name}=={pins[name]}, outside pyproject's {req}")
    return found


def write(python: str, pyproject: Path = PYPROJECT, lock: Path = LOCK) -> None:
    """Freeze the venv of ``python`` (installed from pyproject.toml alone) into ``lock``, atomically."""
    frozen = subprocess.run(
        [python, "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    own = canonicalize_name("memstudio")
    lines = sorted(
        (ln for ln in frozen if ln and not ln.startswith("#") and canonicalize_name(ln.split("==")[0]) != own),
        key=str.lower,
    )
    header = [
        "# The exact stack every fresh install gets (make run, make test, .ci/run).",
        "# Refresh with `make lock` after changing pyproject.toml's dependencies; never edit by hand.",
        HASH_PREFIX + dependencies_hash(pyproject),
    ]
    tmp = lock.with_name(lock.name + ".tmp")
    tmp.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    tmp.replace(lock)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memstudio.devtools.lock")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="fail when requirements.lock and pyproject.toml disagree")
    w = sub.add_parser("write", help="freeze a venv installed from pyproject.toml into requirements.lock")
    w.add_argument("--python", required=True, help="that venv's python")
    args = parser.parse_args(argv)
    if args.command == "write":
        write(args.python)
        print(f"wrote {LOCK}")
        return 0
    found = problems()
    for text in found:
        print(f"LOCK MISMATCH: {text}", file=sys.stderr)
    if not found:
        print(f"{LOCK.name} agrees with pyproject.toml")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
