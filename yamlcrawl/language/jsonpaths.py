"""jsonpath-ng's extended syntax, compiled once per process."""

from __future__ import annotations

import os
import threading
import warnings
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
    if not expression.strip():
        raise JsonPathError("the jsonpath is empty")
    from jsonpath_ng.exceptions import JSONPathError

    try:
        # One ply parser, which is not thread-safe, for the whole process. A warning the parser
        # gives (deprecated syntax that still parses) is not a parse error, whatever the
        # process's warning filters say.
        with _parser_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _parser().parse(expression)
    except JSONPathError as exc:
        raise JsonPathError(str(exc).strip() or type(exc).__name__) from None
    except Exception as exc:  # ply's actions raise plain errors on some odd input
        raise JsonPathError(str(exc).strip() or type(exc).__name__) from None


_parser_lock = threading.Lock()


def _reset_lock_in_child() -> None:
    # A lock held by another thread at fork time would stay held forever in the child.
    global _parser_lock
    _parser_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_in_child)


@lru_cache(maxsize=1)
def _parser() -> Any:
    # jsonpath_ng.ext.parse() builds ply's LALR tables anew on every call (~50 ms each, most of
    # `yamlcrawl validate`); one parser builds them once. Imported on first use, for --help.
    from jsonpath_ng.ext.parser import ExtendedJsonPathParser

    return ExtendedJsonPathParser()


def find_all(expression: str, data: Any) -> list[Any]:
    """Every value ``expression`` matches in ``data``, in document order."""
    return [match.value for match in compile_jsonpath(expression).find(data)]


Entry = tuple[str | int | None, Any]  # a match's key (member name or list index) and value


def find_entries(expression: str, data: Any) -> list[Entry]:
    """Every value ``expression`` matches in ``data``, in document order, each with its key:
    the name it has in its object, or its index in its list (None for the document itself)."""
    matches = compile_jsonpath(expression).find(data)
    return [(_entry_key(match.path), match.value) for match in matches]


def _entry_key(path: Any) -> str | int | None:
    """The key a match's last step took: a member name (Fields) or an index (Index)."""
    from jsonpath_ng import Fields, Index

    if isinstance(path, Fields) and len(path.fields) == 1:
        return str(path.fields[0])
    if isinstance(path, Index):
        indices = getattr(path, "indices", None) or (getattr(path, "index", None),)
        return indices[0] if len(indices) == 1 else None
    return None


def find_first(expression: str, data: Any) -> Any:
    """The first value ``expression`` matches, or None."""
    matches = compile_jsonpath(expression).find(data)
    return matches[0].value if matches else None
