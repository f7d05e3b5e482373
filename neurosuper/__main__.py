"""``python -m neurosuper`` runs the ``neurosuper`` command."""

import sys

from .cli import main

sys.exit(main())
