"""``python -m neurosuper.cli`` runs the ``neurosuper`` command."""

import sys

from . import main

sys.exit(main())
