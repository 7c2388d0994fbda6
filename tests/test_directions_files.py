"""Direction files from elsewhere are data: bounded, shaped as expected, and confined to their folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from memstudio.core.directions.base import Direction, DirectionError


def _direction(tmp_path: Path) -> Path:
    d = Direction(name="d", property="memorability", space="w", vector=torch.arange(4.0))
    return d.save(tmp_path / "dirs" / "d.json")


def _rewrite(path: Path, **changes: object) -> None:
    meta = json.loads(path.read_text())
    meta.update(changes)
    path.write_text(json.dumps(meta))


def test_round_trip_and_normal_permissions(tmp_path: Path) -> None:
    path = _direction(tmp_path)
    assert torch.equal(Direction.load(path).vector, torch.arange(4.0))
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in path.parent.iterdir()) == ["d.json", "d.safetensors"]


@pytest.mark.parametrize("top", [[1, 2, 3], "text", 7, None])
def test_a_json_that_is_not_an_object_is_a_direction_error(top: object, tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps(top))
    with pytest.raises(DirectionError, match=r"list\.json: not a direction file \(the top level is a"):
        Direction.load(path)


def test_tensors_outside_the_direction_folder_are_refused(tmp_path: Path) -> None:
    path = _direction(tmp_path)
    secret = tmp_path / "elsewhere" / "secret.safetensors"
    secret.parent.mkdir()
    save_file({"vector": torch.ones(4)}, str(secret))
    for entry in (str(secret), "../elsewhere/secret.safetensors", str(path.parent / ".." / "elsewhere" / "x")):
        _rewrite(path, tensors=entry)
        with pytest.raises(DirectionError, match="outside the direction's folder"):
            Direction.load(path)
    # A link inside the folder that points out of it is refused as well (the path is resolved first).
    (path.parent / "link.safetensors").symlink_to(secret)
    _rewrite(path, tensors="link.safetensors")
    with pytest.raises(DirectionError, match="outside the direction's folder"):
        Direction.load(path)
    # A subfolder is fine.
    (path.parent / "sub").mkdir()
    save_file({"vector": torch.full((4,), 2.0)}, str(path.parent / "sub" / "t.safetensors"))
    _rewrite(path, tensors="sub/t.safetensors")
    assert torch.equal(Direction.load(path).vector, torch.full((4,), 2.0))


@pytest.mark.parametrize(
    "tensors, content, message",
    [
        (None, None, "no 'tensors' file name"),
        (["d.safetensors"], None, "no 'tensors' file name"),
        ("d.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage", "are not readable"),
        ("d.safetensors", "no-vector", "holds no 'vector'"),
    ],
)
def test_broken_tensors_are_direction_errors(tensors: object, content: object, message: str, tmp_path: Path) -> None:
    path = _direction(tmp_path)
    _rewrite(path, tensors=tensors)
    if isinstance(content, bytes):
        path.with_suffix(".safetensors").write_bytes(content)
    elif content == "no-vector":
        save_file({"other": torch.ones(2)}, str(path.with_suffix(".safetensors")))
    with pytest.raises(DirectionError, match=message):
        Direction.load(path)


def test_deeply_nested_json_is_a_direction_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DirectionError, match="deep.json"):
        Direction.load(path)


def test_an_oversized_or_device_json_is_a_direction_error_without_being_read(tmp_path: Path) -> None:
    path = _direction(tmp_path)
    json_path = path.with_suffix(".json")
    json_path.unlink()
    with json_path.open("wb") as fp:
        fp.truncate(8 << 30)  # sparse: 8 GiB claimed
    with pytest.raises(DirectionError, match=r"8589934592 bytes is too large for direction file"):
        Direction.load(json_path)
    json_path.unlink()
    json_path.symlink_to("/dev/zero")  # 0 bytes by stat, endless when read
    with pytest.raises(DirectionError, match="not a regular file"):
        Direction.load(json_path)


def test_project_refuses_to_write_over_a_kept_direction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from memstudio.cli import main

    mem = Direction(name="mem", property="memorability", space="w", vector=torch.tensor([1.0, 1.0, 0.0])).save(
        tmp_path / "mem.json"
    )
    age = Direction(name="age", property="age", space="w", vector=torch.tensor([1.0, 0.0, 0.0])).save(
        tmp_path / "age.json"
    )
    before = age.read_bytes(), age.with_suffix(".safetensors").read_bytes()
    assert main(["direction", "project", str(mem), "--keep", str(age), "-o", str(age)]) == 2
    assert "refusing to write over an input" in capsys.readouterr().err
    assert (age.read_bytes(), age.with_suffix(".safetensors").read_bytes()) == before
    assert main(["direction", "project", str(mem), "--keep", str(age), "-o", str(tmp_path / "out.json")]) == 0
    assert Direction.load(tmp_path / "out.json").vector[0].abs().item() < 1e-6
