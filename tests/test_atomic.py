"""The one atomic-write helper: whole file or old file, normal permissions, never over an input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memstudio.core.atomic import (
    AtomicFile,
    OverwriteInputError,
    atomic_directory,
    recover_directory,
    refuse_inputs,
    replace_directory,
    save_image_atomic,
    write_text_atomic,
    write_with,
)
from memstudio.core.errors import MemstudioError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_written_files_have_the_permissions_of_a_plain_open(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "sub" / "a.txt", "héllo\r\n")
    assert path.read_bytes() == "héllo\r\n".encode()
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    assert path.stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "a.txt", "old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("new but incomplete")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_with(path, half_then_fail)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_streamed_file_commits_or_discards(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "s.bin", "old")
    dropped = AtomicFile(path)
    dropped.file.write(b"partial")
    dropped.discard()
    assert path.read_text() == "old" and len(list(tmp_path.iterdir())) == 1
    kept = AtomicFile(path)
    kept.file.write(b"new")
    assert path.read_text() == "old"
    kept.commit()
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_refuse_inputs_sees_through_links_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_text_atomic(tmp_path / "in.json", "{}")
    (tmp_path / "link.json").symlink_to(source)
    monkeypatch.chdir(tmp_path)
    for target in (source, tmp_path / "link.json", Path("in.json"), tmp_path / "x" / ".." / "in.json"):
        with pytest.raises(OverwriteInputError, match="refusing to write over an input"):
            refuse_inputs([target], [None, Path("in.json")])
    refuse_inputs([tmp_path / "out.json"], [source])  # another name is fine


def test_images_take_their_format_from_the_suffix(tmp_path: Path) -> None:
    from PIL import Image

    save_image_atomic(Image.new("RGB", (3, 2), "red"), tmp_path / "a.jpg")
    with Image.open(tmp_path / "a.jpg") as im:
        assert im.format == "JPEG" and im.size == (3, 2)
    with pytest.raises(MemstudioError, match="unknown image format"):
        save_image_atomic(Image.new("RGB", (3, 2)), tmp_path / "a.unknown")


def test_folders_replace_crash_safely(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with atomic_directory(target) as staging:
        (staging / "v").write_text("1")
    with pytest.raises(MemstudioError, match="not an empty folder"):
        with atomic_directory(target):
            raise AssertionError("must not be entered")
    new = tmp_path / ".staging"
    new.mkdir()
    (new / "v").write_text("2")
    replace_directory(new, target)
    assert (target / "v").read_text() == "2" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    # A crash after the old folder was moved aside and before the new one took its name: put it back.
    aside = tmp_path / ".model.old.abcdefgh.tmp"
    os.replace(target, aside)
    recover_directory(target)
    assert (target / "v").read_text() == "2" and not aside.exists()
    # A crash after the swap, before the old copy was deleted: delete it.
    aside.mkdir()
    recover_directory(target)
    assert not aside.exists() and (target / "v").read_text() == "2"
