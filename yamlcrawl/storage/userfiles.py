"""Files named on the command line: the report (``--report``) and the log (``--log-file``).

``-`` means stdout. A path that is the file stdout or stderr already writes to (``/dev/stdout``,
``/dev/fd/2``...) is written through that stream. A target that is not a regular file (a
terminal, ``/dev/null``, a FIFO, a link to one of these) is written in place: a link or a
device is never replaced. A regular file (or a new one) gets the report whole or not at all: a
temporary file beside it, then a rename; a symbolic link to one keeps being the link, its target
replaced. A report inside the output folder must stay inside it, links and all.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import TextIO

from yamlcrawl.storage.outdir import FolderError, open_new
from yamlcrawl.storage.safepath import UnsafePathError, resolve_inside


def write_output(target: str, text: str, root: Path | None = None) -> None:
    """Write ``text`` to ``target`` as the module says; ``root`` is the output folder.

    Raises:
        OSError: it could not be written (nothing is left half-written in a regular file).
        FolderError: ``target`` is in the output folder but a link takes it outside.
    """
    stream = _standard_stream(target)
    if stream is not None:
        stream.write(text)
        stream.flush()
        return
    if _special(target):
        with open(target, "w", encoding="utf-8") as out:  # noqa: PTH123 (a device, a FIFO)
            out.write(text)
        return
    _replace_whole(_regular_place(target, root), text)


def open_log(target: str) -> TextIO:
    """The log stream for ``target``: stdout or stderr itself, or the file opened in place."""
    return _standard_stream(target) or open(target, "w", encoding="utf-8")  # noqa: PTH123


def is_standard(stream: TextIO) -> bool:
    """Whether ``stream`` is stdout or stderr (which the caller must not close)."""
    return stream is sys.stdout or stream is sys.stderr


def _standard_stream(target: str) -> TextIO | None:
    """stdout for ``-``; stdout or stderr when ``target`` is the very file they write to."""
    if target == "-":
        return sys.stdout
    try:
        wanted = Path(target).stat()
    except OSError:
        return None
    for number, stream in ((1, sys.stdout), (2, sys.stderr)):
        with contextlib.suppress(OSError):
            held = os.fstat(number)
            if (held.st_dev, held.st_ino) == (wanted.st_dev, wanted.st_ino):
                return stream
    return None


def _special(target: str) -> bool:
    """Whether ``target`` (followed through links) exists and is not a regular file."""
    try:
        mode = Path(target).stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode)


def _regular_place(target: str, root: Path | None) -> Path:
    """Where the file behind ``target`` is: its links followed, inside ``root`` if it starts
    there."""
    path = Path(os.path.abspath(target))  # noqa: PTH100 (no link resolved yet)
    base = Path(os.path.abspath(root)) if root is not None else None  # noqa: PTH100
    if base is not None and base in path.parents:
        try:
            return resolve_inside(base, path.relative_to(base).as_posix())
        except UnsafePathError as exc:
            raise FolderError(exc.reason) from None
    return Path(os.path.realpath(path))


def _replace_whole(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a new temporary name beside it, then a rename."""
    temporary = path.with_name(f".{uuid.uuid4().hex}.part")
    try:
        with open(open_new(temporary, exclusive=True), "w", encoding="utf-8") as out:  # noqa: PTH123
            out.write(text)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
