"""The job combinators every trainer shares: a sub-job's share of the bar, and a mode held per step only."""

from __future__ import annotations

import torch

from memstudio.core.jobs import Progress, each_step, run_to_end, scaled, training_mode


def test_scaled_maps_progress_and_closing_it_closes_the_sub_job() -> None:
    closed = []

    def sub():
        try:
            yield Progress(0.0, "a")
            yield Progress(0.5, "b")
            yield Progress(1.0, "c")
            return "result"
        finally:
            closed.append(True)

    assert [s.fraction for s in scaled(sub(), 0.2, 0.6)] == [0.2, 0.4, 0.6]
    outer = scaled(sub(), 0.0, 0.5)
    next(outer)
    outer.close()  # a cancel of the outer job reaches the sub-job's finally (its checkpoint)
    assert closed == [True, True]
    assert run_to_end(scaled(sub(), 0.0, 1.0)) == "result"


def test_each_step_holds_the_mode_per_step_and_gives_the_callers_back_between() -> None:
    inside, closing = [], []

    def job():
        try:
            for _ in range(2):
                inside.append(torch.is_grad_enabled())
                yield Progress(0.5)
            return "done"
        finally:
            closing.append(torch.is_grad_enabled())

    with torch.no_grad():
        steps = each_step(job(), training_mode)
        next(steps)
        assert not torch.is_grad_enabled()  # paused between steps: the caller's mode, not the job's
        assert run_to_end(steps) == "done"
    assert inside == [True, True] and closing == [True]
