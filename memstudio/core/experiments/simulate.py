"""Simulated participants for planning experiments and for testing the scorer against known answers.

A simulated participant plays a real sequence: on a target repeat after t intervening images they press with
probability m_T + α·log(t/T) (004 eq. 2), on a vigilance repeat with ``p_vigilance_hit``, and on anything new
(a false alarm) with ``p_false_alarm``. Running the scorer on the result tells how many participants an
experiment needs to pin m_T and α down, before paying anyone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from memstudio.core.experiments.responses import ResponseRow
from memstudio.core.experiments.stimuli import TARGET_REPEAT, VIGILANCE_REPEAT, GameSequence


def hit_probability(m_T: float, alpha: float, delay: float, T: float) -> float:
    """004 eq. 2, clipped to a probability."""
    return min(1.0, max(0.0, m_T + alpha * math.log(delay / T)))


def simulate_responses(
    sequences: Iterable[GameSequence],
    m_T: Mapping[str, float],
    alpha: float,
    T: float,
    p_vigilance_hit: float | Mapping[str, float] = 0.95,
    p_false_alarm: float | Mapping[str, float] = 0.05,
    seed: int = 0,
) -> list[ResponseRow]:
    """Response rows for every trial of ``sequences``; per-participant rates may be given as mappings."""
    rng = np.random.default_rng(seed)
    rows = []
    for seq in sequences:
        p_vig = p_vigilance_hit[seq.participant] if isinstance(p_vigilance_hit, Mapping) else p_vigilance_hit
        p_fa = p_false_alarm[seq.participant] if isinstance(p_false_alarm, Mapping) else p_false_alarm
        draws = rng.random(len(seq.trials))
        for t, u in zip(seq.trials, draws, strict=True):
            if t.kind == TARGET_REPEAT:
                p = hit_probability(m_T[t.image], alpha, float(t.delay or 0), T)
            elif t.kind == VIGILANCE_REPEAT:
                p = p_vig
            else:
                p = p_fa
            pressed = bool(u < p)
            rows.append(
                ResponseRow(
                    seq.participant,
                    t.image,
                    t.kind,
                    pressed,
                    t.delay,
                    t.position,
                    350.0 if pressed else None,
                    t.seed_id,
                    t.version,
                    t.alpha,
                    f"simulated {seq.participant} trial {t.position}",
                )
            )
    return rows
