"""The template mini-language: ``{name}``, ``{name.path.0}``, filters after ``|``, and a format
spec after ``:`` (``{n:03d}``, ``{date:%Y/%m}``, ``{title|default:untitled}``; formats.py).

A template is parsed once per process (``compile_template`` is cached) into literal text and
fields; rendering walks a context mapping. The plan keeps templates as plain strings so it stays
picklable; each process compiles what it needs on first use.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

from yamlcrawl.language.formats import (
    SpecValueError,
    format_date,
    format_with,
    is_date_spec,
    spec_problem,
)
from yamlcrawl.types import format_value

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEY = re.compile(r"[^.|{}\s]+\Z")
_T = TypeVar("_T")


class TemplateError(ValueError):
    """A template that does not parse; the message says where and what is expected."""


class RenderError(ValueError):
    """A value a template needs is missing at run time."""


class FormatError(RenderError):
    """A value a field's format spec cannot format (``{n:03d}`` and ``abc``)."""


def _url_path(value: str) -> str:
    """The path part of a URL, or the value itself without query and fragment."""
    if "://" in value:
        return urlsplit(value).path
    return value.split("?", 1)[0].split("#", 1)[0]


def _basename(value: str) -> str:
    return unquote(posixpath.basename(_url_path(value).rstrip("/")))


def _ext(value: str) -> str:
    return posixpath.splitext(_basename(value))[1]


def _stem(value: str) -> str:
    return posixpath.splitext(_basename(value))[0]


FILTERS: dict[str, Callable[[str], str]] = {
    "ext": _ext,
    "basename": _basename,
    "stem": _stem,
    "lower": str.lower,
    "upper": str.upper,
    "strip": str.strip,
    "quote": lambda value: quote(value, safe=""),
    # A name for APIs with none worth keeping: 16 hex digits of the value's SHA-256, the same
    # for the same value in every run (`{skin.mainImg|hash}{skin.mainImg|ext}`).
    "hash": lambda value: hashlib.sha256(value.encode("utf-8")).hexdigest()[:16],
}
# `path` is not a string function: it tells save_as rendering to keep `/` as folder separators.
PATH_FILTER = "path"
# `default:TEXT` is not a string function either: it stands in for a missing, null or empty value.
DEFAULT_FILTER = "default"
FILTER_NAMES = (*sorted(FILTERS), DEFAULT_FILTER, PATH_FILTER)
# In save_as, a closing `{ext}` is the extension the response's Content-Type names: it is not
# bound by any stage, and settled by the worker once the server has answered.
RESPONSE_EXT = "ext"


@dataclass(frozen=True)
class Field:
    """One ``{...}`` of a template."""

    path: tuple[str, ...]
    filters: tuple[str, ...]  # names, in order (`default` among them, its text in `default`)
    source: str
    spec: str | None = None  # after `:`: a Python format spec, or a date spec (formats.py)
    default: str | None = None  # the text of the `default:TEXT` filter, if there is one

    @property
    def name(self) -> str:
        """The context name the field starts from."""
        return self.path[0]


@dataclass(frozen=True)
class Template:
    """A parsed template: literal strings and fields, in order."""

    source: str
    parts: tuple[str | Field, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        """The fields of the template, in order."""
        return tuple(part for part in self.parts if isinstance(part, Field))

    def names(self) -> frozenset[str]:
        """The context names the template needs."""
        return frozenset(field.name for field in self.fields)

    def response_ext(self) -> Template | None:
        """For a save_as ending in a plain ``{ext}``: the template before it; else None."""
        last = self.parts[-1] if self.parts else None
        if (
            isinstance(last, Field)
            and last.path == (RESPONSE_EXT,)
            and not last.filters
            and last.spec is None
        ):
            return Template(self.source[: self.source.rindex("{")], self.parts[:-1])
        return None

    def render(self, context: Mapping[str, Any], escape: Callable[[str], str] | None = None) -> str:
        """Fill the template from ``context``.

        Args:
            context: the names bound for this request or file.
            escape: applied to every inserted value (for save_as: keeps `/` in values from
                making folders); a ``path`` field applies it to each `/`-separated part instead.

        A date spec's own ``/`` (``{date:%Y/%m}``) is not escaped: the user wrote it, so in
        ``save_as`` it makes folders; what the directives give is escaped as any value.

        Raises:
            RenderError: a field's value is missing or null (and it has no default).
            FormatError: a value its format spec cannot format.
        """
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_render_field(part, context, escape))
        return "".join(out)


def _render_field(
    field: Field, context: Mapping[str, Any], escape: Callable[[str], str] | None
) -> str:
    value = field_value(context, field)
    spec = field.spec
    if spec is not None and is_date_spec(spec):
        pieces = _formatted(field, format_date, value)
        return "/".join(pieces if escape is None else map(escape, pieces))
    text = format_value(value) if spec is None else _formatted(field, format_with, value)
    if escape is None:
        return text
    if PATH_FILTER in field.filters:
        return "/".join(escape(piece) for piece in text.split("/"))
    return escape(text)


def _formatted(field: Field, formatter: Callable[[Any, str], _T], value: Any) -> _T:
    assert field.spec is not None
    try:
        return formatter(value, field.spec)
    except SpecValueError as exc:
        raise FormatError(f"{{{field.source}}}: {exc}") from None


