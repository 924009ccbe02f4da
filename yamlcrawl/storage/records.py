"""The run's `emit` files: rows in crawl order, JSON Lines, CSV or Parquet by the file's
extension, replaced whole or appended to, and never seen half written.

Rows go to a temporary file in ``.yamlcrawl/tmp/`` as pages are released (in crawl order, as
the coordinator publishes `page_released`, for the stages ``by_stage`` names); a run that ends
(failures or not) puts each file in place at once, by a rename, so a reader never sees half of
one, and an interrupted run leaves the last complete one.

``mode: append`` starts the temporary as a copy of the file already there (Parquet: rewritten
with the old rows, then the new ones) and adds only rows whose key the file does not have yet:
the key template's text over the row's columns, or without ``key`` the row's whole content
(the meta columns left out). The file's keys are read once, at the start, a line or a batch at a
time; what stays in memory is a 16-byte digest per row (about 100 bytes in all: a million rows
hold about 100 MB). A row whose key is already there is left out, so the file keeps the first
version of an item: put what changes (``{id}@{updated_at}``) in the key to keep every version.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import IO, Any

from yamlcrawl.storage.outdir import (
    CLOEXEC,
    NOFOLLOW,
    FolderError,
    describe,
    open_new,
    open_text,
    temporary_path,
)
from yamlcrawl.storage.parquet import Kinds, ParquetError, read_rows, write_rows
from yamlcrawl.storage.safepath import UnsafePathError, resolve_inside
from yamlcrawl.types import PageResult, RunStats, Subscriber, format_value, new_run_id

META_COLUMNS = ("_run_id", "_fetched_at", "_source_url")  # `meta: true`, after emit's columns
FORMATS = (".jsonl", ".csv", ".parquet")
KeyOf = Callable[[Mapping[str, str]], str | None]  # a row's cells as text -> its key (None: none)
Lineage = tuple[str, str, str]  # the values of META_COLUMNS for a page's rows
_FLOAT_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
# A cell our CSV writer wrote may be a whole page's text (50 MB at most by default): the csv
# module's limit (128 KiB) would refuse to read it back. The main process alone reads these.
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclass(frozen=True)
class RecordFile:
    """One `emit` file: its name in the output folder, its columns, and how it is kept."""

    name: str
    columns: tuple[str, ...]
    append: bool = False  # add only the rows new to the file (else: replace it whole)
    key: KeyOf | None = None  # what tells rows apart (None: their whole content)
    meta: bool = False  # add META_COLUMNS to every row

    @property
    def written_columns(self) -> tuple[str, ...]:
        """The file's columns: emit's, then the meta columns if asked for."""
        return self.columns + META_COLUMNS if self.meta else self.columns

    @property
    def suffix(self) -> str:
        """.jsonl, .csv or .parquet."""
        return PurePosixPath(self.name).suffix


def key_text(value: Any) -> str:
    """A cell as a key sees it: its CSV text (null: empty), and a number written as a float
    that is whole (12.0, 1e3) as the integer it is, so a row reads the same from every format
    (CSV's text, a Parquet column of int made float by a later run) and the same row is one."""
    if value is None:
        return ""
    text = format_value(value)
    if not isinstance(value, int) and _FLOAT_TEXT.fullmatch(text):
        number = float(text)
        if number.is_integer() and abs(number) < 2**53:  # exactly an integer
            return str(int(number))
    return text


def row_digest(file: RecordFile, row: Mapping[str, Any]) -> bytes:
    """The 16-byte digest of a row's key (or of its content without the meta columns)."""
    cells = {column: key_text(row.get(column)) for column in file.columns}
    text = file.key(cells) if file.key is not None else None
    if text is None:
        text = json.dumps(list(cells.values()), ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class _Sink:
    """One `emit` file being written: a temporary, put in place at the end."""

    def __init__(self, root: Path, file: RecordFile) -> None:
        self.file = file
        self.root = root
        self.final = resolve_inside(root, file.name)
        self.temporary = temporary_path(root)
        self.seen: set[bytes] | None = set() if file.append else None
        self.kinds = Kinds(file.written_columns)
        self.old_rows = 0  # rows the file already had (append)
        self.added = 0
        self.known = 0  # rows left out: their key was already in the file
        self.stream = open_text(self.temporary, exclusive=True)
        self.csv = csv.writer(self.stream) if file.suffix == ".csv" else None

    def start(self) -> None:
        """Read what the file has (append), then write the CSV header if it is new."""
        if self.file.append:
            self._take_existing()
        if self.csv is not None and self.stream.tell() == 0:  # a file new, or empty
            self.csv.writerow(self.file.written_columns)

    def _take_existing(self) -> None:
        stream = _open_existing(self.final)
        if stream is None:
            return
        with stream:
            try:
                for row in self._existing_rows(stream):
                    assert self.seen is not None
                    self.seen.add(row_digest(self.file, row))
                    if self.file.suffix == ".parquet":  # the rewrite keeps their types
                        self.kinds.observe(row)
                    self.old_rows += 1
            except UnicodeDecodeError:
                raise _mismatch(self.file, "it is not UTF-8 text") from None
            except csv.Error as exc:
                raise _mismatch(self.file, f"it is not CSV the csv module reads ({exc})") from None

    def _existing_rows(self, stream: IO[bytes]) -> Iterator[dict[str, Any]]:
        """The rows of the file already there; JSON Lines and CSV are copied as they are read."""
        columns = self.file.written_columns
        if self.file.suffix == ".parquet":
            try:
                yield from read_rows(stream, columns)
            except ParquetError as exc:
                raise _mismatch(self.file, str(exc)) from None
            return
        lines = _copied(_text_lines(stream), self.stream)
        if self.file.suffix == ".jsonl":
            yield from _json_rows(lines, self.file)
        else:
            yield from _csv_rows(lines, self.file)

    def add(self, rows: Iterable[dict[str, Any]], lineage: Lineage) -> None:
        """Write the rows new to the file (all of them, replacing it), with their lineage."""
        for row in rows:
            if self.file.meta:
                row = {**row, **dict(zip(META_COLUMNS, lineage, strict=True))}
            if self.seen is not None:
                digest = row_digest(self.file, row)
                if digest in self.seen:
                    self.known += 1
                    continue
                self.seen.add(digest)
            self._write(row)
            self.added += 1
        self.stream.flush()

    def _write(self, row: dict[str, Any]) -> None:
        if self.csv is not None:
            values = (row.get(column) for column in self.file.written_columns)
            self.csv.writerow(["" if v is None else format_value(v) for v in values])
            return
        if self.file.suffix == ".parquet":
            self.kinds.observe(row)
        self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")

    def put_in_place(self) -> None:
        """The finished file under its name (a file appended nothing to is left as it is)."""
        self.stream.close()
        if self.file.append and self.old_rows and not self.added:
            return
        self.final.parent.mkdir(parents=True, exist_ok=True)
        if self.file.suffix == ".parquet":
            self._write_parquet()
        else:
            self.temporary.replace(self.final)  # a link in its place is replaced, not followed

    def _write_parquet(self) -> None:
        """Old rows (append) and the spooled new ones into a Parquet temporary, then in place."""
        target = temporary_path(self.root)
        try:
            with contextlib.ExitStack() as files:
                spool = files.enter_context(self.temporary.open(encoding="utf-8"))
                rows: Iterable[Mapping[str, Any]] = (json.loads(line) for line in spool)
                old = _open_existing(self.final) if self.old_rows else None
                if old is not None:
                    files.enter_context(old)
                    rows = chain(read_rows(old, self.file.written_columns), rows)
                out = files.enter_context(os.fdopen(open_new(target, exclusive=True), "wb"))
                write_rows(out, self.file.written_columns, self.kinds, rows)
            target.replace(self.final)
        except ParquetError as exc:
            raise OSError(0, f"pyarrow: {exc}") from None
        finally:
            with contextlib.suppress(OSError):
                target.unlink(missing_ok=True)

    def drop(self) -> None:
        """Close and remove the temporary."""
        with contextlib.suppress(OSError):
            self.stream.close()
        with contextlib.suppress(OSError):
            self.temporary.unlink(missing_ok=True)


def _open_existing(final: Path) -> IO[bytes] | None:
    """The file already there, for reading (None: there is none); a link is not followed."""
    try:
        return os.fdopen(os.open(final, os.O_RDONLY | NOFOLLOW | CLOEXEC), "rb")
    except FileNotFoundError:
        return None


def _text_lines(stream: IO[bytes]) -> Iterator[str]:
    """UTF-8 lines, their line ends kept as they are (CSV's \\r\\n too)."""
    with open(stream.fileno(), encoding="utf-8", newline="", closefd=False) as text:
        yield from text


def _copied(lines: Iterator[str], into: IO[str]) -> Iterator[str]:
    """``lines``, each written to ``into`` as it passes (a last one without its end gets one)."""
    for line in lines:
        into.write(line if line.endswith("\n") else line + "\n")
        yield line


def _json_rows(lines: Iterable[str], file: RecordFile) -> Iterator[dict[str, Any]]:
    columns = list(file.written_columns)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise _mismatch(file, f"line {number} is not a JSON object")
        if list(row) != columns:
            raise _mismatch(file, f"line {number} has the columns {', '.join(row)}")
        yield row


def _csv_rows(lines: Iterable[str], file: RecordFile) -> Iterator[dict[str, Any]]:
    columns = list(file.written_columns)
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is not None and header != columns:
        raise _mismatch(file, f"its columns are {', '.join(header)}")
    for cells in reader:
        yield dict(zip(columns, cells, strict=False))


def _mismatch(file: RecordFile, why: str) -> FolderError:
    columns = ", ".join(file.written_columns)
    return FolderError(
        f"cannot append to the records file {file.name}: {why} — expected the columns"
        f" {columns}; write to a new file, or run once with mode: replace"
    )


class Records(Subscriber):
    """The run's `emit` files (see the module's text): one temporary each until the end."""

    def __init__(
        self,
        root: Path,
        files: Iterable[RecordFile],
        by_stage: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Start a temporary file for each of ``files`` (reading what an appended one has);
        ``by_stage`` says which file each stage's released pages write to.

        Raises:
            FolderError: a file's place is outside the folder (a link), cannot be read or
                written, or is not one rows can be appended to.
        """
        self._open: dict[str, _Sink] = {}
        self.by_stage = dict(by_stage or {})
        self.run_id = run_id or new_run_id()
        self.written = 0
        self.known = 0  # rows append left out, their key already in the file
        try:
            for file in files:
                self._start(root, file)
        except FolderError:
            self.finish(complete=False)
            raise

    def _start(self, root: Path, file: RecordFile) -> None:
        try:
            sink = _Sink(root, file)
        except UnsafePathError as exc:
            raise FolderError(f"cannot write the records file {file.name}: {exc.reason}") from None
        except OSError as exc:
            why = describe(exc)
            raise FolderError(f"cannot write the records file {file.name}: {why}") from None
        self._open[file.name] = sink
        verb = "append to" if file.append else "write"
        self._write(file.name, sink.start, verb)

    def run_started(self, stats: RunStats) -> None:
        """Take the run's id, for the ``_run_id`` column."""
        self.run_id = stats.run_id

    def page_released(self, result: PageResult) -> None:
        """Append the rows of a page whose turn came, if it was read and its stage emits."""
        name = self.by_stage.get(result.unit.stage)
        if name is not None and result.error is None:
            self.add(name, result.records, (self.run_id, result.fetched_at, result.source_url))

    def add(
        self, name: str, rows: Iterable[dict[str, Any]], lineage: Lineage = ("", "", "")
    ) -> None:
        """Append rows to one file (its columns in the order `emit.fields` gives them).

        Raises:
            FolderError: the disk is full, or the folder went read-only.
        """
        sink = self._open[name]
        added, known = sink.added, sink.known
        try:
            self._write(name, lambda: sink.add(rows, lineage))
        finally:
            self.written += sink.added - added
            self.known += sink.known - known

    def _write(self, name: str, write: Callable[[], object], verb: str = "write") -> None:
        try:
            write()
        except OSError as exc:
            why = describe(exc)
            raise FolderError(f"cannot {verb} the records file {name}: {why}") from None

    def finish(self, complete: bool) -> None:
        """Put every file in place (``complete``), or drop the temporaries; further rows are
        refused.

        Raises:
            FolderError: a file could not be put in place (it is left as it was).
        """
        failed: str | None = None
        for name, sink in self._open.items():
            try:
                if complete and failed is None:
                    sink.put_in_place()
            except OSError as exc:
                failed = failed or f"cannot write the records file {name}: {describe(exc)}"
            sink.drop()
        self._open.clear()
        if failed is not None:
            raise FolderError(failed)
