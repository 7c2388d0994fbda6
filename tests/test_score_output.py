"""``memstudio score`` inputs and outputs: image lists and CSVs, and the resumable JSON lines file."""

from __future__ import annotations

from pathlib import Path

import pytest

from memstudio.cli import main
from memstudio.core.errors import MemstudioError
from memstudio.core.imaging import read_path_list
from memstudio.core.score_log import ScoreLog, read_done


def test_lists_take_paths_from_their_own_folder(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    text = tmp_path / "lists" / "set.txt"
    text.write_text("# LaMem split 1\na.jpg\n\n/abs/b.png\n  sub/c.jpg  \n")
    assert read_path_list(text) == [tmp_path / "lists" / "a.jpg", Path("/abs/b.png"), tmp_path / "lists/sub/c.jpg"]
    table = tmp_path / "lists" / "scores.csv"
    table.write_text("name,score\nx.jpg,0.5\n,\ny.jpg,0.7\n")  # no "path" column: the first one
    assert read_path_list(table) == [tmp_path / "lists" / "x.jpg", tmp_path / "lists" / "y.jpg"]
    with pytest.raises(MemstudioError, match="missing.txt"):
        read_path_list(tmp_path / "missing.txt")


def test_the_output_log_cuts_a_torn_line_and_refuses_foreign_files(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    log = ScoreLog(out)
    log.write({"path": "a.png", "scores": {"brightness": 0.5}})
    log.write({"path": "b.png", "error": "empty"})
    log.close()
    with open(out, "a") as f:
        f.write('{"path": "c.pn')  # the process died here
    assert read_done(out) == {"a.png", "b.png"}
    assert out.read_text().endswith("}\n") and out.read_text().count("\n") == 2
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text("hello\n")
    with pytest.raises(MemstudioError, match="notes.jsonl: line 1 is not JSON"):
        read_done(foreign)
    assert foreign.read_text() == "hello\n"  # never rewritten


def test_score_from_a_list_into_an_output(tmp_path: Path, photos_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"{photos_dir / 'coffee.png'}\n{photos_dir / 'rocket.jpg'}\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", "-a", "brightness", "--from", str(listing), "-o", str(out)]) == 0
    assert out.read_text().count('"brightness"') == 2 and capsys.readouterr().out == ""
    assert main(["score", "-a", "brightness", "--from", str(listing), "-o", str(out)]) == 0
    assert "0 scored, 0 failed, 2 already in" in capsys.readouterr().err
    assert main(["score", "-a", "brightness"]) == 2
    assert "nothing to score" in capsys.readouterr().err
