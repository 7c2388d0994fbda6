"""The seed browser: the photos, seeds and inverted faces that can go on the canvas, and what opens them."""
