"""``python -m yamlcrawl`` is the ``yamlcrawl`` command."""

import sys

from yamlcrawl.ui.cli import main

sys.exit(main())
