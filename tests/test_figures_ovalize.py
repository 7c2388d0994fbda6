"""A figure exported from the studio scores as the canvas does: "Ovalize before scoring" is used and recorded."""

from __future__ import annotations

import json

import pytest
import torch

from memstudio.core.faces.ovalize import Ovalized
from memstudio.core.figures.request import FigureRequest, resolve
from memstudio.core.figures.sources import open_sources
from memstudio.core.figures.spec import FigureSpec, FigureSpecError
from memstudio.core.pipeline import Pipeline
from memstudio.core.requests import PhotoSubject


def request_for(photo) -> FigureRequest:
    return FigureRequest(
        kind="strip",
        subject=PhotoSubject(str(photo)),
        direction="edit:exposure",
        alphas=(0.0, 0.5),
        assessors=("brightness", "entropy"),
    )


def test_the_spec_records_the_ovalized_assessor_and_reopens_it(photos_dir) -> None:
    pipeline = Pipeline(torch.device("cpu"))
    pipeline.ovalize = {"brightness"}
    spec, sources = resolve(pipeline, request_for(photos_dir / "astronaut.png"))
    brightness, entropy = spec.assessors
    assert (brightness["name"], brightness["ovalized"]) == ("brightness+oval", "detect")
    assert entropy["name"] == "entropy" and "ovalized" not in entropy
    assert isinstance(sources.assessors[0], Ovalized) and not isinstance(sources.assessors[1], Ovalized)
    again = FigureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))  # as read back from a sidecar
    reopened = open_sources(again)
    assert isinstance(reopened.assessors[0], Ovalized) and reopened.assessors[0].geometry == "detect"
    assert reopened.assessors[0].assessor.name == "brightness"
    assert [a.name for a in reopened.assessors] == ["brightness+oval", "entropy"]


def test_without_ovalize_nothing_is_wrapped_and_a_bad_geometry_is_refused(photos_dir) -> None:
    spec, _ = resolve(Pipeline(torch.device("cpu")), request_for(photos_dir / "chelsea.png"))
    assert [a["name"] for a in spec.assessors] == ["brightness", "entropy"]
    data = spec.to_dict()
    data["assessors"][0].update(name="brightness+oval", ovalized="sideways")
    with pytest.raises(FigureSpecError, match="brightness\\+oval.*geometry"):
        open_sources(FigureSpec.from_dict(data))
