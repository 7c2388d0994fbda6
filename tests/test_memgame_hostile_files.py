"""Manifests and sequence files that are not what they claim are DesignErrors naming the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from memstudio.core.experiments.errors import DesignError
from memstudio.core.experiments.sequence_io import read_sequence
from memstudio.core.experiments.targets import targets_from_manifest


@pytest.mark.parametrize(
    "content, message",
    [
        (b"image,seed_id\na.png,s1\n" + b"b.png," + b"x" * (200 << 10) + b"\n", r"manifest\.csv:3: unreadable CSV row"),
        (b"image,seed_id\n\xff\xfe\xfa.png,s1\n", "not UTF-8 text"),
        (b'image,seed_id\n"a.png,s1\n' + b"y" * (200 << 10), "unreadable CSV row"),
    ],
)
def test_hostile_csv_manifests(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_bytes(content)
    with pytest.raises(DesignError, match=message) as info:
        targets_from_manifest(path)
    assert str(path) in str(info.value)


def test_good_csv_manifest_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "manifest.csv"
    path.write_text("image,seed_id,alpha\na.png,s1,-0.1\nb.png,s1,0.1\n", encoding="utf-8")
    targets = targets_from_manifest(path)
    assert [(t.path.name, t.seed_id, t.alpha) for t in targets] == [("a.png", "s1", -0.1), ("b.png", "s1", 0.1)]


def test_deeply_nested_json_manifest(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DesignError, match="manifest.json: not a readable JSON manifest"):
        targets_from_manifest(path)


@pytest.mark.parametrize(
    "name, content",
    [
        ("seq.csv", b"participant,position,image,kind\np1,0," + b"z" * (200 << 10) + b",target\n"),
        ("seq.csv", b"participant,position,image,kind\np1,0,\xff\xfe.png,target\n"),
        ("seq.json", b"[" * 100_000),
    ],
)
def test_hostile_sequence_files(name: str, content: bytes, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DesignError, match="unreadable sequence file") as info:
        read_sequence(path)
    assert str(path) in str(info.value)
