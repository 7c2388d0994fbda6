"""``score_paths``: the same ordered results whether decoding overlaps the network or runs inline."""

from __future__ import annotations

import bad_images
import pytest

from memstudio.core import scoring
from memstudio.core.assessors.registry import load_assessor
from memstudio.core.scoring import ImageScores, ScoreFailure, score_paths


@pytest.mark.parametrize("cores", [1, 64], ids=["inline", "decode-thread"])
def test_results_in_order_with_failures_in_place(tmp_path, photos_dir, monkeypatch, cores):
    monkeypatch.setattr(scoring, "_cores", lambda: cores)
    paths = [
        photos_dir / "coffee.png",
        bad_images.zero_byte(tmp_path),
        photos_dir / "rocket.jpg",
        bad_images.text_as_jpeg(tmp_path),
        photos_dir / "chelsea.png",
    ]
    assessors = {"brightness": load_assessor("brightness")}
    results = list(score_paths(paths, assessors, batch_size=2))
    assert [r.path for r in results] == paths
    assert [type(r) for r in results] == [ImageScores, ScoreFailure, ImageScores, ScoreFailure, ImageScores]
    assert "empty" in results[1].message
    singles = [next(score_paths([p], assessors)).values["brightness"] for p in paths[::2]]
    assert [r.values["brightness"] for r in results[::2]] == pytest.approx(singles, abs=1e-7)
    assert len(set(singles)) == 3  # three photos, three brightnesses: the assessor really ran
