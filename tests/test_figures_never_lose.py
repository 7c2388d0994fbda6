"""Exporting a figure never loses a file: not its inputs, not another format's sidecar, not an old figure.

Reproduces the ways this went wrong: ``strip --direction work/bright.json -o work/bright.png`` replaced the
direction with the figure's sidecar (``fig.json``); a kill -9 while overwriting a figure left a 0-byte PNG;
a PNG with a > 1 MB text chunk or a 100 000² header given to ``--from`` raised an uncaught Pillow error.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from bounded import REPO
from PIL import Image, PngImagePlugin
from test_figures_support import exposure_direction, make_photo

from memstudio.cli import main
from memstudio.core.directions.base import Direction
from memstudio.core.figures.description import PNG_KEY, read_png_metadata, sidecar_path
from memstudio.core.figures.spec import FigureSpec, FigureSpecError


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    make_photo(folder / "photo.png", size=(48, 40))
    exposure_direction(folder / "bright")
    return folder


def _strip(work: Path, *out: str) -> int:
    args = ["strip", "--photo", str(work / "photo.png"), "--direction", str(work / "bright.json")]
    args += ["--assessor", "brightness", "--alpha", "-0.2", "0", "0.2"]
    for name in out:
        args += ["-o", str(work / name)]
    return main(args)


def test_a_figure_named_like_its_direction_keeps_the_direction(work: Path) -> None:
    before = (work / "bright.json").read_bytes(), (work / "bright.safetensors").read_bytes()
    assert _strip(work, "bright.png", "bright.pdf") == 0
    assert ((work / "bright.json").read_bytes(), (work / "bright.safetensors").read_bytes()) == before
    assert Direction.load(work / "bright.json").name == "brighter"
    png_side = json.loads((work / "bright.png.json").read_text())
    pdf_side = json.loads((work / "bright.pdf.json").read_text())
    assert png_side["spec"] == pdf_side["spec"] == read_png_metadata(work / "bright.png")["spec"]
    # Both sidecars render the figure again (the CLI reads the new names).
    assert main(["strip", "--from", str(work / "bright.png.json"), "-o", str(work / "again.png")]) == 0
    assert (work / "again.png").read_bytes() == (work / "bright.png").read_bytes()


def test_writing_over_an_input_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (work / "photo.png").read_bytes()
    assert _strip(work, "photo.png") == 2
    assert "refusing to write over an input" in capsys.readouterr().err
    assert (work / "photo.png").read_bytes() == before
    assert not (work / "photo.png.json").exists()


def test_old_sidecars_are_still_read(work: Path) -> None:
    assert _strip(work, "fig.png", "fig.pdf") == 0
    for new in ("fig.png.json", "fig.pdf.json"):
        os.replace(work / new, work / "fig.json")  # what earlier versions wrote
    spec = FigureSpec.load(work / "fig.json")
    assert FigureSpec.load(work / "fig.pdf").to_dict() == spec.to_dict()  # a PDF is read through its sidecar
    assert main(["strip", "--from", str(work / "fig.json"), "-o", str(work / "again.png")]) == 0
    assert (work / "again.png").read_bytes() == (work / "fig.png").read_bytes()
    (work / "fig.json").unlink()
    with pytest.raises(FigureSpecError, match=r"fig\.pdf\.json is missing"):
        FigureSpec.load(work / "fig.pdf")


def _png(width: int, height: int, chunks: list[tuple[bytes, bytes]]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    head = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    body = b"".join(chunk(k, d) for k, d in chunks)
    return b"\x89PNG\r\n\x1a\n" + head + body + chunk(b"IDAT", zlib.compress(b"\x00" * 7)) + chunk(b"IEND", b"")


def test_hostile_pngs_given_to_from_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    description = json.dumps({"spec": FigureSpec().to_dict(), "panels": []}).encode("latin-1")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(100_000, 100_000, [(b"zTXt", PNG_KEY.encode() + b"\0\0" + zlib.compress(description))]))
    with pytest.raises(FigureSpecError, match="implausibly large"):
        read_png_metadata(bomb)
    huge_text = tmp_path / "text.png"
    info = PngImagePlugin.PngInfo()
    info.add_text(PNG_KEY, "x" * (2 << 20), zip=True)  # 2 MB inflated, a few KB on disk
    Image.new("RGB", (4, 4)).save(huge_text, pnginfo=info)
    assert huge_text.stat().st_size < 16_000
    with pytest.raises(FigureSpecError, match="too large to read"):
        read_png_metadata(huge_text)
    listed = tmp_path / "listed.png"
    info = PngImagePlugin.PngInfo()
    info.add_text(PNG_KEY, "[1, 2]", zip=True)
    Image.new("RGB", (4, 4)).save(listed, pnginfo=info)
    for path, reason in ((bomb, "implausibly large"), (huge_text, "too large"), (listed, "not a JSON object")):
        assert main(["strip", "--from", str(path), "-o", str(tmp_path / "o.png")]) == 2
        err = capsys.readouterr().err
        assert str(path) in err and reason in err
    assert not (tmp_path / "o.png").exists()


_KILL_CHILD = """
import os, signal, sys
from pathlib import Path
from PIL import PngImagePlugin
sys.path.insert(0, sys.argv[2])
from memstudio.cli import main

def dying_save(im, fp, filename, *args, **kwargs):
    fp.write(b"\\x89PNG\\r\\n\\x1a\\n")  # the signature, then the process is killed mid-write
    fp.flush()
    os.kill(os.getpid(), signal.SIGKILL)

PngImagePlugin._save = dying_save
PngImagePlugin.Image.SAVE["PNG"] = dying_save
work = Path(sys.argv[1])
main(["strip", "--photo", str(work / "photo.png"), "--direction", str(work / "bright.json"),
      "--assessor", "brightness", "--alpha", "0", "-o", str(work / "fig.png")])
"""


def test_kill_9_while_overwriting_a_figure_keeps_the_old_one(work: Path) -> None:
    assert _strip(work, "fig.png") == 0
    good, side = (work / "fig.png").read_bytes(), sidecar_path(work / "fig.png").read_bytes()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILL_CHILD), str(work), str(REPO / "tests")],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (work / "fig.png").read_bytes() == good
    assert sidecar_path(work / "fig.png").read_bytes() == side
    with Image.open(work / "fig.png") as im:
        im.load()
