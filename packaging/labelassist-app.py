"""PyInstaller entry point of the desktop bundle: the same as ``labelassist-app``."""

import sys

from labelassist.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
