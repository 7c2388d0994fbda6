"""requirements.lock: every fresh install gets the same stack, and a lock that disagrees with pyproject fails."""

from __future__ import annotations

from pathlib import Path

from memstudio.devtools import lock

PYPROJECT = """
[project]
name = "demo"
dependencies = ["torch>=2.4", "numpy>=1.24", "dlib-bin>=19.24; python_version < '3'"]
[project.optional-dependencies]
test = ["pytest>=8"]
"""


def _write(tmp_path: Path, pins: list[str], pyproject: str = PYPROJECT) -> tuple[Path, Path]:
    project = tmp_path / "pyproject.toml"
    project.write_text(pyproject)
    lock_file = tmp_path / "requirements.lock"
    lock_file.write_text("\n".join([lock.HASH_PREFIX + lock.dependencies_hash(project), *pins]) + "\n")
    return project, lock_file


def test_the_repository_lock_agrees_with_pyproject():
    assert lock.problems() == []
    pins, _ = lock.read_pins()
    assert {"torch", "torchvision", "pyside6-essentials", "resmem"} <= set(pins)


def test_agreeing_lock_has_no_problems(tmp_path):
    project, lock_file = _write(tmp_path, ["torch==2.14.1", "NumPy==2.4.6", "pytest==9.2.0"])
    assert lock.problems(project, lock_file) == []  # names compared canonically; the py<3 marker skips dlib


def test_missing_and_out_of_range_pins_are_named(tmp_path):
    project, lock_file = _write(tmp_path, ["torch==2.3.0", "pytest==9.2.0"])
    found = lock.problems(project, lock_file)
    assert any("torch==2.3.0, outside" in p for p in found)
    assert any(p.startswith("numpy>=1.24 has no pin") for p in found)
    assert len(found) == 2


def test_changed_dependencies_stale_the_lock(tmp_path):
    project, lock_file = _write(tmp_path, ["torch==2.14.1", "numpy==2.4.6", "pytest==9.2.0"])
    project.write_text(PYPROJECT.replace('"pytest>=8"', '"pytest>=8", "ruff>=0.6"'))
    found = lock.problems(project, lock_file)
    assert any("changed since the lock was written" in p for p in found)
    assert any("ruff>=0.6 has no pin" in p for p in found)


def test_cli_check_fails_loudly(tmp_path, monkeypatch, capsys):
    project, lock_file = _write(tmp_path, ["torch==2.14.1"])
    monkeypatch.setattr(lock, "PYPROJECT", project)
    monkeypatch.setattr(lock, "LOCK", lock_file)
    monkeypatch.setattr(lock.problems, "__defaults__", (project, lock_file))
    assert lock.main(["check"]) == 1
    assert "LOCK MISMATCH: numpy>=1.24 has no pin" in capsys.readouterr().err
