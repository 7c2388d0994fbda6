"""The property strip groups live scores by property and names the model behind each (issue 14, item 5)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel

from memstudio.ui.main_window import LIVE_ASSESSORS
from memstudio.ui.property_strip import PropertyStrip, group_by_property


def test_groups_follow_the_properties_the_studio_morphs():
    live = [("brightness", "brightness", (0, 1), 3), ("nima", "aesthetics", (1, 10), 2),
            ("resmem", "memorability", (0, 1), 3), ("valence", "valence", (-1, 1), 3)]
    groups = group_by_property(live)
    assert [g for g, _ in groups] == ["Memorability", "Aesthetics", "Valence", "Image factors"]
    assert [[name for name, *_ in members] for _, members in groups] == [["resmem"], ["nima"], ["valence"],
                                                                        ["brightness"]]


def test_the_strip_shows_headings_and_model_names(qtbot):
    strip = PropertyStrip(LIVE_ASSESSORS)
    qtbot.addWidget(strip)
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
    headings = [text for kind, text in rows if kind == "heading"]
    assert headings == ["Memorability", "Valence", "Image factors"]
    memorability = rows.index(("heading", "Memorability"))
    assert rows[memorability + 1] == ("row", "ResMem")
    assert ("row", "fer mini-Xception (faces)") in rows[rows.index(("heading", "Valence")):]
    assert strip.findChild(QLabel, "score_resmem") is not None  # the score label itself keeps its name
