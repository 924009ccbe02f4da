"""The template mini-language: ``{name}``, ``{name.path.0}``, filters after ``|``.

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
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from yamlcrawl.types import format_value

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEY = re.compile(r"[^.|{}\s]+\Z")


class TemplateError(ValueError):
    """A template that does not parse; the message says where and what is expected."""


class RenderError(ValueError):
    """A value a template needs is missing at run time."""


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
FILTER_NAMES = (*sorted(FILTERS), PATH_FILTER)
# In save_as, a closing `{ext}` is the extension the response's Content-Type names: it is not
# bound by any stage, and settled by the worker once the server has answered.
RESPONSE_EXT = "ext"


@dataclass(frozen=True)
class Field:
    """One ``{...}`` of a template."""

    path: tuple[str, ...]
    filters: tuple[str, ...]
    source: str

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
        if isinstance(last, Field) and last.path == (RESPONSE_EXT,) and not last.filters:
            return Template(self.source[: self.source.rindex("{")], self.parts[:-1])
        return None

    def render(self, context: Mapping[str, Any], escape: Callable[[str], str] | None = None) -> str:
        """Fill the template from ``context``.

        Args:
            context: the names bound for this request or file.
            escape: applied to every inserted value (for save_as: keeps `/` in values from
                making folders); a ``path`` field applies it to each `/`-separated part instead.

        Raises:
            RenderError: a field's value is missing or null.
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
    text = format_value(lookup(context, field))
    keep_slashes = False
    for name in field.filters:
        if name == PATH_FILTER:
            keep_slashes = True
        else:
            text = FILTERS[name](text)
    if escape is None:
        return text
    if keep_slashes:
        return "/".join(escape(piece) for piece in text.split("/"))
    return escape(text)


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
    """Parse ``name.path|filter|filter``; ``column`` is where it starts, for messages."""
    expression, *filters = (piece.strip() for piece in inner.split("|"))
    if "{" in inner:
        raise TemplateError(f"'{{' inside a field at character {column}")
    if not expression:
        raise TemplateError(f"empty field '{{{inner}}}' at character {column}")
    path = tuple(expression.split("."))
    if not _NAME.match(path[0]):
        raise TemplateError(
            f"'{path[0]}' at character {column} is not a name (letters, digits and _)"
        )
    if not all(_KEY.match(key) for key in path[1:]):
        raise TemplateError(f"malformed path '{expression}' at character {column}")
    for name in filters:
        if name not in FILTERS and name != PATH_FILTER:
            raise TemplateError(
                f"unknown filter '{name}' at character {column}"
                f" (filters: {', '.join(FILTER_NAMES)})"
            )
    return Field(path, tuple(filters), inner.strip())
