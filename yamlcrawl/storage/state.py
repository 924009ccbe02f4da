"""Resume state: what earlier runs finished, in SQLite (standard library) in the output folder.

A rerun of the same crawl looks each file up: a file recorded with the same URL and found on
disk with the recorded size and SHA-256 is done; one missing or damaged is fetched again, and so
is one the state recorded under its name from another URL.
``--fresh`` forgets everything. Only the main process writes (results come home to it); the
database is opened in WAL mode with a busy timeout, so readers in other processes never see a
half-written state, and a run killed at any moment leaves the last committed state intact.
Records are committed in batches (every ``COMMIT_EVERY`` records or ``COMMIT_AFTER`` seconds,
and at the end): a commit per file cost the main process more than all its other work. A kill
can lose the last batch; those files are complete on disk (they only get their name when
whole), so a rerun finds them present and records them then.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from yamlcrawl.storage.outdir import STATE_DIR, FolderError, ensure_folder, refuse_links
from yamlcrawl.types import DownloadUnit, FileRequest, FileResult, Subscriber

__all__ = ["STATE_DIR", "Finished", "NoState", "StateStore", "download_unit"]

STATE_FILE = "state.sqlite"
COMMIT_EVERY = 256
COMMIT_AFTER = 0.5  # seconds
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,     -- relative to the output folder, as in the manifest
    url TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    finished REAL NOT NULL     -- seconds since the epoch
);
CREATE TABLE IF NOT EXISTS typed_files (
    planned TEXT PRIMARY KEY,  -- a save_as ending in {ext}, rendered without it
    path TEXT NOT NULL,        -- where it was saved, with the extension its response gave
    url TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    finished REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Finished:
    """A download an earlier run completed."""

    url: str
    bytes: int
    sha256: str
    path: str  # where it was saved


class StateStore(Subscriber):
    """The finished downloads of every run into one output folder (a subscriber of the run:
    it records each file saved or found present as the coordinator publishes it)."""

    def __init__(self, folder: Path, fresh: bool = False) -> None:
        """Open (or make) the state of ``folder``.

        Raises:
            FolderError: the state is a symbolic link (or its journal is), or it cannot be
                opened or written.
        """
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / STATE_DIR / STATE_FILE
        sidecars = ("-wal", "-shm", "-journal")
        try:
            ensure_folder(folder / STATE_DIR)
            refuse_links(self.path, *(self.path.with_name(STATE_FILE + s) for s in sidecars))
        except FolderError as exc:
            raise FolderError(f"cannot use the resume state {self.path}: {exc}") from None
        self._pending = 0
        self._since = time.monotonic()
        # nofollow: SQLite itself refuses a link in the database's place.
        uri = f"file:{urllib.parse.quote(str(self.path))}?nofollow=1"
        with self._failing("use"):
            self._db = sqlite3.connect(uri, timeout=30, isolation_level=None, uri=True)
        try:
            self._prepare(fresh)
        except FolderError:
            self._db.close()
            raise

    def _prepare(self, fresh: bool) -> None:
        with self._failing("use"):
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            if fresh:
                self._db.executescript("DELETE FROM files; DELETE FROM typed_files")

    @contextlib.contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        """Turn a database error (a full disk, a read-only folder) into one line."""
        try:
            yield
        except sqlite3.Error as exc:
            raise FolderError(f"cannot {doing} the resume state {self.path}: {exc}") from None

    def lookup(self, path: str, ext_to_come: bool = False) -> Finished | None:
        """What an earlier run recorded for ``path`` (a name without its `{ext}` if
        ``ext_to_come``), if anything."""
        if ext_to_come:
            query = "SELECT url, bytes, sha256, path FROM typed_files WHERE planned = ?"
        else:
            query = "SELECT url, bytes, sha256, path FROM files WHERE path = ?"
        with self._failing("read"):
            row = self._db.execute(query, (path,)).fetchone()
        return None if row is None else Finished(row[0], int(row[1]), row[2], row[3])

    def file_done(self, result: FileResult) -> None:
        """Remember a file saved or present; a `{ext}` one also by its name without it."""
        if result.status in ("saved", "present") and result.sha256 is not None:
            unit = result.unit
            planned = unit.path if unit.ext_to_come else None
            self.record(result.path, unit.url, result.bytes, result.sha256, planned)

    def record(
        self, path: str, url: str, size: int, sha256: str, planned: str | None = None
    ) -> None:
        """Remember a file as finished (committed with its batch); ``planned`` is the name
        without its `{ext}` that a rerun looks it up by."""
        with self._failing("write"):
            self._add(path, url, size, sha256, planned)
        if self._pending >= COMMIT_EVERY or time.monotonic() - self._since >= COMMIT_AFTER:
            self.commit()

    def _add(self, path: str, url: str, size: int, sha256: str, planned: str | None) -> None:
        if not self._pending:
            self._db.execute("BEGIN")
            self._since = time.monotonic()
        self._pending += 1
        if planned is None:
            self._db.execute(
                "INSERT OR REPLACE INTO files (path, url, bytes, sha256, finished)"
                " VALUES (?, ?, ?, ?, ?)",
                (path, url, size, sha256, time.time()),
            )
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO typed_files (planned, path, url, bytes, sha256, finished)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (planned, path, url, size, sha256, time.time()),
            )

    def commit(self) -> None:
        """Make every record so far durable."""
        if self._pending:
            self._pending = 0
            with self._failing("write"):
                self._db.execute("COMMIT")

    def close(self) -> None:
        """Commit what is pending and close the database (even when the commit fails)."""
        try:
            self.commit()
        finally:
            self._db.close()


class NoState:
    """Stands in for the store in a dry run: remembers nothing, writes nothing."""

    def lookup(self, path: str, ext_to_come: bool = False) -> Finished | None:
        """Nothing is known."""
        return None

    def record(
        self, path: str, url: str, size: int, sha256: str, planned: str | None = None
    ) -> None:
        """Nothing is kept."""

    def close(self) -> None:
        """Nothing to close."""


def download_unit(
    state: StateStore | NoState, request: FileRequest, path: str, overwrite: bool
) -> DownloadUnit:
    """The download of a file named ``path``, with what an earlier run saved under that name.

    ``overwrite`` (``on_conflict: overwrite``, or ``--fresh``) fetches it whatever is there; so
    does a name an earlier run saved from another URL, which is not this file.
    """
    finished = state.lookup(path, request.ext_to_come)
    known = finished is not None and finished.url == request.url
    moved = finished is not None and not known
    return DownloadUnit(
        request.key,
        request.stage,
        request.url,
        path,
        request.headers,
        overwrite or moved,
        (finished.bytes, finished.sha256) if finished is not None and known else None,
        ext_to_come=request.ext_to_come,
        found=finished.path if finished is not None and known else None,
        cookies=request.cookies,
    )
