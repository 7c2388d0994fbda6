"""The PyInstaller spec without a build: it parses, bundles every data file of the repo, leaves out what the
studio never uses, and a frozen studio finds ResMem's bundled weights (the full build is `make bundle-test`)."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from memstudio.core import bundled
from memstudio.core.errors import ModelUnavailableError
from memstudio.devtools import bundle_plan

ROOT = Path(__file__).resolve().parents[1]


def test_spec_parses_and_takes_its_lists_from_the_plan():
    tree = ast.parse((ROOT / "memstudio.spec").read_text())
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert {"repo_datas", "licence_datas", "dlib_datas", "prepare_resmem", "torchvision_ops", "EXCLUDES",
            "HIDDEN_IMPORTS", "MODULE_COLLECTION_MODE"} <= names
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls  # a one-folder build (COLLECT), not one-file


def test_every_data_file_of_the_repo_is_bundled():
    sources = {Path(src).resolve(): dest for src, dest in bundle_plan.repo_datas(ROOT)}
    expected = [p for top in ("assets", "resources") for p in (ROOT / top).rglob("*") if p.is_file()]
    expected = [p for p in expected if "bundle" not in p.relative_to(ROOT).parts[1:2]]
    assert expected and all(p.resolve() in sources for p in expected), "a data file is missing from the bundle"
    assert sources[(ROOT / "assets" / "photos" / "astronaut.png").resolve()] == "assets/photos"
    assert sources[(ROOT / "resources" / "styles" / "studio.qss").resolve()] == "resources/styles"
    assert sources[(ROOT / "LICENSE").resolve()] == "LICENSES/memstudio"
    json_data = [p for p in sources if p.suffix == ".json" and "generators" in p.parts]
    assert json_data, "package data (e.g. ImageNet class names) must be bundled too"
    assert not any(p.name == "launcher.py" for p in sources)


def test_modules_imported_by_name_are_named():
    import importlib

    for name in bundle_plan.HIDDEN_IMPORTS:
        importlib.import_module(name)  # each one exists; a misspelt hidden import would only fail in the bundle
    assert "matplotlib.backends.backend_pdf" in bundle_plan.HIDDEN_IMPORTS


def test_unused_modules_are_excluded():
    for name in ("tkinter", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore", "PySide6.QtMultimedia",
                 "torch.utils.benchmark", "resmem"):
        assert name in bundle_plan.EXCLUDES
    kept = ("torch", "torch.testing._internal", "torchvision", "PySide6.QtWidgets", "PySide6.QtGui", "PySide6.QtSvg",
            "facenet_pytorch")
    assert not any(name in bundle_plan.EXCLUDES for name in kept)


def test_facenet_keeps_its_source_folder_on_disk():
    import facenet_pytorch.models.mtcnn as mtcnn

    # facenet-pytorch finds its weights through its models/ folder ("models/../data/pnet.pt").
    source = Path(mtcnn.__file__).read_text()
    assert "os.path.dirname(__file__), '../data/pnet.pt'" in source
    assert bundle_plan.MODULE_COLLECTION_MODE["facenet_pytorch"] == "pyz+py"


def test_torchvision_ops_library_is_bundled_beside_the_package():
    ops = bundle_plan.torchvision_ops()
    names = {Path(src).name for src, dest in ops if dest == "torchvision"}
    assert any(name.startswith("_C") for name in names), names  # nms, which MTCNN needs
    assert all(Path(src).is_file() for src, _ in ops)


def test_face_models_and_licences_are_found():
    dlib = bundle_plan.dlib_datas()
    assert [Path(src).name for src, _ in dlib] == bundle_plan.DLIB_MODELS
    assert all(Path(src).is_file() and dest == "face_recognition_models/models" for src, dest in dlib)
    folders = {dest for _, dest in bundle_plan.licence_datas()}
    for name in ("torch", "PySide6-Essentials", "facenet-pytorch", "numpy"):
        assert f"LICENSES/{name}" in folders, name


def _freeze(monkeypatch, root: Path) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(root), raising=False)


def test_a_frozen_studio_uses_the_bundled_resmem(monkeypatch, tmp_path):
    assert bundled.bundled_resmem() is None  # a checkout is not frozen
    _freeze(monkeypatch, tmp_path)
    assert bundled.bundled_resmem() is None  # frozen, but these weights were not bundled
    (tmp_path / "weights").mkdir()
    (tmp_path / bundled.RESMEM_WEIGHTS).write_bytes(b"x")
    (tmp_path / bundled.RESMEM_RECORD).write_text(json.dumps({"sha256": "ab" * 32}))
    assert bundled.bundled_resmem() == (tmp_path / bundled.RESMEM_WEIGHTS, "ab" * 32)

    from memstudio.core.assessors.registry import ASSESSORS

    monkeypatch.setattr("memstudio.core.assessors.resmem.importlib.util.find_spec", lambda name: None)
    assert ASSESSORS["resmem"].available() == (True, "ready")  # no resmem package needed in a bundle
    assert ASSESSORS["resmem"].location() == str(tmp_path / bundled.RESMEM_WEIGHTS)


@pytest.mark.parametrize("record", ["{not json", json.dumps({"sha256": "short"}), json.dumps([1])])
def test_a_damaged_bundle_record_is_a_clear_error(monkeypatch, tmp_path, record):
    _freeze(monkeypatch, tmp_path)
    (tmp_path / "weights").mkdir()
    (tmp_path / bundled.RESMEM_WEIGHTS).write_bytes(b"x")
    (tmp_path / bundled.RESMEM_RECORD).write_text(record)
    with pytest.raises(ModelUnavailableError, match="resmem.json"):
        bundled.bundled_resmem()
