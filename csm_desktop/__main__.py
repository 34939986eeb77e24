"""``python -m csm_desktop``: the same as the ``csm-desktop`` command (the window, or a subcommand)."""

import sys

from csm_desktop.cli import main

sys.exit(main())
