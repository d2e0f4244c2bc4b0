"""`python -m lib.export --help`: see lib/export/cli.py."""

import sys

from lib.export.cli import main

sys.exit(main())
