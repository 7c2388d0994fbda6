"""How a memory game is presented, shared by the local runner and the web export so both play alike.

000 §3.4 and 004 §2.2: each image for 600 ms, then a blank with a fixation cross for 800 ms; the participant
presses Space during those 1.4 s on a repeat, only the first press of a trial counts, and its time is taken
from the image's onset. Esc stops the game without saving anything.
"""

from __future__ import annotations

IMAGE_MS = 600
BLANK_MS = 800
#: How long the optional green (hit) / red (false alarm) frame stays after a press.
FEEDBACK_MS = 300
#: The response key, as a person reads it.
RESPONSE_KEY_NAME = "SPACE"
INSTRUCTIONS = (
    "Images will appear one at a time.\n"
    "Press SPACE whenever you see an image you have already seen in this game.\n\n"
    "Press SPACE to start. Esc quits without saving."
)
#: Added to the instructions when a practice block comes first.
PRACTICE_NOTE = (
    "First a short practice of {n} images: a green frame means a correct press, a red one a press on a new image."
)
#: Between the practice and the game; ``{frames}`` says whether the game shows the feedback frames.
PRACTICE_DONE = "That was the practice. The game starts now{frames}.\n\nPress SPACE to start."


def practice_done_text(feedback: bool) -> str:
    return PRACTICE_DONE.format(frames=", with the frames" if feedback else " and shows no frames")


def check_timing(image_ms: int, blank_ms: int) -> str | None:
    """Why these durations cannot be played (None when they can)."""
    if image_ms <= 0 or blank_ms < 0:
        return f"image time {image_ms} ms must be positive and blank time {blank_ms} ms ≥ 0"
    return None
