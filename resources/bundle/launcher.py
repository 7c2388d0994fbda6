"""Entry point of the bundled studio: the same ``memstudio`` command as a pip install."""

import multiprocessing
import sys

from memstudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
