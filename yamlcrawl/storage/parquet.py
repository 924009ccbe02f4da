"""`emit` rows as Parquet (the optional ``yamlcrawl[parquet]`` extra: pyarrow), types kept.

Each column takes the one type its values share: whole numbers int64, numbers float64 (whole
numbers among them too), true/false bool, text string. A nested value (an object or a list) is
its compact JSON text, a column whose values mix kinds is text (each as JSON writes it), and a
column with no value at all is a string column of nulls. ``_fetched_at`` is a UTC timestamp.
pyarrow is imported only when a Parquet file is read or written.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from yamlcrawl.types import format_value

EXTRA = "yamlcrawl[parquet]"
FETCHED_AT = "_fetched_at"  # kept as a timestamp, not as its ISO text
BATCH_ROWS = 50_000  # rows held in memory at once, read or written: one row group each
_INT64 = range(-(2**63), 2**63)


class ParquetError(Exception):
    """A Parquet file that cannot be read or written: one line."""


def have_pyarrow() -> bool:
    """Whether pyarrow is installed (without importing it)."""
    return importlib.util.find_spec("pyarrow") is not None


def kind_of(value: Any) -> str | None:
    """The kind a value gives its column: bool, int, float or str (None: a null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if value in _INT64 else "str"  # beyond int64: its digits, as text
    if isinstance(value, float):
        return "float"
    return "str"  # text, and nested values as JSON text


class Kinds:
    """The kinds each column's values have had: what its Parquet type is."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.seen: dict[str, set[str]] = {column: set() for column in columns}

    def observe(self, row: Mapping[str, Any]) -> None:
        """Count one row's values."""
        for column, kinds in self.seen.items():
            kind = kind_of(row.get(column))
            if kind is not None:
                kinds.add(kind)

    def type_names(self) -> dict[str, str]:
        """Each column's type: bool, int, float, str, or timestamp (``_fetched_at``)."""
        return {column: _type_name(column, kinds) for column, kinds in self.seen.items()}


def _type_name(column: str, kinds: set[str]) -> str:
    if column == FETCHED_AT:
        return "timestamp"
    if len(kinds) == 1:
        return next(iter(kinds))
    return "float" if kinds == {"int", "float"} else "str"


def _converter(type_name: str) -> Callable[[Any], Any]:
    """How a row's value becomes one of its column's type (None stays None)."""

    def text(value: Any) -> Any:
        return value if value is None or isinstance(value, str) else format_value(value)

    def number(value: Any) -> Any:
        return None if value is None else float(value)

    def moment(value: Any) -> Any:
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    return {"str": text, "float": number, "timestamp": moment}.get(type_name, lambda v: v)


def read_rows(stream: IO[bytes], columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The rows of a Parquet file, a batch at a time, as Python values.

    Raises:
        ParquetError: the file is not Parquet, or its columns are not ``columns``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(stream)
        names = list(source.schema_arrow.names)
        if names != list(columns):
            raise ParquetError(f"its columns are {', '.join(names)}")
        for batch in source.iter_batches(batch_size=BATCH_ROWS):
            yield from batch.to_pylist()
    except pa.ArrowException as exc:
        raise ParquetError(f"it is not a Parquet file pyarrow can read ({exc})") from None


def write_rows(
    stream: IO[bytes], columns: Sequence[str], kinds: Kinds, rows: Iterable[Mapping[str, Any]]
) -> int:
    """Write ``rows`` as one Parquet file to ``stream``, a row group per batch; how many.

    Raises:
        OSError: the disk is full, or the folder went read-only.
        ParquetError: pyarrow refused a value.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = kinds.type_names()
    arrow = {
        "bool": pa.bool_(),
        "int": pa.int64(),
        "float": pa.float64(),
        "str": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    schema = pa.schema([(column, arrow[types[column]]) for column in columns])
    convert = [(schema.field(c).type, _converter(types[c])) for c in columns]
    count = 0
    try:
        with pq.ParquetWriter(stream, schema) as writer:
            for batch in _batches(rows):
                arrays = [
                    pa.array([change(row.get(column)) for row in batch], type=kind)
                    for column, (kind, change) in zip(columns, convert, strict=True)
                ]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                count += len(batch)
    except pa.ArrowException as exc:
        if isinstance(exc, OSError):
            raise
        raise ParquetError(str(exc)) from None
    return count


def _batches(rows: Iterable[Mapping[str, Any]]) -> Iterator[list[Mapping[str, Any]]]:
    batch: list[Mapping[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch
