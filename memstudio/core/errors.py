"""Exceptions that carry a message a person can act on.

Every error the studio shows a user derives from :class:`MemstudioError`, so the engine, the CLI and the
GUI can tell "bad input, explained" apart from a programming error (which keeps its traceback).
"""

from __future__ import annotations


class MemstudioError(Exception):
    """Base for errors whose message is meant for the user."""


class ImageLoadError(MemstudioError):
    """A file could not be read as an image (missing, empty, truncated, not an image, too large)."""


class CheckpointError(MemstudioError):
    """A weights file is corrupted, of the wrong architecture, or unsafe to load."""


class ModelUnavailableError(MemstudioError):
    """A model cannot be used here (weights not installed, package missing); the message says how to get it."""


class JobCancelled(MemstudioError):
    """A long job was cancelled by the user; partial results were kept where the job says so."""


class FaceError(MemstudioError):
    """No usable face: none found, too small, or an extreme pose."""


class ScoreUnavailableError(MemstudioError):
    """An assessor has no score for an image (valence without a face) where a number is needed."""
