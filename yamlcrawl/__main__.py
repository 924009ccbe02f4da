"""``python -m yamlcrawl`` is the ``yamlcrawl`` command."""

import sys

from yamlcrawl.cli import main

sys.exit(main())
