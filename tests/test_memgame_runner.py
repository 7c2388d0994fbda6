"""The Qt game runner offscreen: a 6-trial sequence at 30 ms, keys pressed by qtbot, responses scored back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402

from memstudio.core.experiments.responses import read_responses  # noqa: E402
from memstudio.core.experiments.scoring import score_responses  # noqa: E402
from memstudio.core.experiments.sequence_io import export_design, read_design_images, read_sequence  # noqa: E402
from memstudio.core.experiments.stimuli import (  # noqa: E402
    FILLER,
    GameConfig,
    StimulusSet,
    build_design,
)
from memstudio.core.experiments.targets import targets_from_paths  # noqa: E402
from memstudio.ui.features.memgame.runner import HIT_COLOR, MISTAKE_COLOR, MemoryGameWindow  # noqa: E402

TINY = GameConfig(
    length=6, targets_per_sequence=1, vigilance_per_sequence=1, target_span=(1, 3), vigilance_span=(0, 1)
)


@pytest.fixture()
def game(tmp_path: Path) -> Path:
    """A built design whose one sequence has 6 trials: a target pair, a vigilance pair, two fillers."""
    for i, a in enumerate((-0.2, 0.2)):
        Image.new("RGB", (32, 24), (50 + 100 * i, 80, 120)).save(tmp_path / f"seed0007_alpha{a:+.1f}.png")
    for i in range(3):
        Image.new("RGB", (24, 32), (200, 30 * i, 10)).save(tmp_path / f"filler{i}.png")
    targets = targets_from_paths(sorted(tmp_path.glob("seed*.png")))
    design = build_design(StimulusSet(targets, sorted(tmp_path.glob("filler*.png"))), 2, TINY, seed=4)
    return export_design(design, tmp_path / "game")


def _window(qtbot, game: Path, out: Path, **kwargs) -> MemoryGameWindow:
    seq = read_sequence(game / "sequences" / "P001.json")
    win = MemoryGameWindow(seq, game, out, image_ms=30, blank_ms=30, **kwargs)
    qtbot.addWidget(win)
    win.resize(320, 240)
    win.show()
    return win


def test_plays_records_and_scores_back(qtbot, game: Path, tmp_path: Path) -> None:
    out = tmp_path / "responses" / "P001.csv"
    win = _window(qtbot, game, out, feedback=True)
    trials = win.sequence.trials
    assert len(trials) == 6
    first_filler = next(t.position for t in trials if t.kind == FILLER)
    colors: dict[int, object] = {}

    def respond(i: int) -> None:
        # Press on every repeat (hits) and on the first filler (a false alarm), as a participant would.
        if trials[i].is_repeat or i == first_filler:
            qtbot.keyClick(win, Qt.Key.Key_Space)
            qtbot.keyClick(win, Qt.Key.Key_Space)  # a second press in one trial does not count twice
            colors[i] = win.frame_color

    win.trial_started.connect(respond)
    with qtbot.waitSignal(win.finished, timeout=10_000) as done:
        qtbot.keyClick(win, Qt.Key.Key_Space)  # leaves the instructions
    assert done.args == [str(out)]
    assert colors == {i: (HIT_COLOR if trials[i].is_repeat else MISTAKE_COLOR) for i in colors}
    assert len(colors) == 3
    rows = read_responses([out], known_images=read_design_images(game))
    assert [r.kind for r in rows] == [t.kind for t in trials]
    assert [r.response for r in rows] == [t.is_repeat or t.position == first_filler for t in trials]
    assert all(r.rt_ms is not None and 0 <= r.rt_ms < 60_000 for r in rows if r.response)
    report = score_responses(rows)
    assert report.included == ["P001"]
    (score,) = report.images
    assert score.hit_rate == 1.0 and score.m_T == pytest.approx(1.0)
    assert report.participants[0].false_alarms == 1


def test_escape_aborts_and_writes_nothing(qtbot, game: Path, tmp_path: Path) -> None:
    out = tmp_path / "aborted.csv"
    win = _window(qtbot, game, out)
    win.trial_started.connect(lambda i: qtbot.keyClick(win, Qt.Key.Key_Escape) if i == 2 else None)
    with qtbot.waitSignal(win.aborted, timeout=10_000):
        qtbot.keyClick(win, Qt.Key.Key_Space)
    qtbot.wait(100)  # the timers of trials 3–5 would have fired by now
    assert win.state == "aborted" and win.index == 2
    assert not out.exists() and list(tmp_path.glob("aborted*")) == []


def test_missing_image_is_refused_before_the_game(qtbot, game: Path, tmp_path: Path) -> None:
    seq = read_sequence(game / "sequences" / "P002.csv")
    (game / seq.trials[0].image).unlink()
    from memstudio.core.errors import ImageLoadError

    with pytest.raises(ImageLoadError, match="cannot be shown .*trial 0"):
        MemoryGameWindow(seq, game, tmp_path / "x.csv")


def test_practice_block_comes_first_shows_frames_and_is_not_recorded(qtbot, game: Path, tmp_path: Path) -> None:
    from memstudio.core.experiments.practice import PRACTICE_TRIALS

    out = tmp_path / "responses" / "P001.csv"
    win = _window(qtbot, game, out, practice=True)  # feedback off in the game itself
    practice_colors: dict[int, object] = {}
    game_started: list[int] = []
    pressed_on = {2, 4}  # a practice repeat (hit) and a new practice image (false alarm)

    def practise(i: int) -> None:
        assert win.phase == "practice" and not game_started
        if i in pressed_on:
            qtbot.keyClick(win, Qt.Key.Key_Space)
            practice_colors[i] = win.frame_color

    def play(i: int) -> None:
        game_started.append(i)
        if win.sequence.trials[i].is_repeat:
            qtbot.keyClick(win, Qt.Key.Key_Space)
            assert win.frame_color is None  # no frames in the game without --feedback

    win.practice_started.connect(practise)
    win.trial_started.connect(play)
    qtbot.keyClick(win, Qt.Key.Key_Space)  # leaves the instructions
    qtbot.waitUntil(lambda: win.state == "between", timeout=10_000)
    assert practice_colors == {2: HIT_COLOR, 4: MISTAKE_COLOR} and not game_started
    assert win.practice_presses == [i in pressed_on for i in range(len(PRACTICE_TRIALS))]
    with qtbot.waitSignal(win.finished, timeout=10_000):
        qtbot.keyClick(win, Qt.Key.Key_Space)  # the screen after the practice starts the game
    assert game_started == list(range(6))
    rows = read_responses([out], known_images=read_design_images(game))
    assert len(rows) == 6 and [r.response for r in rows] == [t.is_repeat for t in win.sequence.trials]
