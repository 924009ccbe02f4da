"""Print pip constraints that pin every runtime dependency to the lowest version it declares.

``.ci/run`` installs with these once more and runs the suite, so a ``>=`` bound in
pyproject.toml is a version that was tested, not a guess.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

# The extras whose packages the program itself imports (the test extra's tools stay newest).
RUNTIME_EXTRAS = ("dask", "parquet", "s3")
LOWER_BOUND = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def lowest_pins(pyproject: Path) -> list[str]:
    """``name==version`` for every runtime requirement with a ``>=`` bound."""
    project = tomllib.loads(pyproject.read_text("utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    pins = []
    for requirement in requirements:
        match = LOWER_BOUND.match(requirement)
        if match:
            pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    print("\n".join(lowest_pins(root / "pyproject.toml")))
