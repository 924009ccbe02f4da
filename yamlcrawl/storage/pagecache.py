"""The page cache: page responses earlier runs kept, for conditional requests (HTTP validators).

For each GET page request without a body (keyed by its URL, query included) whose 2xx JSON
response had an ``ETag`` or a ``Last-Modified``, it keeps those validators, the SHA-256 of the
body and the body, zlib-compressed, in ``.yamlcrawl/pages.sqlite`` in the output folder. A rerun
sends them back (``If-None-Match`` / ``If-Modified-Since``) and a ``304 Not Modified`` reuses the
body. A response with no validator is not kept at all: its server never answers 304, so its
body (or a hash of it) could never spare a request.

The compressed bodies are bounded (``output.page_cache`` MB, default 256): past the bound the
pages used least recently (kept, or found not modified) go first. The main process alone writes
it (this store is a subscriber of the run, fed by the results workers send back), committed
every half second at most and at the end; a run killed loses at most its last half second, which
only costs full requests next time.
It is a file of its own, not a table of the resume state, in SQLite's rollback-journal mode: a
dry run reads it without writing anything in the folder (SQLite's WAL mode would make files even
for a reader). ``--fresh`` empties it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from yamlcrawl.storage.outdir import STATE_DIR, FolderError, ensure_folder, refuse_links
from yamlcrawl.types import PageResult, StoredPage, Subscriber

__all__ = ["MB", "PAGES_FILE", "PageCache"]

PAGES_FILE = "pages.sqlite"
MB = 1_000_000
COMMIT_AFTER = 0.5  # seconds
_EVICT_BATCH = 64
_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,      -- the request (GET, no body), query included
    etag TEXT,
    last_modified TEXT,
    sha256 TEXT NOT NULL,      -- of the body as received
    content_type TEXT NOT NULL,
    link TEXT NOT NULL,
    body BLOB NOT NULL,        -- zlib
    size INTEGER NOT NULL,     -- bytes of the compressed body, what the bound counts
    used REAL NOT NULL         -- when last kept or found not modified (seconds since the epoch)
);
CREATE INDEX IF NOT EXISTS pages_by_use ON pages (used);
"""


