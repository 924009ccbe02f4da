"""The run's record on disk: a JSON Lines manifest in the output folder.

Only the main process writes it, one line per file or failed page as each finishes, flushed at
once, so an interrupted run still leaves an accurate record of what it did.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from yamlcrawl.redact import redact_value
from yamlcrawl.safepath import resolve_inside
from yamlcrawl.template import format_value
from yamlcrawl.work import FileRequest, FileResult, PageResult, PageUnit


class Manifest:
    """Append-only JSON Lines: a record per file (saved, present, skipped, failed) or bad page."""

    def __init__(self, path: Path | None, secrets: tuple[str, ...] = ()) -> None:
        self.path = path
        self.secrets = secrets  # values from ${ENV}: written as *** (redact.py)
        self._stream = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = path.open("w", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record and flush it."""
        if self._stream is not None:
            record = redact_value(record, self.secrets)
            self._stream.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._stream.flush()

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

    def file_not_fetched(self, request: FileRequest, status: str, reason: str) -> None:
        """Record a file that was never fetched: skipped, duplicate, or unnameable."""
        self.write(
            {
                "kind": "file",
                "url": request.url,
                "path": request.planned or None,
                "bytes": 0,
                "sha256": None,
                "stage": request.stage,
                "status": status,
                "error" if status == "failed" else "reason": reason,
            }
        )

    def page_failed(self, result: PageResult) -> None:
        """Record a page that could not be fetched or read."""
        self.write(
            {
                "kind": "page",
                "url": result.url,
                "stage": result.unit.stage,
                "status": "failed",
                "error": result.error,
            }
        )

    def page_warning(self, result: PageResult) -> None:
        """Record a page that was fetched but ended something early (a pagination)."""
        self.write(
            {
                "kind": "page",
                "url": result.url,
                "stage": result.unit.stage,
                "status": "warning",
                "reason": result.warning,
            }
        )

    def page_duplicate(self, unit: PageUnit, url: str) -> None:
        """Record a page not fetched because the run already asked for the same request."""
        self.write(
            {
                "kind": "page",
                "url": url,
                "stage": unit.stage,
                "status": "duplicate",
                "reason": "the same request again",
            }
        )

    def close(self) -> None:
        """Close the file; further writes are dropped."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> Manifest:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Records:
    """The run's `emit` files: rows in crawl order, JSON Lines or CSV by the file's extension.

    Rows go to ``<file>.part`` as pages are released; a run that ends (failures or not) puts
    each file in place at once, so a rerun writes the whole file again and a reader never sees
    half of one. An interrupted run leaves the last complete file as it was.
    """

    def __init__(self, root: Path, files: Iterable[tuple[str, Sequence[str]]]) -> None:
        self._open: dict[str, tuple[TextIO, Path, Any]] = {}
        self.written = 0
        for name, columns in files:
            final = resolve_inside(root, name)
            part = final.with_name(final.name + ".part")
            part.parent.mkdir(parents=True, exist_ok=True)
            stream = part.open("w", encoding="utf-8", newline="")
            writer = None
            if final.suffix == ".csv":
                writer = csv.writer(stream)
                writer.writerow(columns)
            self._open[name] = (stream, final, writer)

    def add(self, name: str, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows to one file (its columns in the order `emit.fields` gives them)."""
        stream, _, writer = self._open[name]
        for row in rows:
            if writer is None:
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                writer.writerow(["" if v is None else format_value(v) for v in row.values()])
            self.written += 1
        stream.flush()

    def finish(self, complete: bool) -> None:
        """Put every file in place (``complete``), or drop the parts; further rows are refused."""
        for stream, final, _ in self._open.values():
            stream.close()
            part = final.with_name(final.name + ".part")
            if complete:
                part.replace(final)
            else:
                part.unlink(missing_ok=True)
        self._open.clear()
