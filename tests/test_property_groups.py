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
