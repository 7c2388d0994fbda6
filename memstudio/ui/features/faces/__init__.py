"""Faces: detection, alignment, ovalizing and inversion of real face photos into a generator's latent space."""
