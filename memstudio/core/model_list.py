"""Every generator, assessor and face model memstudio knows: whether it runs here, why not, its licence.

The rows ``memstudio models`` prints and the studio's Help ▸ Model licences shows; one list, in the core, so
the two never disagree.
"""

from __future__ import annotations


def model_rows() -> list[dict[str, str]]:
    """One row per model: kind, name, status, detail (why / how to get it), location, licence."""
    from memstudio.core.assessors.registry import ASSESSORS
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
    for info in ASSESSORS.values():
        ok, reason = info.available()
        out.append(
            {
                "kind": "assessor",
                "name": info.name,
                "status": "available" if ok else "not available",
                "detail": info.description if ok else reason,
                "location": info.location(),
                "licence": info.licence,
            }
        )
    out += _imported_assessor_rows(set(ASSESSORS))
    out += _trained_rows()
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


def _imported_assessor_rows(listed: set[str]) -> list[dict[str, str]]:
    """Assessors imported under their own names (``import-model FILE --name NAME``), one row each."""
    from memstudio.core.assessors.imported import list_imported
    from memstudio.core.assessors.registry import ASSESSORS

    return [
        {
            "kind": "assessor",
            "name": record.name,
            "status": "available",
            "detail": f"{record.family}, imported from {record.source_file} (sha256 {record.source_sha256[:12]}…)",
            "location": str(record.path),
            "licence": ASSESSORS[record.family].licence,
        }
        for record in list_imported()
        if record.name not in listed
    ]


def _trained_rows() -> list[dict[str, str]]:
    """Assessors trained from ratings (``memstudio assessor train``), with their held-out evidence."""
    from memstudio.core.assessors.registry import trained_assessors

    rows = []
    for info in trained_assessors():
        ok, reason = info.available()
        rows.append(
            {
                "kind": "assessor",
                "name": info.name,
                "status": "available" if ok else "not available",
                "detail": info.description if ok else f"{info.description}; {reason}",
                "location": info.location(),
                "licence": info.licence,
            }
        )
    return rows
