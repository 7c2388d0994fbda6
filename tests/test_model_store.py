"""The model store (import → list → load by name → remove) and opening checkpoints by content."""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
from pathlib import Path

import pytest
import torch
from test_biggan import TINY, tiny_biggan_folder

from memstudio.core.checkpoints import models_dir, sha256_file
from memstudio.core.errors import CheckpointError, MemstudioError, ModelUnavailableError
from memstudio.core.generators import store
from memstudio.core.generators.base import Generator
from memstudio.core.generators.biggan import BigGAN, load_biggan_folder
from memstudio.core.generators.importing import import_model
from memstudio.core.generators.opening import identify_checkpoint, open_generator
from memstudio.core.generators.store import (
    ModelStoreError,
    family_class,
    list_models,
    load_model,
    remove_model,
    validate_name,
)

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="module")
def biggan_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_biggan_folder(tmp_path_factory.mktemp("src") / "biggan-tiny", seed=11)


def _render(
    generator: Generator, seed: int = 3, truncation: float = 0.4, class_index: int | None = 207
) -> torch.Tensor:
    with torch.no_grad():
        return generator.render(generator.sample(seed, truncation, class_index))


def test_biggan_import_round_trip_gives_identical_images(biggan_folder: Path, private_cache: Path) -> None:
    stored = import_model(biggan_folder)
    assert stored.name == "biggan-tiny" and stored.family == "biggan"
    assert stored.resolution == 32 and stored.num_ws == 0 and stored.summary["num_classes"] == 1000
    assert stored.source_sha256 == sha256_file(biggan_folder / "pytorch_model.bin")
    assert stored.path == private_cache / "models" / "biggan-tiny"
    record = json.loads((stored.path / "config.json").read_text())
    assert record["format_version"] == store.FORMAT_VERSION and record["config"] == TINY
    assert {"source_file", "imported_at", "memstudio_version"} <= set(record)
    assert [m.name for m in list_models()] == ["biggan-tiny"]

    loaded = load_model("biggan-tiny")
    source = load_biggan_folder(biggan_folder)
    assert isinstance(loaded, BigGAN) and loaded.name == "biggan-tiny"
    assert loaded.checkpoint_hash == stored.source_sha256
    assert torch.equal(_render(loaded), _render(source))
    assert torch.equal(_render(load_model(stored.path)), _render(source))


def test_reimport_same_file_is_fine_other_file_needs_replace(biggan_folder: Path, tmp_path: Path) -> None:
    import_model(biggan_folder, name="m")
    import_model(biggan_folder, name="m")  # same file: refreshed
    other = tiny_biggan_folder(tmp_path / "other", seed=12)
    with pytest.raises(ModelStoreError, match="already exists"):
        import_model(other, name="m")
    stored = import_model(other, name="m", replace=True)
    assert stored.source_sha256 == sha256_file(other / "pytorch_model.bin")
    assert torch.equal(_render(load_model("m")), _render(load_biggan_folder(other)))


def test_importing_the_bin_file_names_the_model_after_its_folder(biggan_folder: Path) -> None:
    assert import_model(biggan_folder / "pytorch_model.bin").name == "biggan-tiny"
    assert load_model("biggan-tiny").describe()["family"] == "biggan"


@pytest.mark.parametrize("name", ["", "../evil", "a/b", "a\\b", ".hidden", "..", "x" * 101, "sp ace"])
def test_names_are_single_folder_names(name: str, biggan_folder: Path) -> None:
    with pytest.raises(ModelStoreError, match="invalid model name"):
        validate_name(name)
    with pytest.raises(ModelStoreError):
        import_model(biggan_folder, name=name)
    assert not any(models_dir().parent.rglob("evil"))


def test_remove_and_unknown_names(biggan_folder: Path) -> None:
    import_model(biggan_folder, name="gone")
    remove_model("gone")
    assert list_models() == []
    with pytest.raises(ModelStoreError, match="no stored model"):
        remove_model("gone")
    with pytest.raises(ModelUnavailableError, match="import-model"):
        load_model("gone")


def test_corrupted_store_entries_are_checkpoint_errors(biggan_folder: Path) -> None:
    stored = import_model(biggan_folder, name="bad")
    weights = stored.path / store.WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="weights.safetensors"):
        load_model("bad")
    record = json.loads((stored.path / store.CONFIG_FILE).read_text())
    (stored.path / store.CONFIG_FILE).write_text(json.dumps({**record, "format_version": 99}))
    with pytest.raises(CheckpointError, match="newer"):
        load_model("bad")
    assert list_models() == []  # unreadable entries are left out of the listing, not fatal


