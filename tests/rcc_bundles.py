"""Qt binary resource bundles written by Qt's own rcc (PySide6's pyside6-rcc), as GCompris ships its photos."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

RCC = shutil.which("pyside6-rcc", path=str(Path(sys.executable).parent)) or shutil.which("pyside6-rcc")


def write_bundle(folder: Path, files: dict[str, bytes], *options: str, prefix: str = "/gcompris/src") -> Path:
    """``folder/bundle.rcc`` holding ``files`` (relative path → bytes) under ``prefix``; ``options`` go to rcc."""
    source = folder / "bundle-source"
    entries = []
    for relative, data in files.items():
        path = source / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append(f"<file>{relative}</file>")
    qrc = source / "bundle.qrc"
    qrc.write_text(f'<RCC><qresource prefix="{prefix}">{"".join(entries)}</qresource></RCC>', encoding="utf-8")
    out = folder / "bundle.rcc"
    assert RCC, "pyside6-rcc (part of PySide6) is needed to write test bundles"
    subprocess.run([RCC, "--binary", "--threshold", "0", *options, str(qrc), "-o", str(out)], check=True)
    return out
