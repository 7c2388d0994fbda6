"""Every assessor memstudio knows, with whether it can run here and how to get it when it cannot."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from memstudio.core.assessors.base import Assessor
from memstudio.core.errors import MemstudioError, ModelUnavailableError
from memstudio.core.heap import long_lived

if TYPE_CHECKING:
    from memstudio.core.assessors.trained import TrainedRecord


@dataclass(frozen=True)
class AssessorInfo:
    """What the model list shows for one assessor."""

    name: str
    property: str
    description: str
    licence: str
    factory: Callable[[torch.device], Assessor]
    availability: Callable[[], str | None]  # None when available, else the reason
    #: Changes when the model behind the name does (a retrained assessor), so a process never scores with a stale one.
    revision: str = ""

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

_cache: dict[tuple[str, str, str], Assessor] = {}
_lock = threading.Lock()


def trained_assessors() -> list[AssessorInfo]:
    """Assessors trained from ratings (``memstudio assessor train``) found in the assessor store, by name."""
    from memstudio.core.assessors.trained import list_trained

    return [_trained_info(record) for record in list_trained()]


def _trained(name: str) -> AssessorInfo | None:
    from memstudio.core.assessors.trained import find_trained

    record = find_trained(name)
    return _trained_info(record) if record is not None else None


def _trained_info(record: TrainedRecord) -> AssessorInfo:
    from memstudio.core.assessors.trained import load_trained

    name = record.name
    return AssessorInfo(
        name,
        record.property,
        record.summary(),
        "yours (trained on your ratings); its ResMem trunk: ResMem Non-commercial License",
        lambda device: load_trained(name, device),
        _resmem_availability,
        revision=record.config_sha256,
    )


def assessor_names() -> list[str]:
    return list(ASSESSORS) + [info.name for info in trained_assessors()]


def load_assessor(name: str, device: torch.device | str | None = None) -> Assessor:
    """The assessor called ``name`` on ``device`` (CPU by default), built once per process and device."""
    info = ASSESSORS.get(name) or _trained(name)
    if info is None:
        known = ", ".join(assessor_names())
        raise MemstudioError(f"unknown assessor {name!r}; known assessors: {known}")
    dev = torch.device(device or "cpu")
    key = (name, str(dev), info.revision)
    with _lock:
        if key not in _cache:
            with long_lived():  # the availability check imports the model's libraries (torchvision for ResMem)
                reason = info.availability()
                if reason is not None:
                    raise ModelUnavailableError(f"assessor {name!r} is not available: {reason}")
                _cache[key] = info.factory(dev).eval()
        return _cache[key]
