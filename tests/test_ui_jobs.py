"""The Jobs room: every listed job gets a card that follows the job's own handle (progress, done, cancel),
transient jobs get none, and a feature that has more to say writes on the card after the generic summary."""

from __future__ import annotations

import time

from engine_commands import StepsOf

from memstudio.core.jobs import Progress


class Summary:
    """What a job returns when its card should say something: a summary line and its warnings."""

    summary = "wrote 3 files"
    warnings = ("n = 3 is small",)


def counting(steps: int, result: object = None, delay_s: float = 0.01):
    def job(pipeline):
        for i in range(steps):
            time.sleep(delay_s)
            yield Progress((i + 1) / steps, f"step {i + 1}/{steps}")
        return result

    return job


def test_a_card_follows_its_job_from_submit_to_done(qtbot, window):
    handle = window.engine.submit(StepsOf("Counting", counting(20, Summary())), "count")
    card = window.jobs.rows["count"]  # there as soon as submit returns: connected before the caller's slots
    seen_by_caller = []
    handle.ended.connect(lambda done: seen_by_caller.append(card.message.text()))
    finished = qtbot.waitSignal(window.jobs.card_finished, timeout=10_000)
    finished.wait()
    assert finished.args[0].job_id == "count" and finished.args[0].result.summary == "wrote 3 files"
    assert card.eta.text() == "done" and card.bar.value() == 1000 and not card.cancel.isEnabled()
    assert card.message.text() == "wrote 3 files" and "n = 3 is small" in card.warnings.text()
    assert seen_by_caller == ["wrote 3 files"]  # the caller's own slot ran after the card was written
    assert "wrote 3 files · n = 3 is small" in window.statusBar().currentMessage()


def test_cancel_on_the_card_stops_the_job_through_its_handle(qtbot, window):
    updates = []
    handle = window.engine.submit(StepsOf("Long", counting(2_000)), "long")
    handle.progress.connect(updates.append)
    qtbot.waitUntil(lambda: len(updates) >= 2, timeout=10_000)
    card = window.jobs.rows["long"]
    assert card.message.text().startswith("step ") and "ETA" in card.eta.text()
    with qtbot.waitSignal(handle.cancelled, timeout=5_000):
        card.cancel.click()
    assert card.eta.text() == "cancelled" and updates[-1].fraction < 0.5


def test_transient_jobs_have_no_card_and_a_resubmitted_id_gets_a_fresh_one(qtbot, window):
    quiet = window.engine.submit(StepsOf("Transient", counting(3)), "quiet", listed=False)
    qtbot.waitSignal(quiet.done, timeout=10_000).wait()
    assert "quiet" not in window.jobs.rows
    first = window.engine.submit(StepsOf("Again", counting(3)), "again")
    qtbot.waitSignal(first.done, timeout=10_000).wait()
    old = window.jobs.rows["again"]
    second = window.engine.submit(StepsOf("Again", counting(3)), "again")  # Resume reuses the job id
    assert window.jobs.rows["again"] is not old and window.jobs.rows["again"].eta.text() != "done"
    qtbot.waitSignal(second.done, timeout=10_000).wait()
    assert window.jobs.card("again").eta.text() == "done"
