"""Ratings: training an assessor from the user's own ratings."""
