"""The face models the studio uses (MTCNN, dlib), where their files are and under which licence.

They ship inside pip packages rather than the model store, so ``memstudio models`` asks here where they are
without loading any of them (dlib's descriptor network alone is 22 MB).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from memstudio.core.errors import ModelUnavailableError


@dataclass(frozen=True)
class FaceModelFile:
    """One face model: what it does, the file(s) it needs, its licence; ``reason`` is None when usable."""

    name: str
    detail: str
    location: str
    licence: str
    reason: str | None


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _mtcnn() -> FaceModelFile:
    detail = "MTCNN face detector (P-, R-, O-Net; facenet-pytorch 2.5.3), used to find and crop faces"
    licence = "MIT (facenet-pytorch)"
    folder = _package_dir("facenet_pytorch")
    if folder is None:
        return FaceModelFile("mtcnn", detail, "-", licence, "needs facenet-pytorch==2.5.3 (pip install it)")
    files = [folder / "data" / f"{net}.pt" for net in ("pnet", "rnet", "onet")]
    missing = [f.name for f in files if not f.is_file()]
    reason = f"weights missing in {folder / 'data'}: {', '.join(missing)}; reinstall facenet-pytorch"
    return FaceModelFile("mtcnn", detail, str(folder / "data"), licence, reason if missing else None)


def _dlib(name: str, file: str, detail: str, licence: str) -> FaceModelFile:
    from memstudio.core.faces.landmarks import model_path

    if importlib.util.find_spec("dlib") is None:
        return FaceModelFile(name, detail, "-", licence, "needs dlib (pip install dlib-bin)")
    try:
        path = model_path(file)
    except ModelUnavailableError as exc:
        return FaceModelFile(name, detail, "-", licence, str(exc))
    return FaceModelFile(name, detail, str(path), licence, None)


def face_models() -> list[FaceModelFile]:
    """Every face model the studio can use, checked for presence on disk."""
    return [
        _mtcnn(),
        _dlib(
            "dlib-landmarks-68",
            "shape_predictor_68_face_landmarks.dat",
            "dlib 68-point landmark predictor, used for FFHQ alignment",
            "dlib: Boost; trained on iBUG 300-W, whose licence excludes commercial use",
        ),
        _dlib(
            "dlib-face-descriptor",
            "dlib_face_recognition_resnet_model_v1.dat",
            "dlib ResNet 128-d face descriptor, used as the identity distance of edits",
            "CC0 1.0: released into the public domain by its author (dlib-models)",
        ),
    ]
