"""Assessors: networks and measures that score an image batch for one property."""
