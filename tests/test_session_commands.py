"""The one-shot session commands run without a window or an engine: what the studio's engine runs is plain
core code over a :class:`Pipeline`, testable (and runnable by the CLI) on its own."""

from __future__ import annotations

import json

import pytest
import torch

from memstudio.core.atomic import OverwriteInputError
from memstudio.core.directions.base import Direction
from memstudio.core.errors import MemstudioError
from memstudio.core.figures.request import FigureRequest
from memstudio.core.generators.edit_params import PARAMETERS
from memstudio.core.pipeline import Pipeline
from memstudio.core.requests import SeedSubject
from memstudio.core.session.directions import (
    GeneratorContext,
    MakeConditional,
    OpenDirection,
    RecheckDirections,
    SaveLayerwiseCopy,
)
from memstudio.core.session.figures import ReadDirectionFile, RenderPreview, TakeInventory
from memstudio.core.session.memgame import game_targets


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline("cpu")


def w_direction(name: str, vector: torch.Tensor) -> Direction:
    return Direction(name=name, property="memorability", space="w", vector=vector, generator={"name": "tiny"})


def test_open_and_recheck_say_what_fits_without_a_generator(pipeline, tmp_path):
    photo = Direction("warm", "brightness", "edit", torch.linspace(-1, 1, len(PARAMETERS)))
    path = photo.save(tmp_path / "warm.json")
    info = OpenDirection(str(path), "warm").run(pipeline)
    assert (info["id"], info["name"], info["space"], info["path"]) == ("warm", "warm", "edit", str(path))
    assert torch.equal(pipeline.directions["warm"].vector, photo.vector)
    gan = w_direction("memo", torch.ones(8)).save(tmp_path / "memo.json")
    with pytest.raises(MemstudioError, match="open that generator first"):
        OpenDirection(str(gan), "memo").run(pipeline)
    assert "memo" not in pipeline.directions  # a refused direction is not kept
    pipeline.directions["memo"] = Direction.load(gan)
    reasons = RecheckDirections(("warm", "memo", "gone")).run(pipeline)
    assert reasons["warm"] is None and "open that generator first" in reasons["memo"] and "gone" not in reasons
    assert GeneratorContext().run(pipeline) is None


def test_conditional_and_layerwise_copies_never_write_over_their_sources(pipeline, tmp_path):
    torch.manual_seed(0)
    base, keep = w_direction("base", torch.randn(4, 8)), w_direction("keep", torch.randn(4, 8))
    for ident, direction in (("base", base), ("keep", keep)):
        pipeline.directions[ident] = direction
        pipeline.direction_paths[ident] = str(direction.save(tmp_path / f"{ident}.json"))
    before = (tmp_path / "keep.safetensors").read_bytes()
    with pytest.raises(OverwriteInputError, match="refusing to write over an input"):
        MakeConditional("base", ("keep",), str(tmp_path / "keep.json"), "new").run(pipeline)
    assert (tmp_path / "keep.safetensors").read_bytes() == before and "new" not in pipeline.directions
    info = MakeConditional("base", ("keep",), str(tmp_path / "cond.json"), "cond").run(pipeline)
    made = pipeline.directions["cond"]
    cosine = torch.nn.functional.cosine_similarity(made.vector.flatten(), keep.vector.flatten(), dim=0)
    assert abs(float(cosine)) < 1e-5 and info["path"] == str(tmp_path / "cond.json")
    assert info["cosines"]["keep"]["after"] == pytest.approx(0.0, abs=1e-5)

    with pytest.raises(OverwriteInputError):
        SaveLayerwiseCopy("base", (1.0, 0.0, 0.5, 0.0), str(tmp_path / "base.json"), "copy").run(pipeline)
    copy = SaveLayerwiseCopy("base", (1.0, 0.0, 0.5, 0.0), str(tmp_path / "base-layers.json"), "copy").run(pipeline)
    assert copy["name"] == "base-layers" and copy["layer_weights"] == [1.0, 0.0, 0.5, 0.0]
    assert Direction.load(tmp_path / "base-layers.json").name == "base-layers"


def test_the_export_dialogs_commands_answer_with_plain_values(pipeline, tmp_path):
    pipeline.directions["memo"] = w_direction("memo", torch.ones(8))
    inventory = TakeInventory().run(pipeline)
    assert (inventory.generator, inventory.num_ws, inventory.directions) == (None, 0, (("memo", "memo", "w"),))
    path = w_direction("file-dir", torch.ones(8)).save(tmp_path / "file-dir.json")
    choice = ReadDirectionFile(str(path)).run(pipeline)
    assert (choice.key, choice.space) == (f"file:{path}", "w") and "file-dir (w, file-dir.json)" == choice.label
    # A seed without a generator is the user's to fix: an answer for the preview area, not an exception.
    preview = RenderPreview(FigureRequest("strip", SeedSubject(3), "pipeline:memo")).run(pipeline)
    assert preview.pixels is None and "generator" in preview.message


def test_a_strip_panels_folder_is_read_through_its_manifest(tmp_path):
    panels = tmp_path / "panels"
    panels.mkdir()
    assert game_targets(panels) == panels
    (panels / "manifest.json").write_text(json.dumps({"images": []}))
    assert game_targets(panels) == panels / "manifest.json"