def field_value(context: Mapping[str, Any], field: Field) -> Any:
    """A field's value after its filters, before its format spec: typed (a number stays one)
    until a string filter, and its default in place of a missing, null or empty value.

    Raises:
        RenderError: the value is missing or null, and the field has no default.
    """
    if field.default is None:
        value = lookup(context, field)
    else:
        try:
            value = lookup(context, field)
        except RenderError:
            value = None
    return _filtered(field, value)


def _filtered(field: Field, value: Any, start: int = 0) -> Any:
    """``value`` through the field's filters from the ``start``-th on (a missing value is None:
    filters pass it on, `default` replaces it)."""
    for name in field.filters[start:]:
        if name == DEFAULT_FILTER:
            if is_empty(value):
                value = field.default
        elif name != PATH_FILTER and value is not None:
            value = FILTERS[name](format_value(value))
    return value


def is_empty(value: Any) -> bool:
    """What `default` replaces: a missing or null value, an empty text, list or object."""
    return value is None or (isinstance(value, str | list | dict) and not value)


def lookup(context: Mapping[str, Any], field: Field) -> Any:
    """Walk ``field.path`` through ``context``.

    Raises:
        RenderError: a key or index is missing, or the value is null.
    """
    if field.name not in context:
        raise RenderError(f"{{{field.source}}}: nothing is bound to '{field.name}'")
    value: Any = context[field.name]
    for depth, key in enumerate(field.path[1:], start=1):
        walked = ".".join(field.path[:depth])
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise RenderError(f"{{{field.source}}}: {walked} has no '{key}'")
    if value is None:
        raise RenderError(f"{{{field.source}}}: the value is null or matched nothing")
    return value


@lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Parse a template once per process.

    Raises:
        TemplateError: unbalanced braces, an empty or malformed field, an unknown filter.
    """
    parts: list[str | Field] = []
    text: list[str] = []
    i = 0
    while i < len(source):
        char = source[i]
        if source.startswith("{{", i) or source.startswith("}}", i):
            text.append(char)
            i += 2
        elif char == "{":
            end = source.find("}", i + 1)
            if end < 0:
                raise TemplateError(f"'{{' at character {i + 1} is never closed")
            if text:
                parts.append("".join(text))
                text = []
            parts.append(_parse_field(source[i + 1 : end], i + 1))
            i = end + 1
        elif char == "}":
            raise TemplateError(f"single '}}' at character {i + 1} (write '}}}}' for a brace)")
        else:
            text.append(char)
            i += 1
    if text:
        parts.append("".join(text))
    return Template(source, tuple(parts))


def _parse_field(inner: str, column: int) -> Field:
    """Parse ``name.path|filter|default:TEXT:spec``; ``column`` is where it starts, for messages."""
    if "{" in inner:
        raise TemplateError(f"'{{' inside a field at character {column}")
    body, spec = _split_spec(inner)
    expression, *filters = (piece.strip() for piece in body.split("|"))
    if not expression:
        raise TemplateError(f"empty field '{{{inner}}}' at character {column}")
    path = tuple(expression.split("."))
    if not _NAME.match(path[0]):
        raise TemplateError(
            f"'{path[0]}' at character {column} is not a name (letters, digits and _)"
        )
    if not all(_KEY.match(key) for key in path[1:]):
        raise TemplateError(f"malformed path '{expression}' at character {column}")
    names, default = _parse_filters(filters, column)
    field = Field(path, names, inner.strip(), spec, default)
    if spec is not None:
        _check_spec(field, column)
    return field


def _split_spec(inner: str) -> tuple[str, str | None]:
    """A field without its format spec, and the spec: all after the first ``:`` that is not the
    one of a ``default:TEXT`` (an empty spec is none, as in Python)."""
    start = 0
    for index, piece in enumerate(inner.split("|")):
        colon = piece.find(":")
        if index and colon >= 0 and piece[:colon].strip() == DEFAULT_FILTER:
            colon = piece.find(":", colon + 1)
        if colon >= 0:
            return inner[: start + colon], inner[start + colon + 1 :] or None
        start += len(piece) + 1
    return inner, None


def _parse_filters(filters: list[str], column: int) -> tuple[tuple[str, ...], str | None]:
    """The filters' names in order, and the text of their `default`, if any."""
    names: list[str] = []
    default: str | None = None
    for piece in filters:
        name, _, text = (part.strip() for part in piece.partition(":"))
        if name == DEFAULT_FILTER:
            if not text:
                raise TemplateError(
                    f"'default' without a text at character {column}"
                    " (write default:TEXT, the text used for a missing, null or empty value)"
                )
            if default is not None:
                raise TemplateError(f"a second 'default' at character {column} (one at most)")
            default = text
        elif name not in FILTERS and name != PATH_FILTER:
            raise TemplateError(
                f"unknown filter '{name}' at character {column}"
                f" (filters: {', '.join(FILTER_NAMES)})"
            )
        names.append(name)
    return tuple(names), default


def _check_spec(field: Field, column: int) -> None:
    """A spec must parse, come last, and format the field's default, if it has one."""
    spec = field.spec
    assert spec is not None
    problem = (
        "has a '|' (the spec comes last: {name|filter:spec})" if "|" in spec else spec_problem(spec)
    )
    if problem is not None:
        raise TemplateError(f"format spec '{spec}' at character {column} {problem}")
    if field.default is not None:
        after = field.filters.index(DEFAULT_FILTER) + 1
        value = _filtered(field, field.default, after)
        formatter = format_date if is_date_spec(spec) else format_with
        try:
            formatter(value, spec)
        except SpecValueError as exc:
            raise TemplateError(
                f"default '{field.default}' at character {column} does not format: {exc}"
            ) from None
