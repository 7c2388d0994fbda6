"""What the PyInstaller bundle (``memstudio.spec``) carries and leaves out, as plain data the fast tests check.

The spec itself only wires these lists into PyInstaller; keeping them here lets ``tests/test_bundle_spec.py``
prove, without a multi-minute build, that every data file of the repository is bundled and that the modules the
studio never uses are excluded.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import json
import re
import shutil
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: building the bundle needs 3.11 (tomllib)
    tomllib = None

ROOT = Path(__file__).resolve().parents[2]

#: Modules the studio never imports: Qt modules of other kinds of app, Tk, torch's benchmark helpers (not its
#: testing._internal, which torch.utils.checkpoint imports at start-up),
#: the compiler stack torch.compile would use (the studio does not compile), and the development tools.
EXCLUDES = [
    "tkinter",
    "_tkinter",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick",
    "PySide6.QtWebChannel",
    "PySide6.QtWebSockets",
    "PySide6.Qt3DCore",
    "PySide6.Qt3DRender",
    "PySide6.Qt3DInput",
    "PySide6.Qt3DLogic",
    "PySide6.Qt3DAnimation",
    "PySide6.Qt3DExtras",
    "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets",
    "PySide6.QtQuick",
    "PySide6.QtQuick3D",
    "PySide6.QtQuickWidgets",
    "PySide6.QtQml",
    "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    "PySide6.QtBluetooth",
    "PySide6.QtNfc",
    "PySide6.QtPositioning",
    "PySide6.QtLocation",
    "PySide6.QtSensors",
    "PySide6.QtSerialPort",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "torch.utils.benchmark",
    "triton",
    "resmem",  # its 528 MB pickle is bundled once, as memstudio's safetensors copy
    "pytest",
    "selenium",
    "IPython",
    "PyInstaller",
    "importlinter",
    "grimp",
    "memstudio.devtools",
]

#: Modules imported by name at run time, which PyInstaller's analysis cannot see: matplotlib picks its PDF and
#: SVG canvases from the output's suffix when a figure is saved.
HIDDEN_IMPORTS = [
    "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_pdf",
    "matplotlib.backends.backend_svg",
]

#: Packages that find their data relative to their own source folder: facenet-pytorch opens
#: ``models/../data/pnet.pt``, so ``models/`` must exist on disk beside ``data/`` (PyInstaller keeps modules in
#: its archive by default, which leaves no such folder).
MODULE_COLLECTION_MODE = {"facenet_pytorch": "pyz+py"}

#: Distributions whose licence files go into the bundle's LICENSES/ folder (what the default studio runs).
LICENSED = [
    "torch",
    "torchvision",
    "numpy",
    "pillow",
    "PySide6-Essentials",
    "shiboken6",
    "superqt",
    "platformdirs",
    "safetensors",
    "tqdm",
    "matplotlib",
    "scipy",
    "h5py",
    "resmem",
    "facenet-pytorch",
    "dlib-bin",
    "face_recognition_models",
]

#: The dlib models the studio loads (face_recognition_models also ships two it never uses).
DLIB_MODELS = ["shape_predictor_68_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"]

_LICENCE_NAME = re.compile(r"(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)


def package_data_files(root: Path = ROOT) -> list[Path]:
    """Files of the memstudio package matched by pyproject's ``package-data`` globs."""
    if tomllib is None:
        raise SystemExit("building the bundle needs Python 3.11 or newer (tomllib)")
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["memstudio"]
    package = root / "memstudio"
    found = {
        path
        for path in package.rglob("*")
        if path.is_file() and any(fnmatch.fnmatch(str(path.relative_to(package)), g) for g in globs)
    }
    return sorted(found)


def repo_datas(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source, folder in the bundle) for the sample photos, icons, stylesheet, desktop entry, package data."""
    datas = []
    for top in ("assets", "resources"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and "bundle" not in path.relative_to(root).parts[1:2]:
                datas.append((str(path), str(path.parent.relative_to(root))))
    for path in package_data_files(root):
        datas.append((str(path), str(path.parent.relative_to(root))))
    datas.append((str(root / "LICENSE"), "LICENSES/memstudio"))
    return datas


def licence_datas() -> list[tuple[str, str]]:
    """(source, LICENSES/<distribution>) for the licence files of every bundled distribution found."""
    datas = []
    for name in LICENSED:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found = [
            (str(dist.locate_file(file)), f"LICENSES/{name}")
            for file in dist.files or []
            if _LICENCE_NAME.search(file.name) and ".dist-info" in str(file)
        ]
        # Some wheels (PySide6, shiboken6) carry no licence file; their METADATA states the licence.
        metadata = [f for f in dist.files or [] if f.name == "METADATA" and ".dist-info" in str(f)]
        datas.extend(found or [(str(dist.locate_file(f)), f"LICENSES/{name}") for f in metadata])
    return datas


def torchvision_ops() -> list[tuple[str, str]]:
    """torchvision's compiled ops (``_C_stable.so``: the nms MTCNN needs), beside its ``__init__`` where
    ``torchvision.extension`` looks for them: they are loaded with ``torch.ops.load_library``, not imported,
    so PyInstaller's analysis never sees them (and its ``lib*.so`` search misses their names)."""
    import importlib.util

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torchvision is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return [(str(lib), "torchvision") for lib in sorted(folder.glob("*.so"))]


def dlib_datas() -> list[tuple[str, str]]:
    """The two dlib model files, where memstudio's model_path() looks for them inside the bundle."""
    from memstudio.core.faces.landmarks import model_path

    return [(str(model_path(name)), "face_recognition_models/models") for name in DLIB_MODELS]


def prepare_resmem(work: Path) -> list[tuple[str, str]]:
    """Write ResMem's safetensors copy and its source hash into ``work`` and return them as bundle data.

    The copy is the one memstudio makes in the user cache on first use, so bundled scores equal a pip
    install's bit for bit; the record keeps the original model.pt's SHA-256 for every figure's metadata.
    """
    from memstudio.core.assessors.resmem import _source_hash, load_state, package_weights_path
    from memstudio.core.checkpoints import cache_dir

    source = package_weights_path()
    digest = _source_hash(source)
    load_state(source, digest)  # makes the cached copy when it is not there yet
    cached = cache_dir() / "weights" / f"resmem-{digest[:16]}.safetensors"
    work.mkdir(parents=True, exist_ok=True)
    target = work / "resmem.safetensors"
    if not target.is_file() or target.stat().st_size != cached.stat().st_size:
        shutil.copyfile(cached, target)
    version = importlib.metadata.version("resmem")
    record = {"sha256": digest, "source": f"resmem {version} model.pt", "safetensors": target.name}
    (work / "resmem.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return [(str(target), "weights"), (str(work / "resmem.json"), "weights")]