def test_store_weights_that_do_not_fit_the_config(biggan_folder: Path) -> None:
    stored = import_model(biggan_folder, name="mismatch")
    record = json.loads((stored.path / store.CONFIG_FILE).read_text())
    record["config"] = {**record["config"], "channel_width": 8}
    (stored.path / store.CONFIG_FILE).write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="does not match"):
        load_model("mismatch")


def test_family_registry() -> None:
    assert family_class("biggan") is BigGAN
    with pytest.raises(ModelUnavailableError, match="unknown generator family"):
        family_class("pggan")


# --- opening by content ---
def test_open_generator_accepts_every_form(biggan_folder: Path) -> None:
    reference = _render(load_biggan_folder(biggan_folder))
    stored = import_model(biggan_folder, name="named")
    for how in (
        "named",
        stored.path,
        stored.path / "weights.safetensors",
        biggan_folder,
        biggan_folder / "pytorch_model.bin",
    ):
        generator = open_generator(how)
        assert torch.equal(_render(generator), reference), how
        assert generator.checkpoint_hash == stored.source_sha256


def test_kind_is_detected_from_content_not_suffix(tmp_path: Path) -> None:
    nvidia_like = tmp_path / "snapshot.bin"
    nvidia_like.write_bytes(pickle.dumps({"G_ema": None}, protocol=4))
    assert identify_checkpoint(nvidia_like).kind == "nvidia-pickle"
    protocol3 = tmp_path / "old.weird"
    protocol3.write_bytes(pickle.dumps({"G_ema": None}, protocol=3))
    assert identify_checkpoint(protocol3).kind == "nvidia-pickle"
    zipped = tmp_path / "550000.pkl"
    torch.save({"g_ema": {}}, zipped)
    assert identify_checkpoint(zipped).kind == "rosinality"
    legacy = tmp_path / "legacy.pt"
    buffer = io.BytesIO()
    torch.save({"g_ema": {}}, buffer, _use_new_zipfile_serialization=False)
    legacy.write_bytes(buffer.getvalue())
    assert identify_checkpoint(legacy).kind == "rosinality"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"hello, not a model", "not a generator checkpoint"),
        (b"\x89PNG\r\n\x1a\n" * 4, "not a generator"),
    ],
)
def test_other_files_are_refused_by_name(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "thing.pkl"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as info:
        open_generator(path)
    assert str(path) in str(info.value)


def test_other_folders_and_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="not a generator checkpoint"):
        open_generator(tmp_path / "photos")
    with pytest.raises(CheckpointError, match="no such file"):
        open_generator(tmp_path / "nothing" / "here.pkl")
    with pytest.raises(ModelUnavailableError, match="no stored model"):
        open_generator("never-imported")


# --- StyleGAN families (when their modules are present) ---
def _random_stylegan(family: str) -> Generator:
    if importlib.util.find_spec(f"memstudio.core.generators.{family}") is None:
        pytest.skip(f"memstudio.core.generators.{family} is not available yet")
    cls = family_class(family)
    if family == "stylegan2":
        generator = cls(
            z_dim=32,
            c_dim=4,
            w_dim=32,
            img_resolution=16,
            mapping_kwargs={"num_layers": 2},
            synthesis_kwargs={"channel_base": 256, "channel_max": 32},
        )
    else:
        generator = cls(z_dim=32, c_dim=0, w_dim=32, img_resolution=16, channel_base=256, channel_max=32)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for tensor in list(generator.parameters()) + list(generator.buffers()):
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=gen) * 0.2)
    return generator.eval()


@pytest.mark.parametrize("family", ["stylegan2", "stylegan3"])
def test_stylegan_store_round_trip(family: str, tmp_path: Path) -> None:
    generator = _random_stylegan(family)
    source = tmp_path / "source.pkl"
    source.write_bytes(b"stands for the imported file; only its hash is recorded")
    stored = store.save_model(generator, f"tiny-{family}", source, sha256_file(source))
    assert stored.family == family and stored.num_ws == generator.num_ws and stored.resolution == 16
    loaded = load_model(f"tiny-{family}")
    assert type(loaded) is type(generator) and loaded.config() == generator.config()
    class_index = 1 if generator.num_classes else None
    assert torch.equal(_render(loaded, 3, 0.7, class_index), _render(generator, 3, 0.7, class_index))


