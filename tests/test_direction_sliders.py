"""A direction slider's score readout follows the frame's scores as they arrive, cheap ones first."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox

from memstudio.ui.features.directions.sliders import DirectionSliders


def test_a_partial_result_keeps_a_slow_score_and_a_complete_one_without_it_clears_it(qtbot) -> None:
    box = QGroupBox()
    box.setLayout(QFormLayout())
    qtbot.addWidget(box)
    sliders = DirectionSliders(box)
    info = {
        "id": "mem",
        "name": "Memorability",
        "property": "memorability",
        "method": "ganalyze",
        "space": "edit",
        "summary": "β = 0.050",
        "assessor": "resmem",
        "alpha_range": (-1.0, 1.0),
    }
    row = sliders.add(info)
    sliders.show_scores({"resmem": 0.7741, "brightness": 0.45}, {"resmem": 3})
    assert row.score.text() == "score 0.774"
    sliders.show_scores({"brightness": 0.5}, {"resmem": 3}, complete=False)  # ResMem still on its way
    assert row.score.text() == "score 0.774"
    sliders.show_scores({"brightness": 0.5}, {"resmem": 3})  # the frame's scores are all in: no ResMem
    assert row.score.text() == ""
