"""``memstudio score`` and ``memstudio models``: JSON lines, bad files on stderr with exit status 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bad_images
import pytest

from memstudio.cli import main


def test_score_json_lines_for_files_and_folders(tmp_path, photos_dir, capsys):
    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(photos_dir / "coffee.png", folder / "coffee.png")
    shutil.copy(photos_dir / "rocket.jpg", folder / "rocket.jpg")
    code = main(
        ["score", "--json", "-a", "brightness", "-a", "entropy", str(folder), str(photos_dir / "chelsea.png")]
    )
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [r["path"].rsplit("/", 1)[-1] for r in out] == ["coffee.png", "rocket.jpg", "chelsea.png"]
    assert out[0]["scores"]["brightness"] == pytest.approx(0.4064, abs=1e-3)
    assert set(out[0]["scores"]) == {"brightness", "entropy"}


def test_bad_inputs_are_reported_and_the_rest_scored(tmp_path, photos_dir, capsys):
    bad = [builder(tmp_path) for builder in bad_images.BAD.values()]
    awkward = [builder(tmp_path) for builder in bad_images.AWKWARD.values()]
    good = photos_dir / "coffee.png"
    code = main(["score", "--json", "-a", "brightness", *map(str, bad), str(good), *map(str, awkward)])
    captured = capsys.readouterr()
    assert code == 2
    scored = [json.loads(line)["path"] for line in captured.out.splitlines()]
    assert scored == [str(good), *map(str, awkward)]
    for path in bad:
        assert str(path) in captured.err
    assert "decompression bomb" in captured.err and "empty" in captured.err


def test_unknown_assessor_is_a_clear_error(photos_dir, capsys):
    assert main(["score", "-a", "beauty-9000", str(photos_dir / "coffee.png")]) == 2
    assert "unknown assessor 'beauty-9000'" in capsys.readouterr().err


@pytest.mark.slow
def test_score_with_resmem_table(photos_dir, capsys):
    assert main(["score", str(photos_dir / "astronaut.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["path", "resmem"]
    assert float(lines[1].split("\t")[1]) == pytest.approx(0.7744, abs=1e-3)


def test_models_lists_every_generator_and_assessor(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MEMSTUDIO_CACHE_DIR", str(tmp_path))  # an empty model store
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {(r["kind"], r["name"]): r for r in rows}
    assert names[("generator", "photo")]["status"] == "available"
    assert names[("assessor", "resmem")]["status"] == "available"
    assert "Non-commercial" in names[("assessor", "resmem")]["licence"]
    assert names[("generator", "stylegan2")]["status"] == "not available"
    assert "import-model" in names[("generator", "stylegan2")]["detail"]
    for factor in ("brightness", "colorfulness", "redness", "entropy"):
        assert names[("assessor", factor)]["status"] == "available"
    for row in rows:
        assert row["location"], row  # every model says where it is (or "-" when it is not here)
    assert Path(names[("assessor", "resmem")]["location"]).name == "model.pt"
    for face in ("mtcnn", "dlib-landmarks-68", "dlib-face-descriptor"):
        assert names[("face", face)]["status"] == "available"
        assert Path(names[("face", face)]["location"]).exists()
    assert "iBUG" in names[("face", "dlib-landmarks-68")]["licence"]


def test_face_models_say_what_is_missing(monkeypatch):
    import importlib.util

    from memstudio.core.faces import models

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        models.importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("facenet_pytorch", "dlib") else real_find_spec(name, *a),
    )
    by_name = {m.name: m for m in models.face_models()}
    assert "facenet-pytorch==2.5.3" in by_name["mtcnn"].reason
    assert "dlib-bin" in by_name["dlib-landmarks-68"].reason
    assert by_name["dlib-face-descriptor"].location == "-"


def test_score_csv_writes_the_studios_score_a_folder_table(tmp_path, photos_dir, capsys):
    """``score --csv`` is the Jobs dock's Score a folder (``ScoreFolder``): the same file, byte for byte."""
    from memstudio.core.jobs import run_to_end
    from memstudio.core.pipeline import Pipeline
    from memstudio.core.session.scoring import ScoreFolder

    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(photos_dir / "coffee.png", folder / "coffee.png")
    shutil.copy(photos_dir / "rocket.jpg", folder / "rocket.jpg")
    (folder / "broken.png").write_bytes(b"not a png")
    cli = tmp_path / "cli.csv"
    assert main(["score", "-a", "brightness", "-a", "entropy", str(folder), "--csv", str(cli)]) == 2  # one bad file
    assert f"2 scored, 1 failed → {cli}" in capsys.readouterr().out
    studio = tmp_path / "studio.csv"
    run_to_end(ScoreFolder(folder, studio, ("brightness", "entropy")).steps(Pipeline("cpu")))
    assert cli.read_bytes() == studio.read_bytes()
    assert cli.read_text().splitlines()[0] == "path,brightness,entropy,error"
    assert main(["score", "-a", "brightness", str(folder), "--csv", str(cli), "--json"]) == 2
    # The table over one of the images it scores: refused before scoring, by the studio's job and the CLI.
    from memstudio.core.atomic import OverwriteInputError

    photo = folder / "coffee.png"
    before = photo.read_bytes()
    with pytest.raises(OverwriteInputError, match="refusing to write over an input"):
        run_to_end(ScoreFolder(folder, photo, ("brightness",)).steps(Pipeline("cpu")))
    assert main(["score", "-a", "brightness", str(folder), "--csv", str(photo)]) == 2
    assert photo.read_bytes() == before
