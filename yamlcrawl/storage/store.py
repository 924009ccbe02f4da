"""The run's record on disk: a JSON Lines manifest in the output folder.

Only the main process writes it, one line per file or failed page as each finishes, flushed at
once, so an interrupted run still leaves an accurate record of what it did.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from yamlcrawl.storage.outdir import FolderError, describe, open_text, temporary_path
from yamlcrawl.storage.safepath import UnsafePathError, resolve_inside
from yamlcrawl.types import (
    FileRequest,
    FileResult,
    PageResult,
    PageUnit,
    Subscriber,
    format_value,
)


class Manifest(Subscriber):
    """Append-only JSON Lines: a record per file (saved, present, skipped, failed) or bad page.

    A subscriber of the run: it writes what the coordinator publishes, as it is published.
    """

    def __init__(
        self, path: Path | None, redact: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> None:
        """Start the manifest at ``path`` (None: keep none).

        Raises:
            FolderError: it cannot be written (a folder, a symbolic link, a read-only folder).
        """
        self.path = path
        self.redact = redact  # values from ${ENV} written as *** (language/redact.py)
        self._stream: IO[str] | None = None
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
                why = describe(exc)
                raise FolderError(f"cannot write the manifest {self.path}: {why}") from None

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
            self._page(result.url, result.unit.stage, "empty", reason="the response is null")

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
        }
        if request.item:
            record["item"] = dict(request.item)
        self.write(record)

    def page_failed(self, result: PageResult) -> None:
        """Record a page that could not be fetched or read."""
        self._page(result.url, result.unit.stage, "failed", error=result.error)

    def page_warning(self, result: PageResult) -> None:
        """Record a page that was fetched but ended something early (a pagination)."""
        self._page(result.url, result.unit.stage, "warning", reason=result.warning)

    def page_duplicate(self, unit: PageUnit, url: str) -> None:
        """Record a page not fetched because the run already asked for the same request."""
        self._page(url, unit.stage, "duplicate", reason="the same request again")

    def _page(self, url: str, stage: str, status: str, **why: str | None) -> None:
        """A page's record: ``why`` is its ``error`` or its ``reason``."""
        self.write({"kind": "page", "url": url, "stage": stage, "status": status, **why})

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


class Records(Subscriber):
    """The run's `emit` files: rows in crawl order, JSON Lines or CSV by the file's extension.

    Rows go to a temporary file in ``.yamlcrawl/tmp/`` as pages are released (in crawl order,
    as the coordinator publishes `page_released`, for the stages ``by_stage`` names); a run that
    ends (failures or not) puts each file in place at once, so a rerun writes the whole file again
    and a reader never sees half of one. An interrupted run leaves the last complete one.
    """

    def __init__(
        self,
        root: Path,
        files: Iterable[tuple[str, Sequence[str]]],
        by_stage: Mapping[str, str] | None = None,
    ) -> None:
        """Start a temporary file for each of ``files`` (name, columns); ``by_stage`` says
        which file each stage's released pages write to.

        Raises:
            FolderError: a file's place is outside the folder (a link), or cannot be written.
        """
        self._open: dict[str, tuple[IO[str], Path, Path, Any]] = {}
        self.by_stage = dict(by_stage or {})
        self.written = 0
        try:
            for name, columns in files:
                self._start(root, name, columns)
        except FolderError:
            self.finish(complete=False)
            raise

    def _start(self, root: Path, name: str, columns: Sequence[str]) -> None:
        try:
            final = resolve_inside(root, name)
            temporary = temporary_path(root)
            stream = open_text(temporary, exclusive=True)
        except UnsafePathError as exc:
            raise FolderError(f"cannot write the records file {name}: {exc.reason}") from None
        except OSError as exc:
            raise FolderError(f"cannot write the records file {name}: {describe(exc)}") from None
        writer = None
        if final.suffix == ".csv":
            writer = csv.writer(stream)
        self._open[name] = (stream, final, temporary, writer)
        if writer is not None:
            self._write(name, lambda: writer.writerow(columns))

    def page_released(self, result: PageResult) -> None:
        """Append the rows of a page whose turn came, if it was read and its stage emits."""
        name = self.by_stage.get(result.unit.stage)
        if name is not None and result.error is None:
            self.add(name, result.records)

    def add(self, name: str, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows to one file (its columns in the order `emit.fields` gives them).

        Raises:
            FolderError: the disk is full, or the folder went read-only.
        """
        stream, _, _, writer = self._open[name]

        def write_rows() -> None:
            for row in rows:
                if writer is None:
                    stream.write(json.dumps(row, ensure_ascii=False) + "\n")
                else:
                    writer.writerow(["" if v is None else format_value(v) for v in row.values()])
                self.written += 1
            stream.flush()

        self._write(name, write_rows)

    def _write(self, name: str, write: Callable[[], object]) -> None:
        try:
            write()
        except OSError as exc:
            raise FolderError(f"cannot write the records file {name}: {describe(exc)}") from None

    def finish(self, complete: bool) -> None:
        """Put every file in place (``complete``), or drop the temporaries; further rows are
        refused.

        Raises:
            FolderError: a file could not be put in place (it is left as it was).
        """
        failed: str | None = None
        for name, (stream, final, temporary, _) in self._open.items():
            try:
                stream.close()
                if complete and failed is None:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    temporary.replace(final)  # a link in its place is replaced, not followed
            except OSError as exc:
                failed = failed or f"cannot write the records file {name}: {describe(exc)}"
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        self._open.clear()
        if failed is not None:
            raise FolderError(failed)
