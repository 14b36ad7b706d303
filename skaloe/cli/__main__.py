"""``python -m skaloe.cli``: the ``skaloe`` command."""

import sys

from skaloe.cli import main

if __name__ == "__main__":
    sys.exit(main())
