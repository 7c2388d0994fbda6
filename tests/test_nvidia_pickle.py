"""The restricted unpickler for NVIDIA network pickles, end to end on tiny pickles written in NVIDIA's layout.

The pickles are written here with the same globals NVIDIA's files use (``_reconstruct_persistent_obj`` metas
with a ``module_src`` string, ``dnnlib.util.EasyDict``, ``_rebuild_parameter``, ``_rebuild_tensor_v2``,
``torch.storage._load_from_bytes`` legacy blobs, numpy scalars and arrays), in protocols 3 and 4, with dict
and OrderedDict module state and both numpy module spellings.
"""

from __future__ import annotations

import os
import pickle
import subprocess
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from memstudio.core.errors import CheckpointError
from memstudio.core.generators.nvidia_pickle import PersistentRecord, load_nvidia_pickle, read_network_pickle
from memstudio.core.generators.stylegan2 import StyleGAN2Generator
from memstudio.core.generators.stylegan3 import StyleGAN3Generator

MODULE_SRC = "# networks.py stand-in: NVIDIA's loader would exec() this text\nimport torch\n"
_HOOKS = (
    "_backward_hooks",
    "_forward_hooks",
    "_forward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)

pytestmark = pytest.mark.usefixtures("single_thread")


def _fake_reconstruct(meta: dict) -> Any:
    raise AssertionError("only its pickled name matters")


class _FakeEasyDict(dict):
    """Pickles as ``dnnlib.util.EasyDict``, the dict NVIDIA stores constructor kwargs in; the loader must map
    that name to its own stand-in without importing dnnlib."""


class _Persistent:
    """Pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``, like NVIDIA's decorator."""

    def __init__(self, meta: dict) -> None:
        self.meta = meta

    def __reduce__(self) -> tuple:
        return (_fake_reconstruct, (self.meta,))


class _Payload:
    """A pickle payload: calls ``func(*args)`` when unpickled by an unrestricted loader."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return (self.func, self.args)


class _NvidiaStylePickler(pickle._Pickler):
    """Writes chosen objects under the global names NVIDIA's files use."""

    def __init__(self, file: Any, protocol: int, spellings: dict[int, tuple[str, str]]) -> None:
        super().__init__(file, protocol)
        self.spellings = spellings

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        # Functions dispatch straight to the base save_global, so intercept them here.
        if id(obj) in self.spellings and id(obj) not in self.memo:
            self.save_global(obj)
            return
        super().save(obj, save_persistent_id)

    def save_global(self, obj: Any, name: str | None = None) -> None:
        spelled = self.spellings.get(id(obj))
        if spelled is None:
            super().save_global(obj, name)
            return
        module, qualname = spelled
        if self.proto >= 4:
            self.save(module)
            self.save(qualname)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode())
        self.memoize(obj)


def _plain_attrs(module: torch.nn.Module) -> dict[str, Any]:
    """Public plain attributes, with floats as numpy float64 and lists of ints as numpy arrays (as in SG3)."""
    out: dict[str, Any] = {}
    for key, value in vars(module).items():
        if key.startswith("_") or key == "training":
            continue
        if isinstance(value, float):
            out[key] = np.float64(value)
        elif isinstance(value, (bool, int, str, np.ndarray, np.generic)) or value is None:
            out[key] = value
        elif isinstance(value, list) and all(isinstance(v, (int, str)) for v in value):
            out[key] = list(value)
    return out


def _record(
    module: torch.nn.Module, init_kwargs: dict, container: type, src: str = MODULE_SRC
) -> _Persistent:
    state: dict[str, Any] = {
        "training": False,
        "_parameters": container(module._parameters.items()),
        "_buffers": container(module._buffers.items()),
        "_non_persistent_buffers_set": set(),
        **{hook: OrderedDict() for hook in _HOOKS},
        "_modules": container((k, _record(m, {}, container, src)) for k, m in module._modules.items()),
        **_plain_attrs(module),
        "_init_args": (),
        "_init_kwargs": _FakeEasyDict(init_kwargs),
    }
    class_name = (
        "Generator" if isinstance(module, (StyleGAN2Generator, StyleGAN3Generator)) else type(module).__name__
    )
    return _Persistent(
        {"type": "class", "version": 6, "module_src": src, "class_name": class_name, "state": state}
    )


