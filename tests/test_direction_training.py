"""One direction training for the CLI and the studio: the same case trained both ways gives the same file.

The studio side is the real thing a user drives — the Train dialog (or the feature's typed command) and the
engine thread, which renders and scores under ``torch.inference_mode`` between steps. Models are the real
brightness assessor, a small convolutional assessor with seeded random weights (it has weights for autograd
to save, which brightness has not: the studio's "Inference tensors cannot be saved for backward" failure),
a tiny StyleGAN2 pickle with seeded random weights, and, marked slow, the real ResMem.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from engine_commands import OnEngine
from PySide6.QtWidgets import QPushButton
from test_model_store import write_nvidia_pickle
from test_ui_generators import tiny_stylegan2

from memstudio.cli import main
from memstudio.core.assessors import registry
from memstudio.core.assessors.base import Assessor
from memstudio.core.directions.base import Direction
from memstudio.core.directions.train import TrainDirectionSettings, evidence_warnings, split_photos
from memstudio.core.errors import MemstudioError
from memstudio.core.samples import sample_photos
from memstudio.core.session.directions import TrainDirection

TIMEOUT = 240_000  # the real-ResMem case takes ~80 s on a loaded 2-core machine
#: Long enough that a cancel sent from the GUI on the first progress report lands before the training ends.
STEPS = 300


pytestmark = pytest.mark.usefixtures("single_thread")


class TinyConv(Assessor):
    """A small CNN with seeded random weights: a score with parameters, as ResMem has."""

    name = "tiny-conv"
    property = "tinyness"

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(11)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.head = torch.nn.Linear(4, 1)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(0.5 * torch.randn(p.shape, generator=g))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = torch.tanh(self.conv(images)).mean(dim=(2, 3))
        return torch.sigmoid(self.head(features))[:, 0]


@pytest.fixture
def tiny_conv(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    info = registry.AssessorInfo("tiny-conv", "tinyness", "test", "test", lambda d: TinyConv().to(d), registry._always)
    monkeypatch.setitem(registry.ASSESSORS, "tiny-conv", info)
    yield "tiny-conv"
    for key in [k for k in registry._cache if k[0] == "tiny-conv"]:
        registry._cache.pop(key)


def same_files(a: Path, b: Path) -> None:
    """Both halves of a direction file, byte for byte."""
    for suffix in (".json", ".safetensors"):
        assert a.with_suffix(suffix).read_bytes() == b.with_suffix(suffix).read_bytes(), suffix


def train_in_studio(qtbot, window, command: TrainDirection) -> Direction:
    feature = window.features["directions"]
    loaded = []
    feature.direction_loaded.connect(loaded.append)
    with qtbot.waitSignal(window.jobs.card_finished, timeout=TIMEOUT) as finished:
        feature.train(command)
    assert finished.args[0].error is None, finished.args[0].error
    qtbot.waitUntil(lambda: bool(loaded), timeout=TIMEOUT)  # and the new direction is a slider
    return Direction.load(command.settings.output)


def test_photo_ganalyze_from_the_dialog_with_cancel_and_resume_equals_the_cli(qtbot, window, tmp_path, capsys):
    feature = window.features["directions"]
    dialog = feature.show_train_dialog()
    dialog.use_samples.setChecked(True)
    assert dialog.heldout.value() == len(sample_photos()) // 3 and dialog.heldout.maximum() == len(sample_photos()) - 1
    assert "not be citable" in dialog.evidence_warning.text() and not dialog.eval_samples.isVisible()
    dialog.steps.setValue(STEPS)
    dialog.batch.setValue(3)
    dialog.lr.setValue(0.1)
    dialog.photo_size.setValue(16)
    dialog.heldout.setValue(3)
    studio = tmp_path / "studio" / "bright.json"
    dialog.set_output(studio)
    command = dialog.request()
    assert command.settings.heldout_photos == 3 and command.settings.checkpoint_every == 50

    # Cancel from the card after the first training step reported, then resume from the card: the result must
    # equal one uninterrupted CLI run. The cancel reaches the engine a few steps after the report (a step here
    # takes ≈ 4 ms), so the run is long enough that it always lands before the end.
    cancelled = []

    def cancel_early(update) -> None:
        if not cancelled and update.message.startswith("step "):
            cancelled.append(int(update.message.split()[1].split("/")[0]))
            window.jobs.rows[update.job_id].cancel.click()

    window.engine.job_submitted.connect(lambda handle: handle.progress.connect(cancel_early))
    with qtbot.waitSignal(window.jobs.card_finished, timeout=TIMEOUT) as stopped:
        dialog.start.click()
    step = torch.load(studio.with_suffix(".ckpt.pt"), weights_only=True)["step"]
    assert stopped.args[0].cancelled and cancelled[0] <= step < STEPS, (cancelled, step)
    row = window.jobs.rows[stopped.args[0].job_id]
    with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT):
        row.findChild(QPushButton, "resumeJob").click()
    card = window.jobs.rows[stopped.args[0].job_id]  # the resumed job's card
    assert "not citable" in card.warnings.text() and card.warnings.isVisible()  # n = 3 < 20, on the card

    cli = tmp_path / "cli" / "bright.json"
    args = ["direction", "train", "--assessor", "brightness", "--photo-size", "16", "--steps", str(STEPS)]
    args += ["--batch-size", "3", "--lr", "0.1", "--heldout-photos", "3", "--quiet", "-o", str(cli)]
    assert main(args) == 0
    assert "warning: only n = 3 held-out samples" in capsys.readouterr().err
    same_files(studio, cli)

    evidence = Direction.load(cli).evidence
    split = split_photos(sample_photos(), 3, 0)
    assert evidence["num_samples"] == 3 and evidence["split"]["heldout"] == [Path(p).name for p in split.heldout]
    assert evidence["seeds"] == {"training": 0, "heldout": None, "split": 0}
    assert not set(evidence["split"]["train"]) & set(evidence["split"]["heldout"])
    assert evidence["warnings"] == evidence_warnings(evidence)


def test_an_assessor_first_loaded_under_inference_mode_trains_and_equals_the_cli(
    qtbot, window, tiny_conv, tmp_path, photos_dir
):
    # The engine scores with the assessor first (Pipeline.score runs under torch.inference_mode), as the
    # studio does with ResMem on every frame, so the resident model was built inside inference mode.
    image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    scoring = window.engine.request(OnEngine(lambda pipeline: pipeline.score(image, (tiny_conv,)).values))
    scored = qtbot.waitSignal(scoring.done, timeout=TIMEOUT)
    scored.wait()
    assert tiny_conv in scored.args[0]
    photos = tuple(sorted(str(p) for p in photos_dir.iterdir() if p.suffix in (".png", ".jpg")))
    settings = TrainDirectionSettings(
        assessor=tiny_conv, output=str(tmp_path / "studio" / "t.json"), photos=photos, photo_size=16,
        steps=5, batch_size=2, lr=0.1, alpha_max=0.05,
    )
    studio = train_in_studio(qtbot, window, TrainDirection(settings, on_photos=True))
    assert studio.metrics["steps"] == 5 and studio.evidence["num_samples"] == 2

    cli = tmp_path / "cli" / "t.json"
    args = ["direction", "train", "--photos", *photos, "--assessor", tiny_conv, "--photo-size", "16"]
    args += ["--steps", "5", "--batch-size", "2", "--lr", "0.1", "--alpha-max", "0.05", "--quiet", "-o", str(cli)]
    assert main(args) == 0
    same_files(Path(settings.output), cli)


@pytest.fixture(scope="module")
def sg2_pickle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    monkeypatch = pytest.MonkeyPatch()
    try:
        return write_nvidia_pickle(tiny_stylegan2(), tmp_path_factory.mktemp("sg2") / "tiny.pkl", monkeypatch)
    finally:
        monkeypatch.undo()


def test_gan_hyperplane_from_the_dialog_equals_the_cli(qtbot, window, sg2_pickle, tmp_path, capsys):
    generators, feature = window.features["generators"], window.features["directions"]
    with qtbot.waitSignals([generators.generator_loaded, feature.context_changed], timeout=TIMEOUT):
        generators.open_generator(sg2_pickle)
    dialog = feature.show_train_dialog()
    assert not dialog.photo_mode
    dialog.method.setCurrentIndex(dialog.method.findData("hyperplane"))
    assert dialog.h_space.currentData() == "w" and dialog.eval_samples.isVisible()
    dialog.samples.setValue(40)
    dialog.eval_samples.setValue(24)
    assert dialog.evidence_warning.text() == ""  # 24 ≥ 20
    dialog.eval_samples.setValue(8)
    assert "n = 8 held-out samples" in dialog.evidence_warning.text()
    studio = tmp_path / "studio" / "h.json"
    dialog.set_output(studio)
    with qtbot.waitSignal(feature.direction_loaded, timeout=TIMEOUT) as loaded:
        dialog.start.click()
    direction_id = loaded.args[0]["id"]

    cli = tmp_path / "cli" / "h.json"
    args = ["direction", "train", "--generator", str(sg2_pickle), "--assessor", "brightness", "--method", "hyperplane"]
    args += ["--space", "w"]
    args += ["--num-samples", "40", "--eval-samples", "8", "--quiet", "-o", str(cli)]
    assert main(args) == 0
    same_files(studio, cli)
    evidence = Direction.load(cli).evidence
    assert evidence["num_samples"] == 8 and evidence["split"] == {"by": "seed", "seed": evidence["heldout"]["seed"]}

    # The layer analysis of that direction: the Layers dock's job and `direction layers` write the same files.
    with qtbot.waitSignal(feature.analysis_done, timeout=TIMEOUT):
        feature.analyse_layers(direction_id, 4)
    args = ["direction", "layers", str(cli), "--generator", str(sg2_pickle), "--assessor", "brightness"]
    assert main([*args, "--samples", "4", "--quiet"]) == 0
    assert "strongest layer:" in capsys.readouterr().out
    same_files(studio, cli)
    assert (studio.parent / "h-layers.csv").read_bytes() == (cli.parent / "h-layers.csv").read_bytes()
    assert "layers" in Direction.load(studio).evidence


def test_split_is_by_photo_and_the_asked_count_is_used(tmp_path) -> None:
    photos = [str(tmp_path / f"p{i}.png") for i in range(10)]
    split = split_photos([*photos, photos[0]], 4, seed=7)
    assert len(split.heldout) == 4 and len(split.train) == 6 and not set(split.train) & set(split.heldout)
    assert split == split_photos(list(reversed(photos)), 4, seed=7)  # the order given does not matter
    assert split_photos(photos, None, 0).heldout.__len__() == 3
    with pytest.raises(MemstudioError, match="10 held-out photos leave no photo to train on"):
        split_photos(photos, 10, 0)
    warned = evidence_warnings({"num_samples": 50, "ci95": [-0.1, 0.2]})
    assert warned == ["the 95% CI [-0.100, 0.200] includes 0: no reliable effect"]
    assert evidence_warnings({"num_samples": 50, "ci95": [0.1, 0.2]}) == []


@pytest.mark.slow
def test_resmem_trains_in_the_studio_as_from_the_cli(qtbot, window, tmp_path, photos_dir):
    reason = registry.ASSESSORS["resmem"].availability()
    if reason is not None:
        pytest.skip(reason)
    # ResMem loads while scoring, under inference mode.
    scoring = window.engine.request(OnEngine(lambda p: p.score(torch.rand(1, 3, 64, 64), ("resmem",)).values))
    qtbot.waitSignal(scoring.done, timeout=TIMEOUT).wait()
    photos = tuple(str(photos_dir / name) for name in ("chelsea.png", "coffee.png", "rocket.jpg"))
    settings = TrainDirectionSettings(
        assessor="resmem", output=str(tmp_path / "studio" / "m.json"), photos=photos, photo_size=64,
        steps=2, batch_size=2, alpha_max=0.05,
    )
    train_in_studio(qtbot, window, TrainDirection(settings, on_photos=True))
    cli = tmp_path / "cli" / "m.json"
    args = ["direction", "train", "--photos", *photos, "--photo-size", "64", "--steps", "2", "--batch-size", "2"]
    assert main([*args, "--alpha-max", "0.05", "--quiet", "-o", str(cli)]) == 0
    same_files(Path(settings.output), cli)
