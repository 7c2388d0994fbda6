"""Scoring: a whole folder of images scored into a CSV, as a job of the Jobs dock."""
