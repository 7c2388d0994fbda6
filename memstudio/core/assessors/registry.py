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
    location: Callable[[], str] = lambda: "formula (no weights)"

    def available(self) -> tuple[bool, str]:
        reason = self.availability()
        return (reason is None, reason or "ready")


def _always() -> str | None:
    return None


def _resmem_availability() -> str | None:
    from memstudio.core.assessors.resmem import package_weights_path
    from memstudio.core.bundled import bundled_resmem

    try:
        if bundled_resmem() is None:
            package_weights_path()
    except ModelUnavailableError as exc:
        return str(exc)
    return None


def _resmem_location() -> str:
    from memstudio.core.assessors.resmem import package_weights_path
    from memstudio.core.bundled import bundled_resmem

    try:
        bundled = bundled_resmem()
        return str(bundled[0] if bundled else package_weights_path())
    except ModelUnavailableError:
        return "-"


def _resmem(device: torch.device) -> Assessor:
    from memstudio.core.assessors.resmem import load_resmem

    return load_resmem(device)


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
        _resmem_location,
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
                # Inference mode off: a model first built while scoring (under torch.inference_mode) would
                # hold inference tensors, and direction training through it would fail later.
                with torch.inference_mode(False):
                    _cache[key] = info.factory(dev).eval()
        return _cache[key]
