"""The validator reports every violated constraint of hand-broken sequences, and nothing for good ones."""

from __future__ import annotations

from dataclasses import replace

from memstudio.core.experiments.stimuli import (
    FILLER,
    TARGET_FIRST,
    TARGET_REPEAT,
    VIGILANCE_FIRST,
    VIGILANCE_REPEAT,
    GameConfig,
    GameSequence,
    Trial,
)
from memstudio.core.experiments.validate import validate_design, validate_sequence

CONFIG = GameConfig(
    length=10, targets_per_sequence=1, vigilance_per_sequence=1, target_span=(3, 5), vigilance_span=(0, 1)
)


def _sequence(pid: str, order: list[tuple[str, str]], version: str = "0.1") -> GameSequence:
    """Trials from (kind, image) pairs; repeats get the true number of intervening images as delay."""
    trials, first_at = [], {}
    for i, (kind, image) in enumerate(order):
        image = image.replace("__v", f"__{version}")
        delay = i - first_at[image] - 1 if kind in (TARGET_REPEAT, VIGILANCE_REPEAT) else None
        first_at.setdefault(image, i)
        seed = ("s1", version) if kind.startswith("target") else ("", "")
        trials.append(Trial(i, image, kind, *seed, delay=delay))
    return GameSequence(pid, tuple(trials), CONFIG, 0)


T, V = "images/targets/s1__v.png", "v0.png"


def _good(pid: str = "P001", version: str = "0.1") -> GameSequence:
    order = [
        (TARGET_FIRST, T),
        (FILLER, "f0.png"),
        (VIGILANCE_FIRST, V),
        (VIGILANCE_REPEAT, V),
        (TARGET_REPEAT, T),
    ]
    return _sequence(pid, order + [(FILLER, f"f{i}.png") for i in range(1, 6)], version)


def _rules(violations: list) -> list[str]:
    return sorted(v.rule for v in violations)


def test_a_good_sequence_has_no_violations() -> None:
    assert validate_sequence(_good()) == []


def test_each_broken_constraint_is_reported_at_once() -> None:
    order = [
        (TARGET_FIRST, T),
        (VIGILANCE_FIRST, V),
        (TARGET_REPEAT, T),
        (FILLER, "f0.png"),
        (VIGILANCE_REPEAT, V),
        (FILLER, "f1.png"),
        (FILLER, "f2.png"),
        (FILLER, "f3.png"),
        (FILLER, "f1.png"),
        (FILLER, "f5.png"),
    ]
    found = validate_sequence(_sequence("P007", order))
    assert _rules(found) == ["filler_once", "target_span", "vigilance_span"]
    messages = "\n".join(map(str, found))
    assert (
        "P007 position 2: images/targets/s1__0.1.png: repeated after 1 intervening images; allowed 3–5"
        in messages
    )
    assert "P007 position 4: v0.png: repeated after 2 intervening images; allowed 0–1" in messages
    assert "P007 position 8: filler f1.png is shown 2 times" in messages


def test_delay_mismatch_counts_roles_and_versions() -> None:
    t = list(_good().trials)
    t[4] = replace(t[4], delay=7)  # claims a delay that is not what intervenes
    t[5] = replace(t[5], image="v0.png")  # a vigilance image reused as a filler
    t[6] = replace(t[6], kind=TARGET_FIRST, image="images/targets/s1__0.2.png", seed_id="s1", version="0.2")
    found = validate_sequence(GameSequence("P002", tuple(t), CONFIG, 0))
    assert _rules(found) == ["counts", "counts", "delay", "one_version", "pair", "roles"]
    assert any("sees 2 versions of seed 's1'" in str(v) for v in found)


def test_design_level_counterbalance_and_duplicate_participants() -> None:
    seqs = [_good("P001", "0.1"), _good("P002", "0.1"), _good("P003", "0.1"), _good("P003", "0.2")]
    found = validate_design(seqs, CONFIG, versions={"s1": ["0.1", "0.2", "0.3"]})
    assert _rules(found) == ["counterbalance", "participants"]
    assert "seed 's1' versions are not balanced across participants (0.1: 3, 0.2: 1, 0.3: 0)" in str(
        found[-1]
    )
    balanced = [_good("P001", "0.1"), _good("P002", "0.2"), _good("P003", "0.3"), _good("P004", "0.1")]
    assert validate_design(balanced, CONFIG, versions={"s1": ["0.1", "0.2", "0.3"]}) == []
