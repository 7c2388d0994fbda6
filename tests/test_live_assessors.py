"""Every available assessor scores live in the studio — built in, imported (NIMA) and trained from ratings —
from the one core list `memstudio models` also decides availability with; a NIMA's MobileNet as the trunk of
a trained assessor.

The NIMA is idealo's architecture with seeded random weights, written in idealo's Keras 2.1 HDF5 layout and
imported into a test-private model store, so the whole path (HDF5 → safetensors store → registry → engine →
strip) is the real one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from keras_files import nima_layers, write_keras_weights
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from test_property_groups import strip_rows

from memstudio.cli import main
from memstudio.core.assessors import imported, registry, trained
from memstudio.core.assessors.from_ratings import train_job
from memstudio.core.assessors.trunk import NIMA_FEATURE_BLOCKS, NIMA_FEATURE_LAYER, load_trunk, trunk_choices
from memstudio.core.checkpoints import sha256_file
from memstudio.core.errors import MemstudioError
from memstudio.core.jobs import run_to_end

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "photos" / "coffee.png"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private model store holding a NIMA imported as ``nima`` (no ResMem: the NIMA trunk is what is tested)."""
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(registry, "_cache", {})  # assessors built against another test's store must not leak
    imported.import_assessor(write_keras_weights(tmp_path / "idealo.hdf5", nima_layers(seed=2)), "nima")
    return tmp_path


def _ratings(folder: Path, n: int = 12) -> Path:
    """``n`` photos whose rating is their greenness (a property with a known answer)."""
    rng = np.random.default_rng(0)
    lines = ["path,rating"]
    for i in range(n):
        pixels = (rng.random((64, 64, 3)) * np.array([0.6, 0.1 + 0.07 * i, 0.5]) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"p{i}.png")
        lines.append(f"p{i}.png,{i + rng.normal(0, 0.3):.3f}")
    path = folder / "ratings.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(csv_path: Path, name: str, trunk: str, property_name: str = "aesthetics"):
    return run_to_end(train_job(csv_path, name, property_name=property_name, trunk=trunk))


def test_nima_trunk_trains_records_its_hash_and_scores_differentiably(store: Path) -> None:
    assert trunk_choices() == ["resmem", "nima:nima"]
    result = _train(_ratings(store), "lab", "nima:nima")
    record = result.record
    config = json.loads((record.path / trained.CONFIG_FILE).read_text())
    assert config["trunk"] == {
        "name": "nima:nima",
        "feature_layer": NIMA_FEATURE_LAYER,
        "sha256": sha256_file(store / "idealo.hdf5"),
    }
    assert config["head"]["feature_blocks"] == list(NIMA_FEATURE_BLOCKS)
    assert record.trunk_name == "nima:nima" and record.evidence["spearman_rho"] > 0.5  # greenness is learnable

    assessor = registry.load_assessor("lab")
    assert assessor.describe()["trunk"] == "nima:nima"
    x = torch.rand(2, 3, 80, 96, generator=torch.Generator().manual_seed(3), requires_grad=True)
    score = assessor(x)
    score.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    # The stored head on the trunk's features is what scores: the same number through both paths.
    trunk = load_trunk("nima:nima")
    with torch.no_grad():
        direct = assessor.head(trunk(x.detach())).float()
    torch.testing.assert_close(assessor.score(x.detach()), direct, atol=1e-5, rtol=0)
    assert abs(float(score.detach()[0] - score.detach()[1])) > 1e-6


def test_a_missing_trunk_is_refused_with_the_choices(store: Path) -> None:
    with pytest.raises(MemstudioError, match=r"no NIMA imported as 'other'.*trunks here: resmem, nima:nima"):
        _train(_ratings(store), "lab", "nima:other")
    with pytest.raises(MemstudioError, match="unknown trunk 'vgg'"):
        _train(_ratings(store), "lab", "vgg")
    assert trained.list_trained() == []


def _orphan(store: Path) -> None:
    """A trained assessor whose NIMA trunk was removed from the store afterwards: not available."""
    imported.import_assessor(write_keras_weights(store / "other.hdf5", nima_layers(seed=3)), "gone")
    _train(_ratings(store), "orphan", "nima:gone")
    shutil.rmtree(imported.assessors_dir() / "gone")


