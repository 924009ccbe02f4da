"""A downloaded file's life in the output folder: found already there, or written and put in place.

A download's body goes to a temporary file in the folder's private ``.yamlcrawl/tmp/`` (on the
same file system, so the rename into place is atomic; never beside a name the crawl uses), and
takes its final name only when whole: a name in the folder is always a complete file. A failed
or interrupted download leaves nothing behind. A name ending in ``{ext}`` is settled when the
response's Content-Type is known (:func:`~yamlcrawl.storage.safepath.extension_for`).

With an object store (``store``: storage/objectstore.py) the temporary is on the worker's own
disk, and the whole file is handed to the store, which makes it appear at once.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from yamlcrawl.storage.objectstore import Store
from yamlcrawl.storage.outdir import open_existing, open_new, open_read, temporary_path
from yamlcrawl.storage.partials import Kept, PartialPlace, validator
from yamlcrawl.storage.safepath import extension_for, resolve_inside
from yamlcrawl.types import BodyStart, DownloadUnit, HeldPart

_READ = 1 << 16
_COALESCE = 1 << 16  # smaller chunks (libcurl hands over 16 KiB at most) are written together


@dataclass(frozen=True)
class Written:
    """A whole file in the output folder.

    Attributes:
        bytes: Its size.
        sha256: Hex SHA-256 of its bytes.
        path: Where it is, relative to the output folder (with the extension `{ext}` gave it).
    """

    bytes: int
    sha256: str
    path: str


def already_present(
    root: Path | str, unit: DownloadUnit, store: Store | None = None
) -> Written | None:
    """The file an earlier run saved whole (or that is simply there) for ``unit``, else None.

    One recorded with a size and SHA-256 must still have them (else it is damaged: fetch it
    again). A name settled by ``{ext}`` is known only from the resume state (``unit.found``):
    without it, the file is fetched again. ``unit.overwrite`` fetches it whatever is there.
    With a ``store``, the file is looked for there (its name checked against ``root`` all the
    same).

    Raises:
        UnsafePathError: the name resolves outside the output folder.
        OSError: the file cannot be read.
    """
    where = unit.found if unit.ext_to_come else unit.path
    if unit.overwrite or where is None:
        return None
    target = resolve_inside(root, where)
    if store is not None:
        found = store.present(where, unit.expect)
        return None if found is None else Written(found[0], found[1], where)
    if not target.is_file():
        return None
    if unit.expect is not None and target.stat().st_size != unit.expect[0]:
        return None  # damaged: cut short or grown
    size, digest = _size_and_sha256(target)
    if unit.expect is not None and digest != unit.expect[1]:
        return None
    return Written(size, digest, where)


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_READ):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class FileSlot:
    """One file being written: the sink a download streams to (``types.RangeSink``), then
    :meth:`commit` puts it in place whole, or it is discarded.

    Used as a context manager, whatever is not committed when the block ends is discarded;
    a large body kept part-way (``keep``: storage/partials.py) stays for the next attempt.
    """

    def __init__(
        self,
        root: Path | str,
        path: str,
        *,
        ext_from: str | None = None,
        temporary: Path | None = None,
        keep: PartialPlace | None = None,
        store: Store | None = None,
    ) -> None:
        """A slot for ``path`` (relative, already safe) in the output folder ``root``.

        Args:
            root: The output folder.
            path: The file's name in it; with ``ext_from``, the name before its ``{ext}``.
            ext_from: The URL of a file named by ``{ext}``: its extension comes from the
                response's Content-Type, else from this URL.
            temporary: Where the body is written until whole: by default a new name in the
                folder's ``.yamlcrawl/tmp/``, chosen when the first body begins.
            keep: Where a large body is kept part-way, to be continued (None: never kept).
            store: The object store the whole file is handed to (None: the folder ``root``).

        Raises:
            UnsafePathError: ``path`` resolves outside ``root``.
        """
        self._root = root
        self._path = path
        self._final = resolve_inside(root, path)
        self._ext_from = ext_from
        self._aside = temporary
        self._temporary = temporary
        self._out: int | None = None  # the temporary file's descriptor
        self._pending = bytearray()  # small chunks not yet written, up to _COALESCE bytes
        self._digest = hashlib.sha256()
        self._size = 0
        self._content_type: str | None = None
        self._keep = keep
        self._store = store
        self._kept: Kept | None = None  # the part held: written to `keep.part`, or left there
        self._writing_part = False  # the body goes to `keep.part`, not to a temporary
        self.response: BodyStart | None = None  # what the last response said of its body
        self.resumed = 0  # bytes of the file continued from a part kept before

    def begin(self, content_type: str | None) -> None:
        """Start the body over in a new temporary file (never an existing one, never through a
        link), its folder made only when it is missing."""
        self._content_type = content_type
        if self._temporary is None or self._writing_part:
            self._temporary = self._aside or self._new_temporary()
            self._writing_part = False
        self._out = _create(self._temporary)
        self._pending.clear()
        self._digest = hashlib.sha256()
        self._size = 0

    def _new_temporary(self) -> Path:
        store = self._store
        return temporary_path(self._root) if store is None else store.temporary()

    def held(self) -> HeldPart | None:
        """The part kept from an earlier attempt or run, if any (looked for on disk only when
        the main process saw one waiting)."""
        keep = self._keep
        if self._kept is None and keep is not None and keep.look:
            self._keep = replace(keep, look=False)
            self._kept = keep.load()
        kept = self._kept
        return kept.held if kept is not None and kept.held.bytes > 0 else None

    def begin_body(self, start: BodyStart) -> None:
        """Start an attempt's body: on the part held (``start.offset``), or over again; into
        the part's place when it is worth keeping, else into a new temporary file."""
        if start.offset:
            self._continue(start)
            return
        self.response = start
        self.resumed = 0
        if self._kept is not None:
            self.forget()  # the server sent the whole file: what was held is not its start
        if self._keep is not None and self._keep.keeps(start):
            self._start_part(self._keep, start)
        else:
            self.begin(start.content_type)

    def forget(self) -> None:
        """Drop the part held (the server will not continue it): the next body starts over."""
        keep = self._keep
        if keep is not None and (self._kept is not None or self._writing_part):
            out, self._out = self._out, None
            if out is not None:
                with contextlib.suppress(OSError):
                    os.close(out)
            self._pending.clear()
            keep.drop()
            if self._temporary == keep.part:
                self._temporary = None
        self._kept = None
        self._writing_part = False

    def _start_part(self, keep: PartialPlace, start: BodyStart) -> None:
        part = keep.part
        try:
            self._out = _create(part)
        except FileExistsError:  # left by a run the main process did not see (or a race)
            part.unlink()
            self._out = _create(part)
        self._temporary, self._writing_part = part, True
        self._kept = Kept(
            HeldPart(0, validator(start.etag, start.last_modified), start.total), start
        )
        self._content_type = start.content_type
        self._pending.clear()
        self._digest = hashlib.sha256()
        self._size = 0
        keep.record(start, 0)

    def _continue(self, start: BodyStart) -> None:
        """Go on writing the part held, after hashing what it has (the SHA-256 is the whole
        file's)."""
        assert self._keep is not None and self._kept is not None, "continued without a part"
        kept = self._kept
        offset = kept.held.bytes
        part = self._keep.part
        self._digest = _sha256_of_first(part, offset)
        self._out = open_existing(part, offset)
        self._temporary, self._writing_part = part, True
        self._size = self.resumed = offset
        self._pending.clear()
        recorded = kept.start
        self.response = BodyStart(
            start.status,
            start.content_type or recorded.content_type,
            offset,
            start.total,
            start.etag or recorded.etag,
            start.last_modified or recorded.last_modified,
        )
        self._content_type = self.response.content_type

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` to the temporary file."""
        assert self._out is not None, "write() before begin()"
        self._digest.update(chunk)
        self._size += len(chunk)
        if not self._pending and len(chunk) >= _COALESCE:
            _write_all(self._out, chunk)  # a large chunk goes as it is: no copy
            return
        self._pending += chunk
        if len(self._pending) >= _COALESCE:
            _write_all(self._out, self._pending)
            self._pending.clear()

    def discard(self) -> None:
        """Drop what was written (the temporary file is removed; the slot may begin again).

        A body being written to its part's place is kept instead, for the next attempt or run
        to continue: what arrived is written out, and the sidecar says how much that is.
        """
        out, self._out = self._out, None
        if self._writing_part:
            if out is not None:
                self._keep_part(out)
            return
        self._pending.clear()
        if out is not None:
            with contextlib.suppress(OSError):
                os.close(out)
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)

    def _keep_part(self, out: int) -> None:
        """Write out what arrived, and hold the part for the next attempt (or run)."""
        assert self._keep is not None and self._kept is not None
        size = 0
        with contextlib.suppress(OSError):
            if self._pending:
                _write_all(out, self._pending)
        self._pending.clear()
        with contextlib.suppress(OSError):
            size = os.fstat(out).st_size
        with contextlib.suppress(OSError):
            os.close(out)
        kept = self._kept
        if size <= 0:
            self.forget()
            return
        self._kept = Kept(replace(kept.held, bytes=size), kept.start)
        with contextlib.suppress(OSError):
            self._keep.record(kept.start, size)

    def commit(self) -> Written:
        """Put the whole file in place under its final name (replacing any file there: whether
        to is the caller's decision) and say what it is.

        Raises:
            UnsafePathError: the name its ``{ext}`` gave it resolves outside the folder.
            OSError: the file could not be written or renamed.
        """
        assert self._out is not None and self._temporary is not None, "commit() before begin()"
        out, self._out = self._out, None
        try:
            if self._pending:
                _write_all(out, self._pending)  # before the rename: a full disk shows here
        finally:
            os.close(out)
        final, path = self._final, self._path
        if self._ext_from is not None:
            final = resolve_inside(
                self._root, path + extension_for(self._content_type, self._ext_from)
            )
            path = _sibling(path, final.name)
        if self._store is None:
            _put_in_place(self._temporary, final)
        else:
            self._store.put(self._temporary, path, self._digest.hexdigest(), self._content_type)
        self._temporary = None  # in place: nothing is left to discard
        if self._writing_part and self._keep is not None:
            self._writing_part, self._kept = False, None
            with contextlib.suppress(OSError):
                self._keep.sidecar.unlink()
        return Written(self._size, self._digest.hexdigest(), path)

    def __enter__(self) -> FileSlot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.discard()  # whatever was not committed (after a commit: nothing, no system call)


def _sha256_of_first(path: Path, size: int) -> Any:
    """A SHA-256 fed the first ``size`` bytes of ``path`` (all there must be).

    Raises:
        OSError: it cannot be read, or has fewer bytes.
    """
    digest = hashlib.sha256()
    fd = open_read(path)
    try:
        left = size
        while left:
            chunk = os.read(fd, min(_READ, left))
            if not chunk:
                raise OSError(errno.EIO, f"the part kept of it has fewer than {size} bytes")
            digest.update(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    return digest


def _create(temporary: Path) -> int:
    """A descriptor for a new temporary file, written with ``os.write``: a buffered file object
    would cost three more system calls per file (``fstat``, ``ioctl``, ``lseek``) and write
    libcurl's 16 KiB chunks one by one (its buffer is 8 KiB); the slot gathers them itself."""
    try:
        return open_new(temporary, exclusive=True)
    except FileNotFoundError:  # rare: asking first would cost a system call for every file
        temporary.parent.mkdir(parents=True, exist_ok=True)
        return open_new(temporary, exclusive=True)


def _write_all(descriptor: int, chunk: bytes | bytearray) -> None:
    """Write all of ``chunk`` (``os.write`` may write less, e.g. on a signal or a full disk)."""
    written = os.write(descriptor, chunk)
    if written < len(chunk):
        with memoryview(chunk) as view:
            while written < len(chunk):
                written += os.write(descriptor, view[written:])


def _put_in_place(temporary: Path, final: Path) -> None:
    """Rename ``temporary`` to ``final``, making ``final``'s folders only when they are missing.

    Atomic on one file system: the name appears complete or not at all; a symbolic link in
    ``final``'s place is replaced, never followed.
    """
    try:
        temporary.replace(final)
    except FileNotFoundError:  # rare: asking first would cost a system call for every file
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary.replace(final)


def _sibling(path: str, name: str) -> str:
    """``name`` in ``path``'s folder."""
    head, _, _ = path.rpartition("/")
    return f"{head}/{name}" if head else name
