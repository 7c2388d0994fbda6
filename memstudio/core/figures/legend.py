"""What the score labels stand for: a short tag per assessor (``Mem 0.774``) and the legend line naming it.

A label in a 48-pt panel of a single-column strip has room for about ten characters at 6 pt, so it cannot
carry "resmem (memorability)". It carries a tag of the property instead — ``Mem``, ``Aesth``, ``Val`` —
and the figure's legend line says once which assessor and property each tag is (``Mem: resmem
(memorability)``). Scores of an ovalized assessor (face oval on white, paper 001 §2.2) carry a dagger, which
the legend explains too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

#: Tags of the properties memstudio ships assessors for; any other property is shortened (see ``_tag``).
PROPERTY_TAGS = {
    "memorability": "Mem",
    "aesthetics": "Aesth",
    "valence": "Val",
    "arousal": "Arou",
    "brightness": "Bright",
    "colorfulness": "Colour",
    "redness": "Red",
    "entropy": "Entropy",
}
#: Marks the scores of an ovalized assessor; a footnote dagger reads as "see the legend".
OVAL_MARK = "†"
OVAL_NOTE = f"{OVAL_MARK} scored on the face oval (ovalized)"
#: A tag of an unknown property keeps at most this many characters (the legend spells it out).
TAG_CHARS = 6
SUFFIX = "+oval"


def is_ovalized(entry: Mapping[str, Any]) -> bool:
    """An assessor entry of a spec scored the face oval (``Ovalized`` records its geometry and the suffix)."""
    return bool(entry.get("ovalized")) or str(entry.get("name", "")).endswith(SUFFIX)


def base_name(entry: Mapping[str, Any]) -> str:
    """The assessor's own name, without the ``+oval`` the wrapper adds (the dagger says it instead)."""
    return str(entry.get("name", "")).removesuffix(SUFFIX)


def _tag(entry: Mapping[str, Any]) -> str:
    prop = str(entry.get("property") or "").strip().lower()
    if prop in PROPERTY_TAGS:
        return PROPERTY_TAGS[prop]
    word = prop or base_name(entry)
    return (word[:1].upper() + word[1:])[:TAG_CHARS] or "Score"


def score_tags(assessors: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Assessor name → its label tag, unique within the figure.

    Two assessors of one property (ResMem and MemNet) are numbered ``Mem1``, ``Mem2`` in the figure's
    order; an ovalized one keeps the dagger after its number (``Mem2†``)."""
    base = {str(a["name"]): _tag(a) + (OVAL_MARK if is_ovalized(a) else "") for a in assessors}
    counts = Counter(base.values())
    seen: Counter[str] = Counter()
    tags = {}
    for name, tag in base.items():
        if counts[tag] > 1:
            seen[tag] += 1
            stem = tag.removesuffix(OVAL_MARK)
            tag = f"{stem}{seen[tag]}" + (OVAL_MARK if tag.endswith(OVAL_MARK) else "")
        tags[name] = tag
    return tags


def legend_entries(assessors: Sequence[Mapping[str, Any]]) -> list[str]:
    """``["Mem: resmem (memorability)", "Bright: brightness", "† scored on the face oval (ovalized)"]``."""
    tags = score_tags(assessors)
    entries = []
    for entry in assessors:
        name, prop = base_name(entry), str(entry.get("property") or "")
        what = f"{name} ({prop})" if prop and prop != name else name
        entries.append(f"{tags[str(entry['name'])]}: {what}")
    if any(is_ovalized(a) for a in assessors):
        entries.append(OVAL_NOTE)
    return entries


def signed(entry: Mapping[str, Any]) -> bool:
    """Scores of a signed scale (valence in [−1, 1]) print their sign, so +0.82 and −0.82 read apart."""
    score_range = entry.get("score_range")
    return isinstance(score_range, (list, tuple)) and len(score_range) == 2 and float(score_range[0]) < 0
