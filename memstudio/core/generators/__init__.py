"""Generators: photo editing (built in), StyleGAN2/3 and BigGAN from their public files."""
