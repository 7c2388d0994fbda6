"""Latent (.npz) and map (.npy) files from elsewhere: what their headers and zip entries claim is checked
against the file and a limit before anything is allocated, and unknown archive members are never opened.

Each hostile file is opened in a child process capped at 150 MB of address space beyond its imports: the
readers of b9800b5 (``np.load`` + ``data[k]`` for every member) die there with a MemoryError.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from bounded import run_bounded

from memstudio.core.faces import latent_file
from memstudio.core.faces.latent_file import LatentFileError, load_latent, save_latent
from memstudio.core.generators.base import Latent
from memstudio.core.maps.io import load_map, save_map


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    good = save_latent(root / "good.npz", Latent("w+", torch.arange(12.0).reshape(1, 3, 4), label="good"))
    files = {"good": good}
    # A real latent plus an extra member that inflates to 256 MB (1 MB on disk).
    extra = root / "extra.npz"
    extra.write_bytes(good.read_bytes())
    with zipfile.ZipFile(extra, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("extra.npy", "w") as member:
            member.write(_npy_header((64 << 20,)))
            zeros = bytes(16 << 20)
            for _ in range(16):
                member.write(zeros)
    files["extra"] = extra
    # 'values' whose header claims 10^10 floats, in an archive of a few hundred bytes.
    claims = root / "claims.npz"
    with zipfile.ZipFile(claims, "w") as archive:
        archive.writestr("values.npy", _npy_header((100_000, 100_000)) + bytes(16))
        archive.writestr("space.npy", (lambda b: (np.save(b, np.array("w+")), b.getvalue())[1])(io.BytesIO()))
    files["claims"] = claims
    huge_map = root / "map.npy"
    huge_map.write_bytes(_npy_header((100_000, 100_000), "<f8") + bytes(64))
    files["map"] = huge_map
    return files


def test_hostile_latent_and_map_files_stay_within_memory(hostile: dict[str, Path]) -> None:
    result = run_bounded(
        f"""
        files = {{k: Path(v) for k, v in {({k: str(v) for k, v in hostile.items()})!r}.items()}}
        extra = load_latent(files["extra"])  # the extra member is never opened
        results = {{
            "extra_values": extra.values.tolist(),
            "claims": outcome(lambda: load_latent(files["claims"])),
            "map": outcome(lambda: load_map(files["map"])),
        }}
        """,
        imports="""
        from pathlib import Path
        from memstudio.core.faces.latent_file import load_latent
        from memstudio.core.maps.io import load_map
        """,
        budget_mb=150,
    )
    assert result["error"] is None, result
    results = result["results"]
    assert results["extra_values"] == torch.arange(12.0).reshape(1, 3, 4).tolist()
    for key, name in (("claims", "LatentFileError"), ("map", "ImageLoadError")):
        assert results[key]["error"] == name and results[key]["memstudio"], results[key]
        assert "header claims" in results[key]["message"] and str(hostile[key]) in results[key]["message"]
    assert result["seconds"] < 10


def test_known_members_over_the_limit_are_refused_before_decompressing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_latent(tmp_path / "big.npz", Latent("w+", torch.zeros(1, 18, 64)))
    monkeypatch.setattr(latent_file, "MAX_MEMBER_BYTES", 2048)
    with pytest.raises(LatentFileError, match=r"member 'values'.*over the 2048-byte limit"):
        load_latent(path)


@pytest.mark.parametrize(
    "members, message",
    [
        ({"values.npy": b"not an array"}, "not a readable .npy"),
        ({"values.npy": _npy_header((4,), "|O")}, "only plain numeric or string arrays"),
        ({"values.npy": _npy_header((4,)) + bytes(8)}, "header claims 16 bytes"),
        ({"values.npy": _npy_header((2,), "<U4") + "abcdefgh".encode("utf-32-le")}, "not numbers"),
    ],
)
def test_malformed_latent_members(members: dict[str, bytes], message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("space.npy", (lambda b: (np.save(b, np.array("w")), b.getvalue())[1])(io.BytesIO()))
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(LatentFileError, match=message) as info:
        load_latent(path)
    assert str(path) in str(info.value)


def test_latent_and_map_round_trips_and_atomic_names(tmp_path: Path) -> None:
    latent = Latent("w+", torch.randn(1, 4, 8), seed=3, label="x", extras={"noise": {"n0": torch.ones(1, 1, 4, 4)}})
    path = save_latent(tmp_path / "lat", latent)
    assert path.name == "lat.npz" and sorted(p.name for p in tmp_path.iterdir()) == ["lat.npz"]
    back = load_latent(path)
    assert torch.equal(back.values, latent.values) and back.seed == 3
    assert torch.equal(back.extras["noise"]["n0"], torch.ones(1, 1, 4, 4))
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    save_map(values, tmp_path / "m.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lat.npz", "m.npy"]
    assert np.array_equal(load_map(tmp_path / "m.npy"), values)
