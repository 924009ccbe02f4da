"""The download archive (``output.archive``): one SQLite file that crawls into any number of
output folders share, recording each file downloaded by its URL or by its download rule's
``archive_key``; a crawl that names it skips what it holds (gallery-dl's --download-archive).

It is the one file yamlcrawl writes outside the output folder, because the user named it: its
path is taken relative to the current folder (as ``output.dir`` is), and a symbolic link in its
place (or in its journal's) or a folder there is refused in one line; SQLite opens it with
``nofollow``. Only the main process reads and writes it: the coordinator asks :meth:`skips`
before it queues a download, and as a subscriber the archive records each file saved or found
present. Runs may share it at the same moment: WAL, a busy timeout, and short transactions
(records wait in memory and are written in one transaction every ``COMMIT_EVERY`` records or
``COMMIT_AFTER`` seconds, and at the end). A dry run reads it, if it exists, and writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

from yamlcrawl.storage.outdir import FolderError, describe, refuse_links
from yamlcrawl.types import DownloadUnit, FileRequest, FileResult, Key, Subscriber

__all__ = ["Archive", "NoArchive", "archive_inside"]

COMMIT_EVERY = 256
COMMIT_AFTER = 0.5  # seconds
BUSY_TIMEOUT = 30.0  # seconds another run's transaction may hold the archive
_SIDECARS = ("-wal", "-shm", "-journal")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS archive (
    kind TEXT NOT NULL,      -- 'url', or 'key': a download rule's archive_key, rendered
    entry TEXT NOT NULL,     -- the URL, or the key
    path TEXT NOT NULL,      -- where it was saved, relative to its output folder
    folder TEXT NOT NULL,    -- that output folder, absolute
    crawl TEXT NOT NULL,     -- the crawl's name
    recorded REAL NOT NULL,  -- seconds since the epoch
    PRIMARY KEY (kind, entry)
) WITHOUT ROWID
"""
_INSERT = "INSERT OR IGNORE INTO archive VALUES (?, ?, ?, ?, ?, ?)"
Entry = tuple[str, str]  # (kind, entry)


def entry_of(request: FileRequest) -> Entry:
    """What the archive knows a file by: its rule's archive_key, else its URL."""
    if request.archive_key is not None:
        return ("key", request.archive_key)
    return ("url", request.url)


def archive_inside(root: Path | str, archive: str) -> str | None:
    """The archive's name relative to the output folder ``root``, if it lies inside it (no
    download may take that name), else None."""
    folder = os.path.abspath(root)  # noqa: PTH100 (no link resolved: names, not files)
    place = os.path.abspath(archive)  # noqa: PTH100
    if os.path.commonpath([folder, place]) != folder or place == folder:
        return None
    return Path(os.path.relpath(place, folder)).as_posix()


