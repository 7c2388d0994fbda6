"""The directions that ship with memstudio: the file, its evidence, its editor version, and the first start.

The shipped Memorability direction was trained by ``make directions`` (memstudio.devtools.ship_directions) on
the real photo set; these tests read that file as a user's studio does.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from memstudio.core.directions.base import Direction, DirectionError, apply_directions
from memstudio.core.directions.sampling import load_photo_batch
from memstudio.core.directions.shipped import (
    SHIPPED_DIR,
    check_editor_version,
    edit_loadings,
    loadings_summary,
    shipped_direction_paths,
)
from memstudio.core.directions.train import MIN_CITABLE_SAMPLES, evidence_warnings
from memstudio.core.generators.edit_params import EDITOR_VERSION, PARAMETERS
from memstudio.core.generators.photo import PhotoEditor
from memstudio.core.session.directions import check_fit, direction_info
from memstudio.devtools import bundle_plan, photoset
from memstudio.devtools.ship_directions import MEMORABILITY, train_args

TIMEOUT = 60_000


@pytest.fixture(scope="module")
def shipped() -> Direction:
    return Direction.load(MEMORABILITY)


def astronaut_editor(photos_dir: Path) -> PhotoEditor:
    return PhotoEditor(load_photo_batch([str(photos_dir / "astronaut.png")], 256))


def test_the_memorability_direction_ships_with_citable_held_out_evidence(shipped: Direction) -> None:
    assert MEMORABILITY in shipped_direction_paths()
    # Package data: installed with the wheel and bundled with the standalone studio.
    packaged = bundle_plan.package_data_files()
    assert MEMORABILITY in packaged and MEMORABILITY.with_suffix(".safetensors") in packaged
    assert shipped.name == "Memorability" and shipped.property == "memorability" and shipped.space == "edit"
    assert shipped.assessor["name"] == "resmem" and shipped.method == "ganalyze"
    assert shipped.generator["name"] == "photo" and shipped.generator["editor_version"] == EDITOR_VERSION
    check_editor_version(shipped, str(MEMORABILITY), required=True)

    evidence = shipped.evidence
    split = photoset.read_split()
    heldout = sorted(n for n, s in split.items() if s == "heldout")
    # n is the held-out count asked for, every held-out photo once; none of them trained.
    assert evidence["split"]["by"] == "photo" and evidence["split"]["heldout"] == heldout
    assert not set(evidence["split"]["train"]) & set(heldout)
    assert evidence["num_samples"] == len(heldout) >= MIN_CITABLE_SAMPLES
    low, high = evidence["ci95"]
    assert evidence["beta"] > 0 and 0 < low < evidence["beta"] < high
    assert evidence_warnings(evidence) == [] and evidence["warnings"] == []
    assert len(evidence["mean_score"]) == len(evidence["alphas"]) and 0 <= evidence["r2"] <= 1
    assert set(evidence["factors"]) == {"brightness", "colorfulness", "redness", "entropy"}
    assert evidence["seeds"] == {"training": photoset.SEED, "heldout": None, "split": photoset.SEED}

    # The confound: θ per edit parameter, normalised, as the trainer computes it from the vector.
    loadings = evidence["edit_parameters"]
    assert list(loadings) == list(edit_loadings(shipped.vector))
    assert set(loadings) == {p.name for p in PARAMETERS}
    assert math.isclose(math.fsum(v * v for v in loadings.values()), 1.0, rel_tol=1e-9)


def test_the_recorded_command_is_the_one_that_made_the_file(shipped: Direction) -> None:
    args = train_args(Path("photos"))

    def value(flag: str) -> str:
        return args[args.index(flag) + 1]

    assert shipped.settings["steps"] == int(value("--steps")) == shipped.metrics["steps"]
    assert shipped.settings["batch_size"] == int(value("--batch-size"))
    assert shipped.settings["alpha_max"] == float(value("--alpha-max")) == shipped.alpha_range[1]
    assert shipped.settings["seed"] == int(value("--seed")) == photoset.SEED
    assert shipped.name == value("--name") and value("--assessor") == shipped.assessor["name"]
    assert int(value("--heldout-photos")) == photoset.HELDOUT == shipped.evidence["num_samples"]


def test_it_applies_to_the_astronaut(shipped: Direction, photos_dir: Path) -> None:
    editor = astronaut_editor(photos_dir)
    check_fit(None, shipped, str(MEMORABILITY))  # a photo direction needs no generator
    latent = editor.sample()
    with torch.no_grad():
        base = editor.render(latent)
        moved = editor.render(apply_directions(latent, [(shipped, shipped.alpha_range[1])]))
    assert moved.shape == base.shape == (1, 3, 256, 256)
    assert float((moved - base).abs().mean()) > 1e-3


@pytest.mark.slow
def test_alpha_plus_one_raises_resmem_on_the_astronaut(shipped: Direction, photos_dir: Path) -> None:
    from memstudio.core.assessors.resmem import load_resmem

    resmem = load_resmem("cpu")
    editor = astronaut_editor(photos_dir)
    latent = editor.sample()
    top = shipped.alpha_range[1]
    scores = {}
    for alpha in (-1.0, 0.0, top, 1.0):
        with torch.no_grad():
            scores[alpha] = float(resmem.score(editor.render(apply_directions(latent, [(shipped, alpha)])))[0])
    # The README gives the numbers (0.7335, 0.7740, 0.7829, 0.7864): the slider's top raises the astronaut's
    # score, α = +1 raises it further, α = −1 lowers it clearly. The effect per unit α is small (β ≈ 0.05).
    assert scores[top] > scores[0.0]
    assert scores[1.0] > scores[0.0] + 0.01
    assert scores[-1.0] < scores[0.0] - 0.02


def copy_with(tmp_path: Path, change) -> Path:
    """The shipped files copied to ``tmp_path`` with ``change(meta)`` applied to the JSON."""
    meta = json.loads(MEMORABILITY.read_text(encoding="utf-8"))
    change(meta)
    target = tmp_path / MEMORABILITY.name
    target.write_text(json.dumps(meta), encoding="utf-8")
    shutil.copy(MEMORABILITY.with_suffix(".safetensors"), target.with_suffix(".safetensors"))
    return target


def test_a_direction_for_another_editor_version_is_refused_naming_both(tmp_path: Path) -> None:
    other = copy_with(tmp_path, lambda meta: meta["generator"].update(editor_version=EDITOR_VERSION + 1))
    with pytest.raises(DirectionError) as raised:
        check_fit(None, Direction.load(other), str(other))
    said = str(raised.value)
    assert str(other) in said and f"version {EDITOR_VERSION + 1}" in said and f"version {EDITOR_VERSION}" in said
    # A user's older file without a version still opens; a shipped one must carry its version.
    unversioned = Direction.load(copy_with(tmp_path, lambda meta: meta["generator"].pop("editor_version")))
    check_editor_version(unversioned, "mine.json")
    with pytest.raises(DirectionError, match="no editor version"):
        check_editor_version(unversioned, str(MEMORABILITY), required=True)


def test_the_tooltip_info_quotes_beta_the_make_up_and_warns_when_not_citable(
    shipped: Direction, tmp_path: Path
) -> None:
    info = direction_info("m", shipped, str(MEMORABILITY))
    assert info["shipped"] and info["make_up"] == loadings_summary(shipped.evidence["edit_parameters"])
    assert f"β = {shipped.evidence['beta']:.3f}" in info["summary"] and "⚠" not in info["summary"]

    def weaken(meta: dict) -> None:
        meta["evidence"].update(num_samples=5, ci95=[-0.01, 0.2])

    weak = Direction.load(copy_with(tmp_path, weaken))
    summary = direction_info("w", weak, str(tmp_path / "w.json"))["summary"]
    assert "⚠ only n = 5" in summary and "includes 0" in summary


def test_loadings_name_the_parameters_that_carry_a_direction() -> None:
    vector = torch.zeros(len(PARAMETERS))
    index = {p.name: i for i, p in enumerate(PARAMETERS)}
    vector[index["vignette"]], vector[index["exposure"]], vector[index["sharpness"]] = -3.0, 2.0, -1.0
    vector[index["hue"]] = 0.1
    loadings = edit_loadings(vector)
    assert list(loadings)[:3] == ["vignette", "exposure", "sharpness"]
    assert math.isclose(loadings["vignette"], -3 / math.sqrt(14.01))
    assert loadings_summary(loadings) == "mostly: vignette −, exposure +, sharpness −"
    assert loadings_summary(edit_loadings(torch.zeros(len(PARAMETERS)))) == "mostly: nothing (θ is zero)"


def test_first_start_shows_a_memorability_slider_beside_the_users_own(
    qtbot, photos_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memstudio.ui.main_window import MainWindow

    monkeypatch.setenv("MEMSTUDIO_SHIPPED_DIRECTIONS", "1")
    window = MainWindow(assessors=("brightness",))
    qtbot.addWidget(window)
    try:
        feature = window.features["directions"]
        with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT) as loaded:
            window.show()
        info = loaded.args[0]
        assert info["name"] == "Memorability" and Path(info["path"]).parent == SHIPPED_DIR
        with qtbot.waitSignal(window.scores_shown, timeout=TIMEOUT):
            window.open_photo(str(photos_dir / "astronaut.png"))
        row = feature.sliders.rows[info["id"]]
        assert window.strip.directions_box.isVisible() and row.slider.isEnabled()
        tooltip = row.toolTip()
        assert "β = " in tooltip and "n = " in tooltip and "Edit parameters: mostly: " in tooltip

        base = window.current_frame.pixels
        with qtbot.waitSignal(window.scores_shown, timeout=TIMEOUT):
            window.state.set_value("alpha", info["id"], info["alpha_range"][1], False)
        qtbot.waitUntil(lambda: window.current_frame.request_id == window.last_request_id, timeout=TIMEOUT)
        assert (window.current_frame.pixels != base).any()

        # A user's own photo direction opens beside it.
        own = Direction("mine", "brightness", "edit", torch.ones(len(PARAMETERS)) * 0.1).save(tmp_path / "mine.json")
        with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT):
            feature.open_direction(own)
        assert len(feature.sliders.rows) == 2
    finally:
        window.close()