class _RunsCode:
    """Pickles as a call to os.system: what a hostile checkpoint would contain."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = tmp_path / "network-snapshot.pkl"
    hostile.write_bytes(pickle.dumps({"G_ema": _RunsCode(marker)}, protocol=4))
    with pytest.raises(MemstudioError):
        open_generator(hostile)
    with pytest.raises(MemstudioError):
        import_model(hostile)
    assert not marker.exists()
    assert list_models() == []


# --- NVIDIA network pickles, written in the official on-disk structure ---
def _easydict_class() -> type:
    easydict = type("EasyDict", (dict,), {})
    easydict.__module__ = "dnnlib.util"
    return easydict


def _reconstruct_persistent_obj(meta: dict) -> None:
    raise AssertionError("the test's stand-in for NVIDIA's loader must never be called")


class _Persistent:
    """Pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``, like NVIDIA's decorator."""

    def __init__(self, class_name: str, state: dict) -> None:
        self.meta = {
            "type": "class",
            "version": 6,
            "module_src": "# network source text, never executed\n",
            "class_name": class_name,
            "state": state,
        }

    def __reduce__(self) -> tuple[object, tuple[dict]]:
        return (_reconstruct_persistent_obj, (self.meta,))


def _as_persistent(module: torch.nn.Module, class_name: str, init_kwargs: dict) -> _Persistent:
    from collections import OrderedDict

    state = {
        "training": False,
        "_parameters": OrderedDict(module._parameters),
        "_buffers": OrderedDict(module._buffers),
        "_non_persistent_buffers_set": set(),
        "_forward_hooks": OrderedDict(),
        "_forward_pre_hooks": OrderedDict(),
        "_modules": OrderedDict(
            (name, _as_persistent(child, type(child).__name__, {})) for name, child in module._modules.items()
        ),
        "_init_args": (),
        "_init_kwargs": init_kwargs,
    }
    return _Persistent(class_name, state)


def write_nvidia_pickle(
    generator: Generator, path: Path, monkeypatch: pytest.MonkeyPatch, protocol: int = 4
) -> Path:
    """``training_loop.py``'s snapshot dict with ``generator`` as G and G_ema, pickled like NVIDIA's code."""
    import sys
    import types

    easydict = _easydict_class()
    persistence = types.ModuleType("torch_utils.persistence")
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    util.EasyDict = easydict
    with monkeypatch.context() as patch:
        fakes = {
            "torch_utils": types.ModuleType("torch_utils"),
            "torch_utils.persistence": persistence,
            "dnnlib": types.ModuleType("dnnlib"),
            "dnnlib.util": util,
        }
        for name, module in fakes.items():
            patch.setitem(sys.modules, name, module)
        init_kwargs = easydict(
            {k: easydict(v) if isinstance(v, dict) else v for k, v in generator.config().items()}
        )
        record = _as_persistent(generator, "Generator", init_kwargs)
        snapshot = {
            "training_set_kwargs": {"resolution": generator.resolution},
            "G": record,
            "D": None,
            "G_ema": record,
            "augment_pipe": None,
        }
        path.write_bytes(pickle.dumps(snapshot, protocol=protocol))
    return path


@pytest.mark.parametrize("family, protocol", [("stylegan2", 4), ("stylegan2", 3), ("stylegan3", 4)])
def test_nvidia_pickle_import_round_trip(
    family: str, protocol: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("memstudio.core.generators.nvidia_pickle") is None:
        pytest.skip("memstudio.core.generators.nvidia_pickle is not available yet")
    generator = _random_stylegan(family)
    pkl = write_nvidia_pickle(generator, tmp_path / f"network-snapshot-{family}.pkl", monkeypatch, protocol)
    assert identify_checkpoint(pkl).kind == "nvidia-pickle"
    stored = import_model(pkl)
    assert stored.name == f"network-snapshot-{family}" and stored.family == family
    assert stored.num_ws == generator.num_ws and stored.source_sha256 == sha256_file(pkl)
    class_index = 1 if generator.num_classes else None
    reference = _render(generator, 3, 0.7, class_index)
    for loaded in (load_model(stored.name), open_generator(pkl)):
        assert loaded.checkpoint_hash == stored.source_sha256
        assert torch.equal(_render(loaded, 3, 0.7, class_index), reference)
