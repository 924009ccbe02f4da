"""Incremental cursors on disk: for each stage with `incremental` and each request of its first
page, the highest cursor value a run finished, in the output folder's resume state
(`.yamlcrawl/state.sqlite`, table `cursors`).

Only the main process reads and writes it, on a connection of its own (WAL, as the state is):
once when a run starts, and once when it ends, in one transaction, with what engine/cursors.py
decided. ``--fresh`` forgets every cursor when the run starts.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from yamlcrawl.storage.outdir import FolderError
from yamlcrawl.storage.state import STATE_DIR, STATE_FILE

Chain = tuple[str, str]  # (stage, digest of its first page's request)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    stage TEXT NOT NULL,
    request TEXT NOT NULL,     -- digest of the first page's request: method, URL, query, body
    value TEXT NOT NULL,       -- the highest cursor value finished, as JSON
    updated REAL NOT NULL,     -- seconds since the epoch
    PRIMARY KEY (stage, request)
)
"""


class CursorTable:
    """The `cursors` table of an output folder's state (which the run's StateStore made)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE_DIR / STATE_FILE

    def read(self, fresh: bool = False) -> dict[Chain, Any]:
        """Every stored cursor (none, and none kept, with ``fresh``).

        Raises:
            FolderError: the state cannot be read or written.
        """
        with self._connection("read") as db:
            if fresh:
                db.execute("DELETE FROM cursors")
                return {}
            rows = db.execute("SELECT stage, request, value FROM cursors").fetchall()
        return {(stage, request): json.loads(value) for stage, request, value in rows}

    def write(self, values: Mapping[Chain, Any]) -> None:
        """Store these values, all or none.

        Raises:
            FolderError: the state cannot be written (a full disk, a read-only folder).
        """
        if not values:
            return
        now = time.time()
        rows = [(stage, request, json.dumps(v), now) for (stage, request), v in values.items()]
        with self._connection("write") as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR REPLACE INTO cursors (stage, request, value, updated)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )
            db.execute("COMMIT")

    @contextlib.contextmanager
    def _connection(self, doing: str) -> Iterator[sqlite3.Connection]:
        """A connection (never through a link in the state's place), the table made; a database
        error as one line."""
        uri = f"file:{urllib.parse.quote(str(self.path))}?nofollow=1"
        try:
            db = sqlite3.connect(uri, timeout=30, isolation_level=None, uri=True)
        except sqlite3.Error as exc:
            raise FolderError(f"cannot {doing} the cursors in {self.path}: {exc}") from None
        try:
            db.executescript(_SCHEMA)
            yield db
        except sqlite3.Error as exc:
            raise FolderError(f"cannot {doing} the cursors in {self.path}: {exc}") from None
        finally:
            db.close()
