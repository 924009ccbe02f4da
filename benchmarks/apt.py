"""Installing the benchmark's outside tools (nginx, aria2) from Debian's packages."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence


def apt_install(packages: Sequence[str]) -> None:
    """``apt-get update`` then install ``packages``, printing each command (needs root).

    Raises:
        subprocess.CalledProcessError: If apt-get fails.
    """
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
    ):
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True, env=env)
