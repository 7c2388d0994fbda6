"""The property strip groups live scores by property and names the model behind each (issue 14, item 5)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel

from memstudio.core.assessors.registry import ASSESSORS, LiveAssessor
from memstudio.ui.features.properties.panel import PropertyStrip, group_by_property


def _live(*names: str) -> list[LiveAssessor]:
    infos = [ASSESSORS[name] for name in names]
    return [LiveAssessor(i.name, i.property, i.model, i.score_range, i.decimals) for i in infos]


def strip_rows(strip: PropertyStrip) -> list[tuple[str, str]]:
    """The strip's score area, top to bottom: ("heading", text) and ("row", model label)."""
    form = strip.findChild(QGroupBox).layout()
    assert isinstance(form, QFormLayout)
    rows = []
    for i in range(form.rowCount()):
        spanning = form.itemAt(i, QFormLayout.ItemRole.SpanningRole)
        label = form.itemAt(i, QFormLayout.ItemRole.LabelRole)
        if spanning is not None:
            rows.append(("heading", spanning.widget().text()))
        elif label is not None and isinstance(label.widget(), QLabel):
            rows.append(("row", label.widget().text()))
    return rows


BUILT_IN = _live("resmem", "valence", "brightness", "colorfulness", "redness", "entropy")


def test_groups_follow_the_properties_the_studio_morphs():
    trained = LiveAssessor("lab", "greenness", "lab (your ratings, resmem trunk)", (0.0, 5.0), 2)
    groups = group_by_property([*_live("brightness", "nima", "resmem"), trained, *_live("valence")])
    assert [g for g, _ in groups] == ["Memorability", "Aesthetics", "Valence", "Greenness", "Image factors"]
    assert [[a.name for a in members] for _, members in groups] == [["resmem"], ["nima"], ["valence"], ["lab"],
                                                                    ["brightness"]]


def test_the_strip_shows_headings_and_model_names(qtbot):
    strip = PropertyStrip(BUILT_IN)
    qtbot.addWidget(strip)
    rows = strip_rows(strip)
    headings = [text for kind, text in rows if kind == "heading"]
    assert headings == ["Memorability", "Valence", "Image factors"]
    memorability = rows.index(("heading", "Memorability"))
    assert rows[memorability + 1] == ("row", "ResMem")
    assert ("row", "fer mini-Xception (faces)") in rows[rows.index(("heading", "Valence")):]
    assert strip.findChild(QLabel, "score_resmem") is not None  # the score label itself keeps its name


def test_the_registry_says_each_built_in_assessors_range_and_decimals_as_its_class_does() -> None:
    """The registry repeats them so listing assessors loads no model; the copies must not drift."""
    from memstudio.core.assessors.emonet import EmoNetAssessor
    from memstudio.core.assessors.factors import (
        BrightnessAssessor,
        ColorfulnessAssessor,
        EntropyAssessor,
        RednessAssessor,
    )
    from memstudio.core.assessors.memnet import MemNetAssessor
    from memstudio.core.assessors.nima import NIMAAssessor
    from memstudio.core.assessors.resmem import ResMemAssessor
    from memstudio.core.assessors.valence import AlignedValenceAssessor, ValenceAssessor

    classes = {
        "resmem": ResMemAssessor,
        "valence": ValenceAssessor,
        "valence-aligned": AlignedValenceAssessor,
        "brightness": BrightnessAssessor,
        "colorfulness": ColorfulnessAssessor,
        "redness": RednessAssessor,
        "entropy": EntropyAssessor,
        "nima": NIMAAssessor,
        "memnet": MemNetAssessor,
        "emonet": EmoNetAssessor,
    }
    assert set(classes) == set(ASSESSORS)  # a new built-in assessor joins this check
    for name, cls in classes.items():
        assert (ASSESSORS[name].score_range, ASSESSORS[name].decimals) == (cls.score_range, cls.decimals), name
