"""``python -m memstudio`` runs the ``memstudio`` command."""

import sys

from memstudio.cli import main

sys.exit(main())
