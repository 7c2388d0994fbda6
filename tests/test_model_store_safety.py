"""The model store never loses a model and never builds what a hand-edited config.json claims.

Each test reproduces a way the store lost or mis-sized a model before (``replace`` deleted the old folder
before the new one was in place; a config ``channel_width`` of 6000 was built before the weights were
checked; ``'nl\\n'`` passed the ``$``-anchored name check).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from bounded import REPO, run_bounded
from test_biggan import tiny_biggan_folder

from memstudio.core.checkpoints import models_dir, sha256_file
from memstudio.core.errors import CheckpointError
from memstudio.core.generators import store
from memstudio.core.generators.importing import import_model
from memstudio.core.generators.store import ModelStoreError, list_models, load_model, validate_name


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(cache))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield cache
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("src")
    return tiny_biggan_folder(root / "old", seed=21), tiny_biggan_folder(root / "new", seed=22)


@pytest.mark.parametrize("name", ["nl\n", "ok\n", "a\nb", "x\r"])
def test_names_with_a_trailing_newline_are_refused(name: str) -> None:
    with pytest.raises(ModelStoreError, match="invalid model name"):
        validate_name(name)
    assert not [p for p in models_dir().iterdir() if "\n" in p.name or "\r" in p.name]


def test_stored_files_have_normal_permissions(folders: tuple[Path, Path]) -> None:
    stored = import_model(folders[0], name="perm")
    umask = os.umask(0o022)
    os.umask(umask)
    for name in (store.WEIGHTS_FILE, store.CONFIG_FILE):
        assert (stored.path / name).stat().st_mode & 0o777 == 0o666 & ~umask
    assert stored.path.stat().st_mode & 0o777 == 0o777 & ~umask


def test_replace_that_fails_midway_keeps_the_old_model(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = folders
    import_model(old, name="m")
    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def failing_replace(src: str, dst: str) -> None:
        calls.append((str(src), str(dst)))
        # The fourth rename is the new folder taking the model's name (after the two files and the aside).
        if len(calls) == 4:
            raise OSError("disk pulled out")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk pulled out"):
        import_model(new, name="m", replace=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert calls[2][0].endswith("/m") and ".m.old." in calls[2][1]
    assert load_model("m").checkpoint_hash == sha256_file(old / "pytorch_model.bin")
    assert [p.name for p in models_dir().iterdir()] == ["m"]


_KILL_CHILD = """
import os, signal, sys
from pathlib import Path
from memstudio.core.generators.importing import import_model

kill_at, new = int(sys.argv[1]), Path(sys.argv[2])
real_replace, real_rmtree = os.replace, __import__("shutil").rmtree
count = [0]

def replace(src, dst):
    count[0] += 1
    if count[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

def rmtree(path, *args, **kwargs):
    if kill_at == 0 and ".old." in str(path):
        os.kill(os.getpid(), signal.SIGKILL)
    real_rmtree(path, *args, **kwargs)

os.replace = replace
__import__("shutil").rmtree = rmtree
import_model(new, name="m", replace=True)
"""


# 1, 2: while the new weights / config are written; 3: before the old folder moves aside;
# 4: after it moved aside, before the new one is in place; 0: after the swap, before the old copy is deleted.
@pytest.mark.parametrize("kill_at", [1, 4, 0])
def test_kill_9_while_replacing_a_model_never_loses_it(
    kill_at: int, folders: tuple[Path, Path], private_cache: Path
) -> None:
    old, new = folders
    import_model(old, name="m")
    env = {**os.environ, "PYTHONPATH": str(REPO), "MEMSTUDIO_CACHE_DIR": str(private_cache), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILL_CHILD), str(kill_at), str(new)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    expected = {sha256_file(old / "pytorch_model.bin")} if kill_at else {sha256_file(new / "pytorch_model.bin")}
    assert [m.name for m in list_models()] == ["m"]
    loaded = load_model("m")
    assert loaded.checkpoint_hash in expected
    assert not [p for p in models_dir().iterdir() if ".old." in p.name]


def test_config_wider_than_its_weights_is_refused_before_building(
    folders: tuple[Path, Path], private_cache: Path
) -> None:
    stored = import_model(folders[0], name="wide")
    config = stored.path / store.CONFIG_FILE
    record = json.loads(config.read_text())
    record["config"]["channel_width"] = 6000
    config.write_text(json.dumps(record))
    result = run_bounded(
        "load_model('wide')",
        imports=f"""
        import os
        os.environ["MEMSTUDIO_CACHE_DIR"] = {str(private_cache)!r}
        from memstudio.core.generators.store import load_model
        import memstudio.core.generators.biggan, safetensors.torch
        """,
        budget_mb=400,
    )
    assert result["error"] == "CheckpointError" and result["memstudio"], result
    assert "does not match" in result["message"] and str(stored.path) in result["message"]
    assert result["seconds"] < 10


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("output_dim", 1 << 20, "beyond any real generator"),
        ("layers", [[False, 16, 16]] * 1000, "entries"),
        ("z_dim", "sixteen", "does not build"),
    ],
)
def test_config_limits(key: str, value: object, message: str, folders: tuple[Path, Path]) -> None:
    stored = import_model(folders[0], name="lim")
    config = stored.path / store.CONFIG_FILE
    record = json.loads(config.read_text())
    record["config"][key] = value
    config.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=message):
        load_model("lim")


def test_oversized_config_json_is_not_read(folders: tuple[Path, Path]) -> None:
    stored = import_model(folders[0], name="big")
    config = stored.path / store.CONFIG_FILE
    config.write_text(" " * (store.MAX_CONFIG_BYTES + 1) + config.read_text())
    with pytest.raises(CheckpointError, match="too large"):
        store._read_record(stored.path)
    assert list_models() == []