class Archive(Subscriber):
    """The archive a run names: asked before each download, told of each file saved."""

    def __init__(
        self,
        path: Path,
        folder: Path,
        crawl: str,
        *,
        read_only: bool = False,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        """Open (or, unless ``read_only``, make) the archive at ``path`` for a run into
        ``folder``; a read-only archive that does not exist holds nothing. ``redact`` masks
        the crawl's secrets in what it records (a token in a URL), as every output does.

        Raises:
            FolderError: it is a symbolic link or a folder, its folder is missing, or SQLite
                cannot open, read or write it (not a database, a read-only place).
        """
        self.path = path
        self.folder = os.path.abspath(folder)  # noqa: PTH100 (as the user named it)
        self.crawl = crawl
        self.read_only = read_only
        self._redact = redact or str
        self._units: dict[Key, Entry] = {}  # queued downloads: what each is recorded as
        self._pending: dict[Entry, tuple[str, float]] = {}  # recorded, not yet written
        self._since = time.monotonic()
        self._db: sqlite3.Connection | None = None
        if _check_place(path, read_only):
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        mode = "rw" if self.read_only else "rwc"
        uri = f"file:{urllib.parse.quote(str(self.path))}?mode={mode}&nofollow=1"
        with self._failing("use"):
            db = sqlite3.connect(uri, timeout=BUSY_TIMEOUT, isolation_level=None, uri=True)
        try:
            with self._failing("use"):
                if self.read_only:  # the last reader to close still removes -wal and -shm
                    db.execute("PRAGMA query_only=1")
                    db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                else:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=NORMAL")
                    db.executescript(_SCHEMA)
        except FolderError:
            db.close()
            raise
        return db

    @contextlib.contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        """Turn a database error (not a database, a full disk, a read-only place) into one
        line."""
        try:
            yield
        except sqlite3.Error as exc:
            raise FolderError(f"cannot {doing} the archive {self.path}: {exc}") from None

    def skips(self, request: FileRequest, unit: DownloadUnit) -> bool:
        """Whether the download of ``request`` (as ``unit``) is skipped: the archive holds it,
        and this output folder did not save it itself (those are checked on disk, as ever).
        A download not skipped is recorded when it is saved or found present."""
        kind, text = entry_of(request)
        entry = (kind, self._redact(text))
        if unit.expect is None and self._holds(entry):
            return True
        if not self.read_only:
            self._units[unit.key] = entry
        return False

    @staticmethod
    def reason(request: FileRequest) -> str:
        """Why a file was not fetched, for the manifest and the log."""
        kind, entry = entry_of(request)
        return f"in the archive (key {entry})" if kind == "key" else "in the archive (its URL)"

    def _holds(self, entry: Entry) -> bool:
        if entry in self._pending:
            return True
        if self._db is None:
            return False
        with self._failing("read"):
            row = self._db.execute(
                "SELECT 1 FROM archive WHERE kind = ? AND entry = ?", entry
            ).fetchone()
        return row is not None

    def file_done(self, result: FileResult) -> None:
        """Record a file saved or found present (written with its batch)."""
        entry = self._units.pop(result.unit.key, None)
        if entry is None or result.status not in ("saved", "present"):
            return
        if not self._pending:
            self._since = time.monotonic()
        self._pending.setdefault(entry, (self._redact(result.path), time.time()))
        if len(self._pending) >= COMMIT_EVERY or time.monotonic() - self._since >= COMMIT_AFTER:
            self.commit()

    def commit(self) -> None:
        """Write every record so far, in one short transaction (the first record of an entry
        is kept: it says where the file was saved first)."""
        if not self._pending or self._db is None:
            return
        rows = [
            (kind, entry, path, self.folder, self.crawl, when)
            for (kind, entry), (path, when) in self._pending.items()
        ]
        with self._failing("write"):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_INSERT, rows)
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
        self._pending.clear()

    def close(self) -> None:
        """Write what is pending and close the archive (even when the write fails)."""
        try:
            self.commit()
        finally:
            if self._db is not None:
                db, self._db = self._db, None
                db.close()


class NoArchive:
    """Stands in when the crawl names no archive: it holds nothing."""

    def skips(self, request: FileRequest, unit: DownloadUnit) -> bool:
        """Nothing is skipped."""
        return False

    @staticmethod
    def reason(request: FileRequest) -> str:
        """Never asked."""
        return ""

    def close(self) -> None:
        """Nothing to close."""


def _check_place(path: Path, read_only: bool) -> bool:
    """Refuse a link or a folder in the archive's place, or a missing folder for it; whether
    there is an archive to open (a dry run does not make one).

    Raises:
        FolderError: the place cannot hold the archive (one line, saying why).
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise FolderError(f"cannot use the archive {path}: {describe(exc)}") from None
    if mode is not None and stat.S_ISLNK(mode):
        why = "it is a symbolic link, which yamlcrawl does not follow"
        raise FolderError(f"cannot use the archive {path}: {why}")
    if mode is not None and stat.S_ISDIR(mode):
        raise FolderError(f"cannot use the archive {path}: it is a folder, not a file")
    try:
        refuse_links(*(path.with_name(path.name + suffix) for suffix in _SIDECARS))
    except FolderError as exc:
        raise FolderError(f"cannot use the archive {path}: {exc}") from None
    if mode is None:
        parent = path.parent
        if not parent.is_dir():
            raise FolderError(f"cannot use the archive {path}: its folder {parent} does not exist")
        return not read_only
    return True
