"""Scoring (004 §2.2): coordinate descent of eq. 5–6, recovery of known m_T and α, exclusions, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from memstudio.core.experiments.errors import ResponseFormatError
from memstudio.core.experiments.responses import ResponseRow, read_responses, write_responses
from memstudio.core.experiments.scoring import (
    GANALYZE_EXCLUSION,
    LAMEM_EXCLUSION,
    fit_delay_decay,
    score_responses,
    write_scores,
)
from memstudio.core.experiments.simulate import simulate_responses
from memstudio.core.experiments.stimuli import GameConfig, StimulusSet, TargetImage, build_design

N_IMAGES, N_PARTICIPANTS = 120, 200
TRUE_ALPHA, T = -0.10, 80.0
# 004's game shape (35–150 intervening images, vigilance ≤ 7), 60 of the 120 targets per participant.
CONFIG = GameConfig(
    length=186,
    targets_per_sequence=60,
    vigilance_per_sequence=12,
    target_span=(35, 150),
    vigilance_span=(0, 7),
)


def _png(path: Path, value: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (value % 256, 0, 0)).save(path)
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory):
    """A real design played by simulated participants whose hits follow m_T + α log(t/T) exactly."""
    root = tmp_path_factory.mktemp("synthetic")
    targets = [TargetImage(_png(root / f"t{i:03d}.png", i), f"t{i:03d}") for i in range(N_IMAGES)]
    fillers = [_png(root / f"f{i:03d}.png", i) for i in range(60)]
    stimuli = StimulusSet(targets, fillers)
    design = build_design(stimuli, N_PARTICIPANTS, CONFIG, seed=11)
    rng = np.random.default_rng(5)
    true_m = {
        stimuli.target_ids[t]: float(m)
        for t, m in zip(targets, rng.uniform(0.45, 0.85, N_IMAGES), strict=True)
    }
    rows = simulate_responses(
        design.sequences, true_m, TRUE_ALPHA, T, p_vigilance_hit=0.95, p_false_alarm=0.05, seed=6
    )
    path = write_responses(root / "responses.csv", rows)
    return read_responses([path], known_images=stimuli.sources()), true_m


def test_recovers_known_m_T_and_alpha_within_binomial_error(synthetic) -> None:
    rows, true_m = synthetic
    report = score_responses(rows, T=T)
    fit, obs = report.decay, report.observations
    assert fit.converged and fit.iterations < 100
    m_true = np.array([true_m[i] for i in obs.images])
    # The binomial noise of this very design, from the true hit probabilities p_j of every observation:
    # the converged eq. 5 is the within-image weighted slope α̂ = Σᵢ(1/nᵢ)Σⱼ(Lᵢⱼ−L̄ᵢ)xᵢⱼ / D, so
    # Var α̂ = Σᵢ(1/nᵢ²)Σⱼ(Lᵢⱼ−L̄ᵢ)²pᵢⱼ(1−pᵢⱼ) / D², and m̂ᵢ = x̄ᵢ − α̂L̄ᵢ adds Var x̄ᵢ = Σⱼpᵢⱼ(1−pᵢⱼ)/nᵢ².
    ii = obs.image_index
    L = np.log(obs.delays / T)
    p = m_true[ii] + TRUE_ALPHA * L
    n = np.bincount(ii).astype(float)
    dev = L - (np.bincount(ii, L) / n)[ii]
    D = np.sum(dev**2 / n[ii])
    se_alpha = np.sqrt(np.sum(dev**2 * p * (1 - p) / n[ii] ** 2)) / D
    se_m = np.sqrt(np.bincount(ii, p * (1 - p)) / n**2 + (np.bincount(ii, L) / n) ** 2 * se_alpha**2)
    z_alpha = (fit.alpha - TRUE_ALPHA) / se_alpha
    z_m = (fit.m_T - m_true) / se_m
    print(
        f"\nrecovered α = {fit.alpha:+.4f} (true {TRUE_ALPHA}, error {fit.alpha - TRUE_ALPHA:+.4f}, "
        f"SE {se_alpha:.4f}); m_T RMS error {np.sqrt(np.mean((fit.m_T - m_true) ** 2)):.4f}, "
        f"max {np.abs(fit.m_T - m_true).max():.4f}, mean SE {se_m.mean():.4f}, "
        f"z RMS {np.sqrt(np.mean(z_m**2)):.3f}; "
        f"{fit.iterations} iterations"
    )
    # 4 SE two-sided: a false failure once in ~16,000 designs.
    assert abs(z_alpha) < 4
    # Max over 120 images of |z| < 4.5: a false failure about once in 1,000 designs.
    assert np.abs(z_m).max() < 4.5
    # The errors are as large as binomial noise predicts, no larger (bias) and no smaller (a leak of truth):
    # the RMS of 120 standard normals lies in [0.8, 1.2] with probability > 0.999.
    assert 0.8 < np.sqrt(np.mean(z_m**2)) < 1.2
    # Plain hit rates carry the delay effect as extra error; m_T removes it.
    assert np.sqrt(np.mean((fit.m_T - m_true) ** 2)) < np.sqrt(
        np.mean((np.array([s.hit_rate for s in report.images]) - m_true) ** 2)
    )


def test_coordinate_descent_matches_the_closed_form_minimum() -> None:
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 30, 2000)
    t = rng.integers(35, 151, 2000).astype(float)
    x = (rng.random(2000) < 0.6 - 0.1 * np.log(t / 90)).astype(float)
    fit = fit_delay_decay(idx, x, t, T=90.0, n_images=30, tol=1e-13)
    # Weighted least squares of eq. 5's objective Σᵢ (1/nᵢ) Σⱼ (x − mᵢ − αL)², solved directly.
    n = np.bincount(idx, minlength=30)
    A = np.zeros((2000, 31))
    A[np.arange(2000), idx] = 1.0
    A[:, 30] = np.log(t / 90)
    w = np.sqrt(1.0 / n[idx])
    sol, *_ = np.linalg.lstsq(A * w[:, None], x * w, rcond=None)
    assert fit.converged
    np.testing.assert_allclose(fit.m_T, sol[:30], atol=1e-9)
    assert fit.alpha == pytest.approx(sol[30], abs=1e-9)
    assert all(b <= a + 1e-12 for a, b in zip(fit.errors, fit.errors[1:], strict=False))  # never rises
    # Changing T only shifts every m_T by α log(T'/T); α is unchanged.
    other = fit_delay_decay(idx, x, t, T=40.0, n_images=30, tol=1e-13)
    assert other.alpha == pytest.approx(fit.alpha, abs=1e-9)
    np.testing.assert_allclose(other.m_T, fit.m_T + fit.alpha * np.log(40 / 90), atol=1e-9)


def _rows(pid: str, vig_hits: list[bool], fa: list[bool], target_hits: list[bool]) -> list[ResponseRow]:
    rows = []
    for i, hit in enumerate(vig_hits):
        rows += [
            ResponseRow(pid, f"v{i}", "vigilance_first", False),
            ResponseRow(pid, f"v{i}", "vigilance_repeat", hit, 1),
        ]
    rows += [ResponseRow(pid, f"f{i}", "filler", pressed) for i, pressed in enumerate(fa)]
    for i, hit in enumerate(target_hits):
        rows += [
            ResponseRow(pid, f"t{i}", "target_first", i == 0 and pid == "A"),
            ResponseRow(pid, f"t{i}", "target_repeat", hit, 40 + 20 * i),
        ]
    return rows


def test_false_alarm_correction_and_vigilance_exclusion() -> None:
    rows = (
        _rows("A", [True] * 4, [False] * 9, [True, False])
        + _rows("B", [True, True, True, False], [False] * 9, [True, True])
        + _rows("C", [True, False, False, False], [False] * 9, [False, False])  # misses 75%: excluded by both
        + _rows("D", [True] * 4, [True] * 5 + [False] * 4, [True, True])
    )  # 5/13 false alarms: 000 only
    lamem = score_responses(rows, LAMEM_EXCLUSION)
    assert lamem.included == ["A", "B", "D"]
    t0 = next(s for s in lamem.images if s.image == "t0")
    assert t0.hit_rate == 1.0 and t0.n_first == 3 and t0.false_alarm_rate == pytest.approx(1 / 3)
    assert t0.corrected_hit_rate == pytest.approx(2 / 3)
    assert t0.m_T_corrected == pytest.approx(t0.m_T - 1 / 3)
    ganalyze = score_responses(rows, GANALYZE_EXCLUSION)
    assert ganalyze.included == ["A", "B"]
    reasons = {p.participant: p.reason for p in ganalyze.participants}
    assert reasons["C"] == "missed 75% of vigilance repeats (> 55%)"
    assert reasons["D"] == "33% false alarms (> 30%)"


def test_participant_without_vigilance_is_a_clear_error(tmp_path: Path) -> None:
    rows = _rows("A", [True] * 2, [False], [True]) + _rows("B", [], [False], [True])
    path = write_responses(tmp_path / "r.csv", rows)
    read = read_responses([path])
    with pytest.raises(ResponseFormatError) as err:
        score_responses(read)
    assert f"participant B ({path}:9 to {path}:11) has no vigilance repeats" in str(err.value)
    assert score_responses(read, require_vigilance=False).included == ["A", "B"]


def test_malformed_rows_and_unknown_images_are_line_numbered(tmp_path: Path) -> None:
    good = write_responses(tmp_path / "good.csv", _rows("A", [True], [False], [True]))
    text = good.read_text().splitlines()
    text[2] = text[2].replace("vigilance_repeat", "vigilant_repeat")  # line 3: unknown kind
    text[3] = text[3].replace(",f0,", ",nowhere.png,")  # line 4: image not in the design
    text[5] = text[5].replace(",1,", ",maybe,", 1) if ",1," in text[5] else text[5] + ",extra"  # line 6
    text.append("A,9,t0,target_repeat,,,,,1,,")  # line 7: a repeat without its delay, and a second repeat
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(ResponseFormatError) as err:
        read_responses([bad], known_images={"v0", "f0", "t0"})
    message = str(err.value)
    assert f"{bad}:3: kind 'vigilant_repeat' is not one of" in message
    assert f"{bad}:4: unknown image 'nowhere.png' (not in the design)" in message
    assert f"{bad}:6:" in message
    assert f"{bad}:7: a target_repeat row needs its delay" in message
    (tmp_path / "cols.csv").write_text("participant,image,response\nA,x,1\n")
    with pytest.raises(ResponseFormatError, match=r"cols.csv:1: missing column\(s\) kind"):
        read_responses([tmp_path / "cols.csv"])
    rep = good.read_text().splitlines()
    (tmp_path / "order.csv").write_text("\n".join([rep[0], rep[5]]) + "\n")  # repeat with no first
    with pytest.raises(
        ResponseFormatError, match=r"order.csv:2: target_repeat of t0 for A has no earlier first"
    ):
        read_responses([tmp_path / "order.csv"])
    hand = good.read_text().replace("hit", "miss", 1)  # outcome contradicting response
    (tmp_path / "hand.csv").write_text(hand)
    with pytest.raises(ResponseFormatError, match="contradicts kind vigilance_repeat with response 1"):
        read_responses([tmp_path / "hand.csv"])


def test_scores_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthetic) -> None:
    rows, _ = synthetic
    report = score_responses(rows, T=T)
    out = write_scores(tmp_path / "scores.csv", report)
    before = out.read_text()
    assert before.splitlines()[0].startswith("image,seed_id,version,alpha,n_repeats,hit_rate")
    assert len(before.splitlines()) == N_IMAGES + 1

    def boom(*_args):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_scores(out, report)
    assert out.read_text() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]  # and no temporary file is left
