"""A short practice block before a memory game: abstract images that can never be a study image.

The practice teaches the key and what a repeat is (with the green/red feedback frame) without showing any
image of the design, so practice cannot make a target familiar. Its images are drawn here from a fixed seed:
coloured shapes on a plain ground, at the size of the game's images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from memstudio.core.experiments.stimuli import FILLER, VIGILANCE_FIRST, VIGILANCE_REPEAT


@dataclass(frozen=True)
class PracticeTrial:
    image: int  # index into the practice images
    kind: str
    delay: int | None = None


#: 8 presentations of 6 images, two repeats at short delays (1 and 2 intervening images), like vigilance.
PRACTICE_TRIALS = (
    PracticeTrial(0, VIGILANCE_FIRST),
    PracticeTrial(1, FILLER),
    PracticeTrial(0, VIGILANCE_REPEAT, 1),
    PracticeTrial(2, VIGILANCE_FIRST),
    PracticeTrial(3, FILLER),
    PracticeTrial(4, FILLER),
    PracticeTrial(2, VIGILANCE_REPEAT, 2),
    PracticeTrial(5, FILLER),
)


def practice_images(size: tuple[int, int], seed: int = 0) -> list[Image.Image]:
    """One image per distinct practice image: a random ground colour with three random shapes."""
    n = 1 + max(t.image for t in PRACTICE_TRIALS)
    rng = np.random.default_rng(seed)
    w, h = max(8, size[0]), max(8, size[1])
    images = []
    for _ in range(n):
        im = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(im)
        for k in range(3):
            x0, y0 = int(rng.integers(0, w * 2 // 3)), int(rng.integers(0, h * 2 // 3))
            x1, y1 = x0 + int(rng.integers(w // 6, w // 2 + 1)), y0 + int(rng.integers(h // 6, h // 2 + 1))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if k % 2 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
        images.append(im)
    return images
