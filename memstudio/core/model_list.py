"""Every generator, assessor and face model memstudio knows: whether it runs here, why not, its licence.

The rows ``memstudio models`` prints and the studio's Help ▸ Model licences shows; one list, in the core, so
the two never disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memstudio.core.assessors.registry import AssessorInfo


def model_rows() -> list[dict[str, str]]:
    """One row per model: kind, name, status, detail (why / how to get it), location, licence."""
    from memstudio.core.assessors.registry import assessor_catalog
    from memstudio.core.faces.models import face_models
    from memstudio.core.generators.store import list_models

    out = [
        {
            "kind": "generator",
            "name": "photo",
            "status": "available",
            "detail": "built-in photo editor over any image (exposure, contrast, colour, zoom, vignette, sharpness)",
            "location": "built in",
            "licence": "MIT",
        }
    ]
    stored = list_models()
    for model in stored:
        out.append(
            {
                "kind": "generator",
                "name": model.name,
                "status": "available",
                "detail": f"{model.family}, imported into the model cache (sha256 {model.source_sha256[:12]}…)",
                "location": str(model.path),
                "licence": "as the original checkpoint",
            }
        )
    how = {
        "stylegan2": "NVIDIA stylegan2-ada-pytorch / stylegan3 .pkl or rosinality .pt: `memstudio import-model FILE`",
        "stylegan3": "NVIDIA stylegan3 .pkl (T or R): `memstudio import-model FILE`",
        "biggan": "pytorch-pretrained-biggan folder (config.json + pytorch_model.bin): `memstudio import-model DIR`",
    }
    families = {m.family for m in stored}
    for family, text in how.items():
        if family not in families:
            out.append(
                {
                    "kind": "generator",
                    "name": family,
                    "status": "not available",
                    "detail": f"weights are not bundled (they cannot be redistributed or downloaded here); {text}",
                    "location": "-",
                    "licence": "NVIDIA Source Code License-NC" if family.startswith("stylegan") else "MIT",
                }
            )
    for info, reason in assessor_catalog():
        out.append(
            {
                "kind": "assessor",
                "name": info.name,
                "status": "available" if reason is None else "not available",
                "detail": info.description if reason is None else _why(info, reason),
                "location": info.location(),
                "licence": info.licence,
            }
        )
    for face in face_models():
        out.append(
            {
                "kind": "face",
                "name": face.name,
                "status": "available" if face.reason is None else "not available",
                "detail": face.detail if face.reason is None else face.reason,
                "location": face.location,
                "licence": face.licence,
            }
        )
    return out


def _why(info: AssessorInfo, reason: str) -> str:
    """Why an assessor is not available; a trained one also says what it is (its evidence)."""
    from memstudio.core.assessors.registry import ASSESSORS

    return reason if info.name in ASSESSORS else f"{info.description}; {reason}"