def _nvidia_kwargs(cfg: dict) -> _FakeEasyDict:
    return _FakeEasyDict({k: _FakeEasyDict(v) if isinstance(v, dict) else v for k, v in cfg.items()})


def write_network_pickle(
    path: Path, data: dict, protocol: int = 4, numpy_core: bool = False, extra: dict | None = None
) -> Path:
    spellings = {
        id(_fake_reconstruct): ("torch_utils.persistence", "_reconstruct_persistent_obj"),
        id(_FakeEasyDict): ("dnnlib.util", "EasyDict"),
    }
    if numpy_core:  # numpy 1.x wrote numpy.core.multiarray.*
        spellings[id(np.zeros(1).__reduce__()[0])] = ("numpy.core.multiarray", "_reconstruct")
        spellings[id(np.float64(0).__reduce__()[0])] = ("numpy.core.multiarray", "scalar")
    spellings.update(extra or {})
    with open(path, "wb") as f:
        _NvidiaStylePickler(f, protocol, spellings).dump(data)
    return path


def _randomize(g: torch.nn.Module, seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in g.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.2 if p.ndim <= 1 else 1.0))
        g.mapping.w_avg.copy_(torch.randn(g.w_dim, generator=gen) * 0.3)
        for name, b in g.named_buffers():
            if name.endswith("magnitude_ema"):
                b.fill_(0.5 + torch.rand([], generator=gen).item())
    return g.eval()


def tiny_sg2(c_dim: int = 0, flat: bool = False) -> StyleGAN2Generator:
    synthesis = {"channel_base": 256, "channel_max": 32, "num_fp16_res": 4 if flat else 2, "conv_clamp": 256}
    g = StyleGAN2Generator(32, c_dim, 32, 16, 3, {"num_layers": 2}, synthesis)
    return _randomize(g, 1 + c_dim)


def tiny_sg3(radial: bool = False) -> StyleGAN3Generator:
    extra = {"conv_kernel": 1, "use_radial_filters": True} if radial else {}
    g = StyleGAN3Generator(32, 0, 32, 16, 3, {"num_layers": 2}, channel_base=128, channel_max=32, **extra)
    return _randomize(g, 7)


def snapshot(g: torch.nn.Module, init_kwargs: dict, container: type = dict, src: str = MODULE_SRC) -> dict:
    """A training snapshot in stylegan2-ada-pytorch's key order."""
    d = torch.nn.Module()
    d.register_parameter("weight", torch.nn.Parameter(torch.randn(4, 3, 1, 1)))
    return {
        "training_set_kwargs": {
            "class_name": "training.dataset.ImageFolderDataset",
            "resolution": g.resolution,
        },
        "G": _record(g, init_kwargs, container, src),
        "D": _Persistent(
            {
                "type": "class",
                "version": 6,
                "module_src": src,
                "class_name": "Discriminator",
                "state": {"_parameters": dict(d._parameters), "_buffers": {}, "_modules": {}},
            }
        ),
        "G_ema": _record(g, init_kwargs, container, src),
        "augment_pipe": None,
    }


def _images(
    g: torch.nn.Module, seeds=(0, 5), truncation: float = 0.7, class_index: int | None = None
) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([g.render(g.sample(s, truncation, class_index)) for s in seeds])


@pytest.mark.parametrize(
    ("protocol", "container", "numpy_core", "flat"),
    [
        (4, dict, False, False),
        (3, OrderedDict, True, False),
        (4, OrderedDict, True, True),
        (3, dict, False, True),
    ],
)
def test_stylegan2_pickle_round_trip(tmp_path, protocol, container, numpy_core, flat):
    g = tiny_sg2(flat=flat)
    cfg = g.config()
    if flat:  # the stylegan3 repo's networks_stylegan2: flat kwargs, fp16/clamp defaults implied
        init = {
            **{k: v for k, v in cfg.items() if k != "synthesis_kwargs"},
            "channel_base": 256,
            "channel_max": 32,
            "fused_modconv_default": "inference_only",
        }
    else:
        init = cfg
    path = write_network_pickle(
        tmp_path / "g.pkl", snapshot(g, _nvidia_kwargs(init), container), protocol, numpy_core
    )
    loaded = load_nvidia_pickle(path)
    assert isinstance(loaded, StyleGAN2Generator)
    assert loaded.num_ws == g.num_ws == 6
    assert loaded.synthesis.b16.use_fp16 and loaded.synthesis.b4.conv1.conv_clamp == 256
    assert len(loaded.checkpoint_hash) == 64
    for key, value in g.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert torch.equal(_images(loaded), _images(g))


