"""aria2c as a baseline for the benchmarks: the fastest way to download a known list of files.

aria2 does no crawling: the benchmark hands it the list of (URL, relative output path) pairs
the crawl would save, as an aria2 input file, and times ``aria2c -i LIST -d OUTPUT``. That is
a floor for the download part of a crawl, with the same concurrency the crawlers get.

The input file format (see ``aria2c --help=input-file`` and the man page's INPUT FILE section)
is one URL per line, each optionally followed by indented ``option=value`` lines::

    http://127.0.0.1:18080/images/lol/act/img/skin/big1000.jpg
      out=黑暗之女/黑暗之女电脑版.jpg
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too
from benchmarks.apt import apt_install

APT_PACKAGES = ("aria2",)
"""The Debian package that provides aria2c."""


def ensure_installed() -> None:
    """Install aria2 with apt-get if ``aria2c`` is missing.

    Prints each command it runs. Needs root (or a passwordless apt-get) and Debian's registry.

    Raises:
        subprocess.CalledProcessError: If apt-get fails.
        RuntimeError: If aria2c is still missing after the install.
    """
    if shutil.which("aria2c") is not None:
        return
    apt_install(APT_PACKAGES)
    if shutil.which("aria2c") is None:
        raise RuntimeError("apt-get installed aria2 but aria2c is still missing")


def aria2_command(url_list: Path, output: Path, jobs: int = 16) -> list[str]:
    """Build the aria2c command line that downloads every file of a URL list.

    Args:
        url_list: An aria2 input file, as written by ``write_url_list``.
        output: The folder the ``out=`` paths are relative to.
        jobs: How many files to download at once (``-j``); one connection each (``--split=1``).

    Returns:
        The command line.
    """
    return [
        "aria2c",
        "--no-conf=true",  # a ~/.aria2/aria2.conf must not change what is measured
        "-j",
        str(jobs),
        "-i",
        str(url_list),
        "-d",
        str(output),
        "--quiet=true",
        "--allow-overwrite=true",
        "--auto-file-renaming=false",
        # per download: with --split=1 each file uses one connection whatever this says
        "--max-connection-per-server=16",
        "--split=1",
        "--file-allocation=none",
        "--console-log-level=warn",
    ]


def check_entry(url: str, relative: str) -> None:
    """Check that a URL and an output path can be written into an aria2 input file safely.

    Args:
        url: The file's URL.
        relative: Its output path, relative to the output folder, with ``/`` separators.

    Raises:
        ValueError: If the URL holds whitespace (aria2 reads a TAB as a mirror separator and
            the line as the URL), or the path is empty, absolute, holds ``..`` or a line break.
    """
    if not url or any(char.isspace() for char in url):
        raise ValueError(f"URL {url!r} is empty or holds whitespace")
    parts = PurePosixPath(relative).parts
    if (
        not relative
        or relative.startswith("/")
        or ".." in parts
        or any(char in relative for char in "\r\n\0")
    ):
        raise ValueError(f"output path {relative!r} is not a plain relative path")


def write_url_list(entries: list[tuple[str, str]], path: Path) -> None:
    """Write (URL, relative output path) pairs as an aria2 input file, in UTF-8.

    Args:
        entries: The files to download: URL and path relative to aria2c's ``--dir``, with
            ``/`` separators; the folders in the path are created by aria2c.
        path: The input file to write.

    Raises:
        ValueError: If an entry cannot be written safely (see ``check_entry``) or two entries
            have the same output path (aria2c would fail one of them).
    """
    seen: set[str] = set()
    lines: list[str] = []
    for url, relative in entries:
        check_entry(url, relative)
        if relative in seen:
            raise ValueError(f"output path {relative!r} appears twice")
        seen.add(relative)
        lines += [url, f"  out={relative}"]
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
