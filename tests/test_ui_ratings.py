"""Tools ▸ Train assessor from ratings…: the core job in the engine, its progress and result in the Jobs dock."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memstudio.core.assessors import trained


@pytest.fixture
def private_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh model store that still sees the session's converted ResMem weights."""
    session = Path(os.environ["MEMSTUDIO_CACHE_DIR"])
    cache = tmp_path / "cache"
    cache.mkdir()
    (session / "weights").mkdir(exist_ok=True)
    (cache / "weights").symlink_to(session / "weights")
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(cache))
    return cache / "assessors"


def _ratings(folder: Path, n: int = 12, missing: bool = False) -> Path:
    """``n`` images rated by two raters who roughly agree (rating ≈ the image's index)."""
    rng = np.random.default_rng(0)
    lines = ["path,rating,rater"]
    for i in range(n):
        pixels = (rng.random((48, 48, 3)) * np.array([1.0, 0.2 + 0.06 * i, 0.5]) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i}.png")
        lines += [f"p{i}.png,{i + rng.normal(0, 1):.2f},ann", f"p{i}.png,{i + rng.normal(0, 1):.2f},bo"]
    if missing:
        lines.append("nowhere.png,3,ann")
    path = folder / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_menu_entry_and_a_bad_csv_fails_with_its_row(qtbot, window, tmp_path: Path, private_store: Path) -> None:
    feature = window.features["ratings"]
    assert feature.action in window.tools_menu.actions()
    csv_path = _ratings(tmp_path, missing=True)
    with qtbot.waitSignal(window.jobs.card_finished, timeout=60_000) as done:
        job_id = feature.train(csv_path, "lab")
    assert done.args[0].job_id == job_id and "row 26: image 'nowhere.png' not found" in done.args[0].error
    assert window.jobs.rows[job_id].eta.text() == "failed"
    assert trained.list_trained() == []


def test_a_taken_name_is_refused_before_any_job(qtbot, window, tmp_path: Path, private_store: Path) -> None:
    feature = window.features["ratings"]
    assert feature.train(_ratings(tmp_path), "resmem") is None
    assert "built-in assessor" in window.messages.text()
    assert feature.submitted == [] and window.jobs.rows == {}


@pytest.mark.slow
def test_training_job_stores_the_assessor(qtbot, window, tmp_path: Path, private_store: Path) -> None:
    feature = window.features["ratings"]
    with qtbot.waitSignal(window.jobs.card_finished, timeout=240_000) as done:
        job_id = feature.train(_ratings(tmp_path), "greenness", "greenness")
    result = done.args[0]
    assert result.error is None and not result.cancelled
    assert "held-out Spearman ρ" in result.result["summary"]
    assert window.jobs.rows[job_id].eta.text() == "done"
    assert "held-out Spearman ρ" in window.jobs.rows[job_id].message.text()
    (record,) = trained.list_trained()
    assert record.name == "greenness" and record.property == "greenness" and record.data["n_images"] == 12
    assert record.data["n_ratings"] == 24 and record.data["raters"] == 2
    ceiling = record.evidence["ceiling"]
    assert ceiling["available"] and ceiling["raters"] == 2 and ceiling["spearman_brown_rho"] > 0.8
    assert "split-half ceiling" in result.result["summary"]
