"""Directions: the sliders of loaded directions, training and analysis dialogs, the layerwise W+ editor."""