def test_conditional_stylegan2_pickle(tmp_path):
    g = tiny_sg2(c_dim=3)
    path = write_network_pickle(tmp_path / "c.pkl", snapshot(g, _nvidia_kwargs(g.config())), 4)
    loaded = load_nvidia_pickle(path)
    assert loaded.num_classes == 3
    assert torch.equal(_images(loaded, class_index=2), _images(g, class_index=2))
    assert not torch.equal(_images(loaded, class_index=2), _images(loaded, class_index=0))


@pytest.mark.parametrize(
    ("protocol", "container", "numpy_core", "radial"), [(4, dict, False, False), (3, OrderedDict, True, True)]
)
def test_stylegan3_pickle_round_trip(tmp_path, protocol, container, numpy_core, radial):
    g = tiny_sg3(radial)
    path = write_network_pickle(
        tmp_path / "g3.pkl", snapshot(g, _nvidia_kwargs(g.config()), container), protocol, numpy_core
    )
    raw = read_network_pickle(path)
    layer = raw["G_ema"].state["_modules"]["synthesis"].state["_modules"]["L0_36_32"]
    assert isinstance(layer.state["in_size"], np.ndarray)  # numpy arrays came back through the allow-list
    loaded = load_nvidia_pickle(path)
    assert isinstance(loaded, StyleGAN3Generator) and loaded.variant == ("R" if radial else "T")
    assert torch.equal(_images(loaded, seeds=(3,)), _images(g, seeds=(3,)))


def _marker_payloads(marker: Path) -> list[tuple[str, Any]]:
    return [
        ("os.system", _Payload(os.system, f"touch {marker}")),
        ("builtins.eval", _Payload(eval, f"open({str(marker)!r}, 'w')")),
        ("subprocess.call", _Payload(subprocess.call, ["touch", str(marker)])),
    ]


@pytest.mark.parametrize("protocol", [3, 4])
def test_code_execution_payloads_are_refused(tmp_path, protocol):
    marker = tmp_path / "pwned"
    for label, payload in _marker_payloads(marker):
        path = tmp_path / f"evil-{protocol}.pkl"
        with open(path, "wb") as f:
            pickle.dump({"G_ema": payload}, f, protocol=protocol)
        with pytest.raises(CheckpointError) as err:
            load_nvidia_pickle(path)
        assert str(path) in str(err.value) and "refused" in str(err.value)
        assert label.split(".")[-1] in str(err.value)
        assert not marker.exists(), label
    # os.system is written as posix.system on Linux; a file may spell it either way.
    path = write_network_pickle(
        tmp_path / "os.pkl",
        {"G_ema": _Payload(os.system, f"touch {marker}")},
        protocol,
        extra={id(os.system): ("os", "system")},
    )
    with pytest.raises(CheckpointError, match=r"os\.system"):
        load_nvidia_pickle(path)
    assert not marker.exists()


def test_payload_hidden_in_nested_state_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    g = tiny_sg2()
    data = snapshot(g, _nvidia_kwargs(g.config()))
    layer = data["G_ema"].meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b8"]
    layer.meta["state"]["_modules"]["conv0"].meta["state"]["act_gain"] = _Payload(
        eval, f"open({str(marker)!r}, 'w')"
    )
    path = write_network_pickle(tmp_path / "nested.pkl", data)
    with pytest.raises(CheckpointError, match=r"builtins\.eval"):
        load_nvidia_pickle(path)
    assert not marker.exists()


