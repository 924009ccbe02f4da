"""jsonpath-ng's extended syntax, compiled once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


class JsonPathError(ValueError):
    """A jsonpath that does not parse; the message is the parser's."""


@lru_cache(maxsize=1024)
def compile_jsonpath(expression: str) -> Any:
    """Parse ``expression`` with the extended parser (filters such as ``[?(@.a == "0")]``).

    Raises:
        JsonPathError: the expression does not parse.
    """
    from jsonpath_ng.ext import parse  # imported on first use: ply's tables are slow to load

    if not expression.strip():
        raise JsonPathError("the jsonpath is empty")
    try:
        return parse(expression)
    except Exception as exc:  # jsonpath-ng raises bare Exception subclasses for syntax errors
        raise JsonPathError(str(exc).strip() or type(exc).__name__) from None


def find_all(expression: str, data: Any) -> list[Any]:
    """Every value ``expression`` matches in ``data``, in document order."""
    return [match.value for match in compile_jsonpath(expression).find(data)]


def find_first(expression: str, data: Any) -> Any:
    """The first value ``expression`` matches, or None."""
    matches = compile_jsonpath(expression).find(data)
    return matches[0].value if matches else None
