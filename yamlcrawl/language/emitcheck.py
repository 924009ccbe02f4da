"""The rules of `emit` the schema cannot say: its file's format, and how `mode`, `key` and
`meta` go together. Each problem is one line at the value it is about."""

from __future__ import annotations

from collections.abc import Callable

from yamlcrawl.language.problems import dotted
from yamlcrawl.language.spec import EmitSpec
from yamlcrawl.language.template import TemplateError, compile_template
from yamlcrawl.language.yamlsource import YamlPath
from yamlcrawl.storage.parquet import EXTRA, have_pyarrow
from yamlcrawl.storage.records import FORMATS, META_COLUMNS

Add = Callable[[YamlPath, str], None]
SUFFIXES = f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}"  # .jsonl, .csv or .parquet


def format_problem(to: str) -> str | None:
    """Why ``to`` cannot be an `emit` file by its extension."""
    return None if to.endswith(FORMATS) else f"does not end in {SUFFIXES}"


def check_emit_options(add: Add, base: YamlPath, emit: EmitSpec) -> None:
    """Parquet only with pyarrow; `key` only with `mode: append`, naming columns; no column
    named as a meta column."""
    if emit.to.endswith(".parquet") and not have_pyarrow():
        at = (*base, "to")
        add(
            at,
            f"'{emit.to}' is Parquet, which needs pyarrow (not installed), at {dotted(at)}"
            f" — expected pip install '{EXTRA}' first, or a .jsonl or .csv file",
        )
    if emit.key is not None:
        _check_key(add, (*base, "key"), emit)
    if emit.meta:
        for column in emit.fields:
            if column in META_COLUMNS:
                at = (*base, "fields", column)
                add(
                    at,
                    f"column '{column}' at {dotted(at)} is one meta: true adds"
                    f" — expected another name (meta adds {', '.join(META_COLUMNS)})",
                )


def _check_key(add: Add, at: YamlPath, emit: EmitSpec) -> None:
    assert emit.key is not None
    if emit.mode != "append":
        add(
            at,
            f"'key' without 'mode: append' at {dotted(at)} — expected mode: append beside it"
            " (replace writes the file whole: no row is told apart)",
        )
        return
    columns = ", ".join(emit.fields)
    try:
        fields = compile_template(emit.key).fields
    except TemplateError as exc:
        add(
            at,
            f"template '{emit.key}' does not parse: {exc} at {dotted(at)}"
            f" — expected a template over the columns of emit.fields: {columns}",
        )
        return
    if not fields:
        add(
            at,
            f"'{emit.key}' names no column at {dotted(at)} — expected a template over the"
            f" columns of emit.fields: {columns}",
        )
    for field in fields:
        if len(field.path) > 1 or field.name not in emit.fields:
            add(
                at,
                f"'{{{field.source}}}' is not a column at {dotted(at)} — expected one of:"
                f" {columns} (a key is read back from the file's own columns)",
            )
