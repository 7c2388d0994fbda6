"""Reading Qt binary resource bundles (GCompris's photos) without Qt, checked against bundles Qt's own rcc writes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rcc_bundles import write_bundle

from memstudio.core.errors import MemstudioError
from memstudio.devtools.qt_resources import ResourceBundle

TEXT = b"a README that repeats itself, repeats itself, repeats itself, repeats itself\n"
BINARY = random.Random(0).randbytes(768)  # incompressible: rcc stores it raw


def make_bundle(tmp_path: Path, *options: str) -> Path:
    """A compressible text and, in a sub-folder, an incompressible binary."""
    return write_bundle(tmp_path, {"README": TEXT, "sub/photo.bin": BINARY}, *options)


@pytest.mark.parametrize("version", ["1", "2", "3"])
def test_reads_raw_and_zlib_files_in_nested_folders(tmp_path: Path, version: str) -> None:
    path = make_bundle(tmp_path, "--compress-algo", "zlib", "--format-version", version)
    assert TEXT not in path.read_bytes()  # stored compressed: the reader had to inflate it
    bundle = ResourceBundle(path)
    assert bundle.names() == ["/gcompris/src/README", "/gcompris/src/sub/photo.bin"]
    assert bundle.read("/gcompris/src/README") == TEXT
    assert bundle.read("/gcompris/src/sub/photo.bin") == BINARY


def test_bad_bundles_and_names_are_refused_naming_the_file(tmp_path: Path) -> None:
    not_a_bundle = tmp_path / "photo.rcc"
    not_a_bundle.write_bytes(b"\x89PNG not a bundle at all")
    with pytest.raises(MemstudioError, match=r"photo\.rcc.*not a Qt binary resource bundle"):
        ResourceBundle(not_a_bundle)
    with pytest.raises(MemstudioError, match="cannot read"):
        ResourceBundle(tmp_path / "absent.rcc")

    path = make_bundle(tmp_path, "--compress-algo", "zlib")
    with pytest.raises(MemstudioError, match="no resource '/gcompris/src/other.webp'"):
        ResourceBundle(path).read("/gcompris/src/other.webp")
    # Cut inside the data: the names and the tree (written after the data) are gone.
    data = path.read_bytes()
    cut = tmp_path / "cut.rcc"
    cut.write_bytes(data[: data.index(BINARY[:64]) + 10])
    with pytest.raises(MemstudioError, match=r"cut\.rcc: the Qt resource bundle is truncated or corrupt"):
        ResourceBundle(cut)


def test_a_zstd_compressed_file_is_refused_not_misread(tmp_path: Path) -> None:
    bundle = ResourceBundle(make_bundle(tmp_path, "--compress-algo", "zstd"))
    with pytest.raises(MemstudioError, match="zstd-compressed"):
        bundle.read("/gcompris/src/README")
    assert bundle.read("/gcompris/src/sub/photo.bin") == BINARY  # stored raw: still readable
