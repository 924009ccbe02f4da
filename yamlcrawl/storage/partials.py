"""Large downloads kept part-way, so that a retry or a rerun continues them with a Range request.

A download whose response announces more than ``http.resume_above`` bytes, and says which file
it is (a strong ETag, or a Last-Modified), writes its body not to a new temporary in
``.yamlcrawl/tmp/`` but to ``.yamlcrawl/partial/KEY.part``, KEY drawn from its final path and
URL, with ``KEY.json`` beside it: the URL, the path, the ETag, the Last-Modified, the whole size
and the bytes written when the sidecar was last updated. An attempt or a run cut short (a dropped
connection, Ctrl-C, SIGKILL) leaves both, and the next attempt, in this run or a later one, asks
for the rest. The part takes the file's name only when whole (renamed as a temporary is), so a
name in the output folder is still always a complete file. ``--fresh`` drops every part; they
are never swept otherwise.

The main process lists ``.yamlcrawl/partial/`` once, when the run opens the folder
(:class:`PartialFiles`), and marks the downloads that have a part waiting (``unit.partial``):
only those look at the disk for one, so a small file costs no system call more than before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from yamlcrawl.storage.outdir import (
    NOFOLLOW,
    PARTIAL_DIR,
    open_new,
    open_read,
    private_path,
)
from yamlcrawl.types import BodyStart, DownloadUnit, HeldPart

__all__ = ["Kept", "PartialFiles", "PartialPlace", "partial_key", "validator"]

_KEY_CHARS = 32
_SIDECAR_BYTES = 64 * 1024  # a sidecar larger than this is not ours


def partial_key(path: str, url: str) -> str:
    """The stable name of a download's part: its final path and URL, hashed."""
    text = f"{path}\n{url}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:_KEY_CHARS]


def validator(etag: str, last_modified: str) -> str:
    """What ``If-Range`` may send to say which file a part is of: a strong ETag, else the
    Last-Modified date; "" when the response gave neither (its part is not kept)."""
    if etag and not etag.startswith("W/"):
        return etag
    return last_modified


@dataclass(frozen=True)
class Kept:
    """A part on disk and what its sidecar says of it."""

    held: HeldPart
    start: BodyStart  # the response that began it (status, type, ETag, Last-Modified, size)


@dataclass(frozen=True)
class PartialPlace:
    """Where one download keeps its part, and from what size it does.

    Attributes:
        root: The output folder.
        path: The file's name in it (before its ``{ext}``, if the response settles that).
        url: The file's URL.
        above: Bodies larger than this many bytes are kept.
        look: An earlier run left a part for it (the main process saw it): look for it.
    """

    root: Path | str
    path: str
    url: str
    above: int
    look: bool = False

    @property
    def part(self) -> Path:
        """The part's file."""
        return private_path(self.root, PARTIAL_DIR, partial_key(self.path, self.url) + ".part")

    @property
    def sidecar(self) -> Path:
        """What is known of the part."""
        return self.part.with_suffix(".json")

    def keeps(self, start: BodyStart) -> bool:
        """Whether a body that starts from zero so is kept if it is cut off."""
        total = start.total
        worth = total is not None and total > self.above
        return worth and bool(validator(start.etag, start.last_modified))

    def load(self) -> Kept | None:
        """The part an earlier run left, if it is whole so far and its sidecar matches."""
        try:
            fd = open_read(self.sidecar)
            try:
                data: Any = json.loads(os.read(fd, _SIDECAR_BYTES))
            finally:
                os.close(fd)
            found = os.lstat(self.part)  # a link in its place is not a regular file: refused
        except (OSError, ValueError):
            return None
        start = _start_of(data)
        if start is None or not stat.S_ISREG(found.st_mode):
            return None
        size = found.st_size
        if (data.get("url"), data.get("path")) != (self.url, self.path):
            return None
        if not 0 < size <= (start.total or 0):
            return None
        held = HeldPart(size, validator(start.etag, start.last_modified), start.total)
        return Kept(held, start) if held.validator else None

    def record(self, start: BodyStart, size: int) -> None:
        """Write the sidecar: which file the part is of, and its bytes so far.

        Raises:
            OSError: it cannot be written.
        """
        data = {
            "url": self.url,
            "path": self.path,
            "status": start.status,
            "content_type": start.content_type,
            "etag": start.etag,
            "last_modified": start.last_modified,
            "total": start.total,
            "bytes": size,
        }
        fd = open_new(self.sidecar)
        try:
            os.write(fd, json.dumps(data, ensure_ascii=False).encode("utf-8"))
        finally:
            os.close(fd)

    def drop(self) -> None:
        """Remove the part and its sidecar."""
        for path in (self.part, self.sidecar):
            with contextlib.suppress(OSError):
                path.unlink()


def _start_of(data: Any) -> BodyStart | None:
    """The response a sidecar recorded, or None if it is not one of ours."""
    if not isinstance(data, dict):
        return None
    fields = (data.get("etag"), data.get("last_modified"), data.get("content_type"))
    total, status = data.get("total"), data.get("status")
    if not all(isinstance(f, str) for f in fields[:2]) or not isinstance(total, int):
        return None
    content_type = fields[2] if isinstance(fields[2], str) else None
    status = status if isinstance(status, int) else 200
    return BodyStart(status, content_type, 0, total, str(fields[0]), str(fields[1]))


class PartialFiles:
    """The parts earlier runs left in an output folder, listed once as the run opens it."""

    def __init__(self, root: Path | str, fresh: bool) -> None:
        """List ``.yamlcrawl/partial/``, dropping every part (``fresh``) or only sidecars
        without a part (a run killed just after putting a file in place)."""
        self._keys: set[str] = set()
        try:
            folder = os.open(
                private_path(root, PARTIAL_DIR), os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW
            )
        except OSError:
            return
        try:
            names = os.listdir(folder)  # noqa: PTH208 (a descriptor, not a path)
            parts = {name[: -len(".part")] for name in names if name.endswith(".part")}
            for name in names:
                if fresh or (name.endswith(".json") and name[: -len(".json")] not in parts):
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=folder)
            self._keys = set() if fresh else parts
        finally:
            os.close(folder)

    def mark(self, unit: DownloadUnit) -> DownloadUnit:
        """``unit``, marked when a part of it is waiting (only then is it looked for)."""
        if self._keys and partial_key(unit.path, unit.url) in self._keys:
            return replace(unit, partial=True)
        return unit