def test_the_live_list_and_models_agree_on_what_is_available(store: Path, capsys) -> None:
    _train(_ratings(store), "lab", "nima:nima")
    _orphan(store)
    live = {a.name: a for a in registry.available_assessors()}
    assert {"nima", "lab", "valence", "brightness", "entropy"} <= set(live)
    assert not {"orphan", "memnet", "emonet", "valence-aligned"} & set(live)
    assert (live["nima"].property, live["nima"].score_range, live["nima"].decimals) == ("aesthetics", (1.0, 10.0), 2)
    assert live["lab"].property == "aesthetics" and "nima:nima trunk" in live["lab"].model
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out) if r["kind"] == "assessor"}
    for name, row in rows.items():
        assert (row["status"] == "available") == (name in live or name == "valence-aligned"), name
    assert "the imported NIMA 'gone', is not in the model store" in rows["orphan"]["detail"]
    # The registry's ranges are the assessors' own.
    nima = registry.load_assessor("nima")
    assert (nima.score_range, nima.decimals) == (live["nima"].score_range, live["nima"].decimals)


def test_nima_imported_under_its_own_name_is_listed_once(store: Path) -> None:
    shutil.rmtree(imported.assessors_dir() / "nima")
    imported.import_assessor(store / "idealo.hdf5", "nima-idealo")
    names = [a.name for a in registry.available_assessors()]
    assert "nima-idealo" in names and "nima" not in names  # the family name would score the same model twice


def _cli_scores(capsys, names: list[str]) -> dict[str, float]:
    args = ["score", "--json", str(PHOTO)]
    for name in names:
        args += ["-a", name]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)["scores"]


def test_the_studio_scores_imported_and_trained_assessors_live(qtbot, store: Path, capsys) -> None:
    from memstudio.ui.main_window import MainWindow

    _train(_ratings(store), "lab", "nima:nima")
    _orphan(store)
    cli = _cli_scores(capsys, ["nima", "lab"])
    # "nima-b" and "lab2" do not exist yet: imported and trained below, they join the live scores.
    win = MainWindow(assessors=("nima", "lab", "nima-b", "lab2", "orphan", "memnet", "brightness"))
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: win.live_assessors is not None, timeout=30_000)
        assert [a.name for a in win.live_assessors] == ["brightness", "nima", "lab"]
        rows = strip_rows(win.strip)
        aesthetics = rows.index(("heading", "Aesthetics"))
        assert rows[aesthetics + 1 : aesthetics + 3] == [
            ("row", "NIMA MobileNet (idealo)"),
            ("row", "lab (your ratings, nima:nima trunk)"),
        ]
        assert ("heading", "Image factors") in rows and "orphan" not in win.strip.score_labels
        # The other features offer what is available (the heatmap and export every one, faces the live ones).
        heatmap = win.features["heatmap"].panel.assessor
        offered = [heatmap.itemText(i) for i in range(heatmap.count())]
        assert {"nima", "lab", "resmem", "valence"} <= set(offered) and "orphan" not in offered
        assert set(win.features["faces"].panel.ovalize_checks) == {"brightness", "nima", "lab"}
        dialog = win.features["export"].open_dialog()
        listed = [dialog.assessor_list.item(i).text() for i in range(dialog.assessor_list.count())]
        assert listed == offered
        dialog.hide()

        with qtbot.waitSignal(win.scores_shown, timeout=60_000):
            win.open_paths([PHOTO])
        for name in ("nima", "lab"):
            shown = float(win.strip.score_labels[name].text())
            assert shown == pytest.approx(cli[name], abs=0.51 * 10 ** -win.strip._decimals[name]), name

        # Imported from a shell while the studio runs: Tools ▸ Rescan assessors lists it.
        imported.import_assessor(store / "idealo.hdf5", "nima-b")
        win.rescan_action.trigger()
        qtbot.waitUntil(lambda: "nima-b" in win.strip.score_labels, timeout=30_000)
        assert win.findChild(QLabel, "scoreModel_nima-b").text() == "NIMA MobileNet (idealo) as 'nima-b'"

        feature = win.features["ratings"]
        with qtbot.waitSignal(win.jobs.card_finished, timeout=120_000) as done:
            feature.train(_ratings(store), "lab2", "aesthetics", "nima:nima")
        assert done.args[0].error is None
        qtbot.waitUntil(lambda: "lab2" in win.strip.score_labels, timeout=30_000)
        assert heatmap.findText("lab2") >= 0 and "lab2" in win.features["faces"].panel.ovalize_checks
        assert dialog.assessor_list.findItems("lab2", Qt.MatchFlag.MatchExactly)
        qtbot.waitUntil(lambda: win.strip.score_labels["lab2"].text() not in ("—", "error"), timeout=60_000)
        assert float(win.strip.score_labels["lab2"].text()) == pytest.approx(
            _cli_scores(capsys, ["lab2"])["lab2"], abs=0.51 * 10 ** -win.strip._decimals["lab2"]
        )
    finally:
        win.close()
    assert not win.engine.is_running()
