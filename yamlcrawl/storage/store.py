"""The run's record on disk: a JSON Lines manifest in the output folder.

Only the main process writes it, one line per file or failed page as each finishes, flushed at
once, so an interrupted run still leaves an accurate record of what it did. Each file's row says
when it finished (UTC), what the response said (HTTP status, Content-Type, ETag, Last-Modified)
and the names its item binds, for scripts that load it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from yamlcrawl.storage.outdir import FolderError, describe, folder_full, open_text, stops_the_run
from yamlcrawl.types import (
    DownloadUnit,
    FileRequest,
    FileResult,
    Key,
    PageResult,
    PageUnit,
    Subscriber,
    utc_now,
)


class Manifest(Subscriber):
    """Append-only JSON Lines: a record per file (saved, present, skipped, failed) or bad page.

    A subscriber of the run: it writes what the coordinator publishes, as it is published.
    """

    def __init__(
        self,
        path: Path | None,
        redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        folder: Path | None = None,
    ) -> None:
        """Start the manifest at ``path`` (None: keep none) in the output ``folder``.

        Raises:
            FolderError: it cannot be written (a folder, a symbolic link, a read-only folder).
        """
        self.path = path
        self.folder = folder
        self.redact = redact  # values from ${ENV} written as *** (language/redact.py)
        self._stream: IO[str] | None = None
        self._planned: set[Key] = set()  # files named since the last page was released
        self._items: dict[Key, tuple[tuple[str, Any], ...]] = {}  # names of queued files' items
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = open_text(path)  # never through a link planted in its place
            except OSError as exc:
                raise FolderError(f"cannot write the manifest {path}: {describe(exc)}") from None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record and flush it.

        Raises:
            FolderError: the disk is full, or the folder went read-only.
        """
        if self._stream is not None:
            if self.redact is not None:
                record = self.redact(record)
            try:
                self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._stream.flush()
            except OSError as exc:
                what = f"cannot write the manifest {self.path}: {describe(exc)}"
                if self.folder is not None and stops_the_run(exc):  # as a file it could not take
                    raise folder_full(self.folder, what) from None
                raise FolderError(what) from None

    def file_planned(self, unit: DownloadUnit) -> None:
        """Note a file named (its item's names are kept when its page is released)."""
        self._planned.add(unit.key)

    def page_released(self, result: PageResult) -> None:
        """Keep the names of the items of the files just named, until each is done."""
        planned, self._planned = self._planned, set()
        for request in result.files:
            if request.key in planned:
                self._items[request.key] = request.item

    def file_done(self, result: FileResult) -> None:
        """Record a download that finished, one way or another."""
        unit = result.unit
        record: dict[str, Any] = {
            "kind": "file",
            "url": unit.url,
            "path": result.path,
            "bytes": result.bytes,
            "sha256": result.sha256,
            "stage": unit.stage,
            "status": result.status,
        }
        if result.error:
            record["error"] = result.error
        record.update(
            time=utc_now(),
            http_status=result.http_status,
            content_type=result.content_type,
            etag=result.etag,
            last_modified=result.last_modified,
            item=dict(self._items.pop(unit.key, ())),
        )
        if result.resumed:
            record["resumed"] = result.resumed
        self.write(record)

    def file_skipped(self, request: FileRequest, status: str, reason: str) -> None:
        """Record a file skipped (no URL, a conflict) or a duplicate."""
        self.file_not_fetched(request, status, reason)

    def file_unnamed(self, request: FileRequest, path: str | None, reason: str) -> None:
        """Record a file that could not be named: it failed."""
        self.file_not_fetched(request, "failed", reason)

    def page_done(self, result: PageResult) -> None:
        """Record a page that failed, that ended something early, or that was null (empty)."""
        if result.error is not None:
            self.page_failed(result)
        if result.warning is not None:
            self.page_warning(result)
        if result.empty:
            stage, code = result.unit.stage, result.http_status
            self._page(result.url, stage, "empty", code, reason="the response is null")

    def file_not_fetched(self, request: FileRequest, status: str, reason: str) -> None:
        """Record a file that was never fetched: skipped, duplicate, or unnameable (with the
        names its item binds, when it has no URL or name to tell it by)."""
        record: dict[str, Any] = {
            "kind": "file",
            "url": request.url,
            "path": request.planned or None,
            "bytes": 0,
            "sha256": None,
            "stage": request.stage,
            "status": status,
            "error" if status == "failed" else "reason": reason,
            "time": utc_now(),
            "http_status": None,
            "content_type": None,
            "etag": None,
            "last_modified": None,
            "item": dict(request.item),
        }
        self.write(record)

    def page_failed(self, result: PageResult) -> None:
        """Record a page that could not be fetched or read."""
        stage, code = result.unit.stage, result.http_status
        self._page(result.url, stage, "failed", code, error=result.error)

    def page_warning(self, result: PageResult) -> None:
        """Record a page that was fetched but ended something early (a pagination)."""
        stage, code = result.unit.stage, result.http_status
        self._page(result.url, stage, "warning", code, reason=result.warning)

    def page_duplicate(self, unit: PageUnit, url: str) -> None:
        """Record a page not fetched because the run already asked for the same request."""
        self._page(url, unit.stage, "duplicate", None, reason="the same request again")

    def _page(self, url: str, stage: str, status: str, code: int | None, **why: str | None) -> None:
        """A page's record: ``code`` its HTTP status (None: no response), ``why`` its
        ``error`` or its ``reason``."""
        record = {"kind": "page", "url": url, "stage": stage, "status": status, **why}
        self.write({**record, "time": utc_now(), "http_status": code})

    def close(self) -> None:
        """Close the file; further writes are dropped. A failure to flush was already said."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            with contextlib.suppress(OSError):
                stream.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