def test_hostile_module_src_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    hostile = f"import os\nos.system('touch {marker}')\nclass Generator: pass\n"
    g = tiny_sg2()
    # A well-formed network whose source text is hostile loads as inert data; the text is never run.
    path = write_network_pickle(tmp_path / "src.pkl", snapshot(g, _nvidia_kwargs(g.config()), src=hostile))
    loaded = load_nvidia_pickle(path)
    assert not marker.exists()
    assert read_network_pickle(path)["G_ema"].module_src == hostile
    assert torch.equal(_images(loaded, seeds=(1,)), _images(g, seeds=(1,)))
    # The same source behind a class no StyleGAN generator contains is refused outright.
    data = snapshot(g, _nvidia_kwargs(g.config()), src=hostile)
    synthesis = data["G_ema"].meta["state"]["_modules"]["synthesis"]
    synthesis.meta["state"]["_modules"]["backdoor"] = _Persistent(
        {
            "type": "class",
            "version": 6,
            "module_src": hostile,
            "class_name": "Backdoor",
            "state": {"_parameters": {}, "_buffers": {}, "_modules": {}},
        }
    )
    path = write_network_pickle(tmp_path / "backdoor.pkl", data)
    with pytest.raises(CheckpointError, match="unknown pickle class 'Backdoor' at synthesis.backdoor"):
        load_nvidia_pickle(path)
    assert not marker.exists()


def test_truncated_and_empty_files(tmp_path):
    g = tiny_sg2()
    path = write_network_pickle(tmp_path / "full.pkl", snapshot(g, _nvidia_kwargs(g.config())))
    blob = path.read_bytes()
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pkl: not a readable network pickle \(truncated"):
        load_nvidia_pickle(cut)
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_nvidia_pickle(empty)
    with pytest.raises(CheckpointError, match="no such file"):
        load_nvidia_pickle(tmp_path / "absent.pkl")


def test_wrong_architecture_errors(tmp_path):
    g = tiny_sg2()
    full = snapshot(g, _nvidia_kwargs(g.config()))
    d_only = write_network_pickle(tmp_path / "d.pkl", {"D": full["D"]})
    with pytest.raises(CheckpointError, match=r"d\.pkl: the pickle has no G_ema generator.*Discriminator"):
        load_nvidia_pickle(d_only)

    swapped = write_network_pickle(tmp_path / "swap.pkl", {**full, "G_ema": full["D"]})
    with pytest.raises(CheckpointError, match="G_ema is a 'Discriminator', not a Generator"):
        load_nvidia_pickle(swapped)

    missing = snapshot(g, _nvidia_kwargs(g.config()))
    b8 = missing["G_ema"].meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b8"]
    del b8.meta["state"]["_modules"]["conv1"].meta["state"]["_parameters"]["weight"]
    with pytest.raises(CheckpointError, match=r"1 missing \(e\.g\. synthesis\.b8\.conv1\.weight\)"):
        load_nvidia_pickle(write_network_pickle(tmp_path / "missing.pkl", missing))

    extra = snapshot(g, _nvidia_kwargs(g.config()))
    extra["G_ema"].meta["state"]["_parameters"]["surplus"] = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(CheckpointError, match=r"1 unexpected \(e\.g\. surplus\)"):
        load_nvidia_pickle(write_network_pickle(tmp_path / "extra.pkl", extra))

    wrong = snapshot(g, _nvidia_kwargs({**g.config(), "w_dim": 16}))
    with pytest.raises(CheckpointError, match=r"tensor .* has shape"):
        load_nvidia_pickle(write_network_pickle(tmp_path / "shape.pkl", wrong))


def test_records_are_plain_data(tmp_path):
    g = tiny_sg3()
    path = write_network_pickle(tmp_path / "g3.pkl", snapshot(g, _nvidia_kwargs(g.config())))
    data = read_network_pickle(path)
    assert list(data) == ["training_set_kwargs", "G", "D", "G_ema", "augment_pipe"]
    assert isinstance(data["G_ema"], PersistentRecord) and data["G_ema"].module_src == MODULE_SRC
    assert data["G_ema"].init_kwargs["mapping_kwargs"].num_layers == 2  # EasyDict attribute access
