"""``memstudio direction train|eval|project|layers``: direction files round-trip through the CLI."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from test_directions_toys import LinearStyle, MeanLuma

from memstudio.cli import main
from memstudio.cli.commands import direction as command
from memstudio.core.directions.base import Direction

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> LinearStyle:
    """The CLI's model loaders, pointed at the tiny toys (the real ones need installed weights)."""
    generator = LinearStyle(num_ws=4)
    monkeypatch.setattr(command, "_load_assessor", lambda name, device: MeanLuma())
    monkeypatch.setattr(command, "_open_generator", lambda args, device: generator)
    return generator


def _photos(folder) -> list[str]:
    g = torch.Generator().manual_seed(0)
    paths = []
    for i in range(4):
        pixels = (40 + 120 * torch.rand(20, 24, 3, generator=g)).to(torch.uint8).numpy()
        path = folder / f"photo{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(str(path))
    return paths


def test_photo_direction_train_eval_round_trip(tmp_path, toys, capsys) -> None:
    photos = _photos(tmp_path)
    out = tmp_path / "bright.json"
    code = main(
        [
            "direction",
            "train",
            "--photos",
            *photos,
            "--photo-size",
            "16",
            "--assessor",
            "toy",
            "--steps",
            "40",
            "--lr",
            "0.1",
            "--batch-size",
            "3",
            "--alpha-max",
            "0.1",
            "--quiet",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    trained = Direction.load(out)
    assert trained.space == "edit" and trained.method == "ganalyze"
    assert trained.evidence["num_samples"] == 1  # a third of four photos held out
    assert trained.evidence["beta"] > 0.5
    assert not (tmp_path / "bright.ckpt.pt").exists()  # the training state goes once the direction is saved
    assert "β =" in capsys.readouterr().out

    evaluated = tmp_path / "bright-eval.json"
    code = main(
        [
            "direction",
            "eval",
            str(out),
            "--photos",
            *photos,
            "--photo-size",
            "16",
            "--alphas=-0.1,0,0.1",
            "--no-factors",
            "--quiet",
            "-o",
            str(evaluated),
        ]
    )
    assert code == 0
    again = Direction.load(evaluated)
    assert again.evidence["alphas"] == [-0.1, 0.0, 0.1] and again.evidence["num_samples"] == 4
    torch.testing.assert_close(again.vector, trained.vector)


def test_hyperplane_project_and_layers(tmp_path, toys, capsys) -> None:
    mem = tmp_path / "mem.json"
    assert (
        main(
            [
                "direction",
                "train",
                "--method",
                "hyperplane",
                "--generator",
                "toy",
                "--space",
                "w",
                "--num-samples",
                "200",
                "--eval-samples",
                "8",
                "--quiet",
                "-o",
                str(mem),
            ]
        )
        == 0
    )
    fitted = Direction.load(mem)
    assert fitted.metrics["test_accuracy"] >= 0.9 and "beta" in fitted.evidence

    other = Direction(
        name="age",
        property="age",
        space="w",
        vector=torch.randn(8, generator=torch.Generator().manual_seed(4)),
    )
    other.save(tmp_path / "age.json")
    kept = tmp_path / "mem-keep-age.json"
    assert (
        main(["direction", "project", str(mem), "--keep", str(tmp_path / "age.json"), "-o", str(kept)]) == 0
    )
    projected = Direction.load(kept)
    assert abs(float(torch.nn.functional.cosine_similarity(projected.vector, other.vector, dim=0))) < 1e-5
    assert "after" in capsys.readouterr().out

    coarse = tmp_path / "mem-coarse.json"
    assert (
        main(
            [
                "direction",
                "layers",
                str(kept),
                "--apply",
                "0-1",
                "--coefficients",
                "1,0.5",
                "--num-ws",
                "4",
                "-o",
                str(coarse),
            ]
        )
        == 0
    )
    assert Direction.load(coarse).layer_weights.tolist() == [1.0, 0.5, 0.0, 0.0]

    assert (
        main(
            [
                "direction",
                "layers",
                str(kept),
                "--generator",
                "toy",
                "--samples",
                "4",
                "--alphas=-1,1",
                "--out-dir",
                str(tmp_path / "plots"),
                "--quiet",
            ]
        )
        == 0
    )
    assert (tmp_path / "plots" / "mem-keep-age-layers.csv").exists()
    assert (tmp_path / "plots" / "mem-keep-age-layers.pdf").exists()
    assert len(Direction.load(kept).evidence["layers"]["layers"]) == 4


def test_bad_input_is_a_user_error(tmp_path, toys, capsys) -> None:
    assert main(["direction", "eval", str(tmp_path / "missing.json"), "--generator", "toy"]) == 2
    assert "missing.json" in capsys.readouterr().err
    mem = tmp_path / "z.json"
    Direction(name="z", property="p", space="z", vector=torch.ones(8)).save(mem)
    assert main(["direction", "layers", str(mem), "--apply", "0", "--num-ws", "4"]) == 2
    assert "only W and W+" in capsys.readouterr().err


def test_project_runs_the_studios_make_conditional(tmp_path, capsys) -> None:
    """``direction project`` is the studio's Make conditional: it refuses to write over the direction it
    conditions (as over a kept one), and otherwise writes the file the studio's command writes."""
    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.directions import MakeConditional

    mem = Direction(name="mem", property="memorability", space="w", vector=torch.tensor([1.0, 1.0, 0.0]))
    mem_path = mem.save(tmp_path / "mem.json")
    age_path = Direction(name="age", property="age", space="w", vector=torch.tensor([1.0, 0.0, 0.0])).save(
        tmp_path / "age.json"
    )
    before = mem_path.read_bytes(), mem_path.with_suffix(".safetensors").read_bytes()
    assert main(["direction", "project", str(mem_path), "--keep", str(age_path), "-o", str(mem_path)]) == 2
    assert "refusing to write over an input" in capsys.readouterr().err
    assert (mem_path.read_bytes(), mem_path.with_suffix(".safetensors").read_bytes()) == before

    out = tmp_path / "cli.json"
    args = ["--keep", str(age_path), "--name", "mem-no-age", "--no-keep-norm", "-o", str(out)]
    assert main(["direction", "project", str(mem_path), *args]) == 0
    printed = capsys.readouterr().out
    pipeline = Pipeline("cpu")
    for ident, path in (("mem", mem_path), ("age", age_path)):
        pipeline.directions[ident], pipeline.direction_paths[ident] = Direction.load(path), str(path)
    studio_path = tmp_path / "studio.json"
    info = MakeConditional("mem", ("age",), str(studio_path), "new", keep_norm=False, name="mem-no-age").run(pipeline)
    cli, studio = Direction.load(out), Direction.load(studio_path)
    assert cli.name == studio.name == "mem-no-age" and torch.equal(cli.vector, studio.vector)
    assert torch.allclose(cli.vector, torch.tensor([0.0, 1.0, 0.0]))  # --no-keep-norm: not rescaled to √2
    cosines = info["cosines"]["age"]
    assert f"cos with age: {cosines['before']:+.4f} before, {cosines['after']:+.4f} after" in printed


def test_layers_apply_runs_the_studios_save_layerwise_copy(tmp_path, capsys) -> None:
    """``layers --apply`` is the Layers dock's Save layerwise copy: a ``NAME-layers`` copy beside the direction
    (never written over it), equal to the file the studio's command writes for the same weights."""
    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.directions import SaveLayerwiseCopy

    vector = torch.randn(8, generator=torch.Generator().manual_seed(2))
    mem = Direction(name="mem", property="memorability", space="w", vector=vector).save(tmp_path / "mem.json")
    before = mem.read_bytes(), mem.with_suffix(".safetensors").read_bytes()
    apply = ["direction", "layers", str(mem), "--apply", "0-1", "--coefficients", "1,0.5", "--num-ws", "4"]
    assert main(apply) == 0
    assert capsys.readouterr().out.splitlines()[-1] == str(tmp_path / "mem-layers.json")
    assert (mem.read_bytes(), mem.with_suffix(".safetensors").read_bytes()) == before
    pipeline = Pipeline("cpu")
    pipeline.directions["mem"], pipeline.direction_paths["mem"] = Direction.load(mem), str(mem)
    SaveLayerwiseCopy("mem", (1.0, 0.5, 0.0, 0.0), str(tmp_path / "studio.json"), "copy").run(pipeline)
    cli, studio = Direction.load(tmp_path / "mem-layers.json"), Direction.load(tmp_path / "studio.json")
    assert cli.name == studio.name == "mem-layers" and torch.equal(cli.vector, studio.vector)
    assert cli.layer_weights.tolist() == studio.layer_weights.tolist() == [1.0, 0.5, 0.0, 0.0]
    assert main([*apply, "-o", str(mem)]) == 2
    assert "refusing to write over an input" in capsys.readouterr().err
    assert (mem.read_bytes(), mem.with_suffix(".safetensors").read_bytes()) == before
