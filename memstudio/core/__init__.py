"""The Qt-free core: models, directions, maps, faces, figures and experiments.

Nothing under this package may import Qt; an import-linter contract checked by the test suite enforces it,
so every feature of the studio can also be scripted and run headless from the CLI.
"""
