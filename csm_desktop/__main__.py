"""``python -m csm_desktop``: the same as the ``csm-desktop`` command (the window, or a subcommand)."""

import sys

from csm_desktop.cli import main

if __name__ == "__main__":  # importing this module (a test walks every module) runs nothing
    sys.exit(main())
