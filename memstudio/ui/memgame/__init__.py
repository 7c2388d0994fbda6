"""The local memory-game runner: a full-screen window that plays one participant's sequence."""

from memstudio.ui.memgame.runner import MemoryGameWindow, play_sequence

__all__ = ["MemoryGameWindow", "play_sequence"]