class PageCache(Subscriber):
    """The pages of an output folder kept for conditional requests.

    ``keeps``: responses are kept (a run); a dry run's cache only reads, and one that is off
    (``output.page_cache: 0``, or a dry run of a folder with none) knows nothing.
    """

    def __init__(self, db: sqlite3.Connection | None, path: Path, limit: int, keeps: bool):
        self._db = db
        self.path = path
        self.limit = limit
        self.keeps = keeps and db is not None
        self._pending = 0
        self._since = time.monotonic()
        self._total = 0

    @classmethod
    def off(cls, folder: Path) -> PageCache:
        """No cache: nothing is looked up or kept."""
        return cls(None, folder / STATE_DIR / PAGES_FILE, 0, False)

    @classmethod
    def open(cls, folder: Path, limit: int, fresh: bool = False) -> PageCache:
        """The cache of a run into ``folder`` (made if need be), bounded to ``limit`` bytes of
        compressed bodies; ``fresh`` empties it first.

        Raises:
            FolderError: it is a symbolic link (or its journal is), or cannot be opened or
                written.
        """
        if limit <= 0:
            return cls.off(folder)
        path = folder / STATE_DIR / PAGES_FILE
        try:
            ensure_folder(folder / STATE_DIR)
            refuse_links(path, path.with_name(PAGES_FILE + "-journal"))
        except FolderError as exc:
            raise FolderError(f"cannot use the page cache {path}: {exc}") from None
        cache = cls(None, path, limit, True)
        with cache._failing("use"):
            cache._db = _connect(path, "rwc")
            cache.keeps = True
            cache._prepare(fresh)
        return cache

    @classmethod
    def read_only(cls, folder: Path, limit: int) -> PageCache:
        """The cache of ``folder`` for a dry run: read if there is one, never written; one that
        cannot be read is taken as none."""
        path = folder / STATE_DIR / PAGES_FILE
        if limit <= 0 or not path.is_file() or path.is_symlink():
            return cls.off(folder)
        try:
            db = _connect(path, "ro")
            db.execute("SELECT 1 FROM pages LIMIT 1").fetchall()
        except sqlite3.Error:
            return cls.off(folder)
        return cls(db, path, limit, False)

    def _prepare(self, fresh: bool) -> None:
        assert self._db is not None
        self._db.executescript(_SCHEMA)
        if fresh:
            self._db.execute("DELETE FROM pages")
        row = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM pages").fetchone()
        self._total = int(row[0])
        if self._total > self.limit:  # the bound was lowered since the last run
            self._begin()
            self._evict()
            self._commit()

    @contextlib.contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        """Turn a database error (a full disk, a read-only folder) into one line."""
        try:
            yield
        except sqlite3.Error as exc:
            if self._db is not None:
                self._db.close()
                self._db = None
            raise FolderError(f"cannot {doing} the page cache {self.path}: {exc}") from None

    def lookup(self, url: str) -> StoredPage | None:
        """What an earlier run kept of the response to ``url``, if anything."""
        if self._db is None:
            return None
        query = (
            "SELECT etag, last_modified, sha256, body, content_type, link FROM pages WHERE url = ?"
        )
        try:
            row = self._db.execute(query, (url,)).fetchone()
        except sqlite3.Error:  # a cache that cannot be read costs full requests, nothing more
            return None
        if row is None:
            return None
        etag, last_modified, sha256, body, content_type, link = row
        return StoredPage(url, etag, last_modified, sha256, bytes(body), content_type, link)

    def page_done(self, result: PageResult) -> None:
        """Keep a 2xx response a worker sent back; a page found not modified is used anew."""
        if not self.keeps:
            return
        if result.cache is not None:
            self.keep(result.cache)
        elif result.not_modified and result.unit.cached is not None:
            self._write("UPDATE pages SET used = ? WHERE url = ?", result.unit.cached.url)

    def keep(self, page: StoredPage) -> None:
        """Keep ``page`` (in place of what was kept for its URL); the least recently used go
        while the bound is passed. A page bigger than the whole bound is not kept."""
        size = len(page.body)
        if size > self.limit:
            return
        with self._failing("write"):
            self._begin()
            old = self._db_now().execute("SELECT size FROM pages WHERE url = ?", (page.url,))
            before = old.fetchone()
            self._total += size - (int(before[0]) if before else 0)
            self._db_now().execute(
                "INSERT OR REPLACE INTO pages (url, etag, last_modified, sha256, content_type,"
                " link, body, size, used) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    page.url,
                    page.etag,
                    page.last_modified,
                    page.sha256,
                    page.content_type,
                    page.link,
                    page.body,
                    size,
                    time.time(),
                ),
            )
            self._evict()

    def _write(self, statement: str, url: str) -> None:
        with self._failing("write"):
            self._begin()
            self._db_now().execute(statement, (time.time(), url))

    def _evict(self) -> None:
        """Drop the least recently used pages until the bodies fit the bound."""
        db = self._db_now()
        while self._total > self.limit:
            oldest = db.execute(
                "SELECT url, size FROM pages ORDER BY used, rowid LIMIT ?", (_EVICT_BATCH,)
            ).fetchall()
            if not oldest:
                self._total = 0
                return
            for url, size in oldest:
                if self._total <= self.limit:
                    return
                db.execute("DELETE FROM pages WHERE url = ?", (url,))
                self._total -= int(size)

    def _db_now(self) -> sqlite3.Connection:
        assert self._db is not None
        return self._db

    def _begin(self) -> None:
        if not self._pending:
            self._db_now().execute("BEGIN")
            self._since = time.monotonic()
        self._pending += 1

    def tick(self) -> None:
        """Between polls: commit what is kept, every ``COMMIT_AFTER`` seconds at most."""
        if self._pending and time.monotonic() - self._since >= COMMIT_AFTER:
            self._commit()

    def _commit(self) -> None:
        """Make everything kept so far durable."""
        if self._db is not None and self._pending:
            with self._failing("write"):
                self._db.execute("COMMIT")
        self._pending = 0

    def close(self) -> None:
        """Commit what is pending, then close the database (even when the commit fails)."""
        try:
            self._commit()
        finally:
            db, self._db = self._db, None
            if db is not None:
                db.close()


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """A connection to the cache at ``path`` (``rwc`` or ``ro``); SQLite refuses a link in the
    database's place (nofollow)."""
    uri = f"file:{urllib.parse.quote(str(path))}?mode={mode}&nofollow=1"
    return sqlite3.connect(uri, timeout=30, isolation_level=None, uri=True)
