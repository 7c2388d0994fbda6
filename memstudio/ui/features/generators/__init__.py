"""Generators: choosing, importing and opening generator checkpoints, and the generator dock."""
