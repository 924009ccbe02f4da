"""Why a jsonpath or a template found nothing: where matching stopped, what was there instead,
and the path probably meant.

Asked only of a rule that matched nothing on a page (so it costs nothing on pages that match):
the jsonpath is walked one step at a time (``$`` → ``.data`` → ``.items`` → ``[*]``), and the
template field key by key, to the last level that still had a value. A key there spelled like
the missing one (difflib), or else the one key holding a list where a list was wanted
(``$.items[*]`` on ``{"products": [...], "total": 3}``), becomes the suggestion.

A path that reaches a list or an object that is there but empty (``{"items": []}``), or null
(``{"items": null}``), did not miss: the data has nothing, and says so. That is not a mistake
to report.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yamlcrawl.language.jsonpaths import compile_jsonpath
from yamlcrawl.language.template import Field, Template

MAX_KEYS = 20  # keys of the level where matching stopped, kept for the message and the report
KEY_CHARS = 60  # a key longer than this is shown cut, with a `…`
# A suggestion is looked for among this many keys, each at most SUGGEST_CHARS long: a page with
# a million keys, or keys of a megabyte, costs no more than a small one.
SUGGEST_FROM, SUGGEST_CHARS = 1000, 200


@dataclass(frozen=True)
class Miss:
    """Where a path stopped matching on one document or item.

    Attributes:
        at: The part of the path that still matched (``$``, ``$.data``, ``character``).
        found: What is there, in words: ``keys: a, b``, ``a list of 3 items``, ``null``.
        keys: The keys there (an object's; at most `MAX_KEYS`), else empty.
        suggestion: The whole path with the missing step replaced by a likely one, or None.
        missing: The key that is not there (None: the step that found nothing is no key:
            ``[*]`` on an object, a filter, ``..``).
    """

    at: str
    found: str
    keys: tuple[str, ...]
    suggestion: str | None
    missing: str | None = None


def first_match(expression: str, data: Any) -> tuple[bool, Any]:
    """Whether ``expression`` matches anything in ``data``, and the first value it matches."""
    matches = compile_jsonpath(expression).find(data)
    return (True, matches[0].value) if matches else (False, None)


def jsonpath_miss(expression: str, data: Any) -> Miss | None:
    """Why ``expression`` (which matched nothing in ``data``) did not match; None when it
    reached an empty list or object, or null (nothing there, rightly)."""
    steps = _steps(compile_jsonpath(expression))
    from jsonpath_ng import DatumInContext

    level: list[Any] = [DatumInContext.wrap(data)]
    done = _last_matching(steps, level)
    if done is None:
        return None
    values = [datum.value for datum in level]
    if all(value is None or (isinstance(value, list | dict) and not value) for value in values):
        return None  # `{"items": []}`, `{"items": null}`: the data has nothing there
    value = values[0]
    keys = _keys(value)
    at = _prefix_text(expression, steps[:done])
    missing: tuple[str, ...] = getattr(steps[done], "fields", ())
    wants_list = done + 1 < len(steps) and _is_each(steps[done + 1])
    suggestion = None
    if len(missing) == 1 and isinstance(value, dict):
        better = _close_key(missing[0], value, wants_list)
        if better is not None:
            suggestion = _replaced(expression, steps, done, missing[0], better)
    key = missing[0] if len(missing) == 1 else None
    return Miss(at, _found(value), keys, suggestion, key)


def template_miss(template: Template, context: Mapping[str, Any]) -> tuple[str, Miss] | None:
    """The first field of ``template`` whose path names a key the item does not have: the
    field's ``{...}`` text and why; None if every key is there (a value may still be null)."""
    for field in template.fields:
        if field.name not in context or field.default is not None:
            continue  # {ext} comes later; a `default` stands in for a missing key
        value: Any = context[field.name]
        for depth, key in enumerate(field.path[1:], start=1):
            if isinstance(value, Mapping) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            elif value is None:
                break  # a null on the way is data (or another rule's miss), not a missing key
            else:
                return f"{{{field.source}}}", _template_level(template, field, depth, value)
    return None


def _last_matching(steps: list[Any], level: list[Any]) -> int | None:
    """The index of the first step that finds nothing, ``level`` left at the values before
    it; None if every step finds something."""
    for index, step in enumerate(steps):
        following = [match for datum in level for match in step.find(datum)]
        if not following:
            return index
        level[:] = following
    return None


def _template_level(template: Template, field: Field, depth: int, value: Any) -> Miss:
    missing = field.path[depth]
    suggestion = None
    if isinstance(value, dict):
        better = _close_key(missing, value, wants_list=False)
        dotted = ".".join(field.path)
        if better is not None and field.source.startswith(dotted):
            path = ".".join((*field.path[:depth], better, *field.path[depth + 1 :]))
            new = f"{{{path}{field.source[len(dotted) :]}}}"
            suggestion = template.source.replace(f"{{{field.source}}}", new, 1)
    at = ".".join(field.path[:depth])
    return Miss(at, _found(value), _keys(value), suggestion, missing)


def _steps(expression: Any) -> list[Any]:
    """A jsonpath's steps, left to right (``Child`` nodes taken apart; others whole)."""
    from jsonpath_ng import Child

    if isinstance(expression, Child):
        return _steps(expression.left) + _steps(expression.right)
    return [expression]


def _is_each(step: Any) -> bool:
    """A step that takes a list's items (``[*]``, ``[0]``, ``[1:3]``, a filter)."""
    return type(step).__name__ in ("Wildcard", "Index", "Slice", "Filter")


def _keys(value: Any) -> tuple[str, ...]:
    """An object's first `MAX_KEYS` keys, each cut to `KEY_CHARS`."""
    if not isinstance(value, dict):
        return ()
    keys = (str(key) for key in itertools.islice(value, MAX_KEYS))
    return tuple(key if len(key) <= KEY_CHARS else f"{key[: KEY_CHARS - 1]}…" for key in keys)


def _found(value: Any) -> str:
    """What a value is, in words, for the message."""
    if isinstance(value, dict):
        if not value:
            return "an empty object"
        more = f", … ({len(value)} keys)" if len(value) > MAX_KEYS else ""
        return f"keys: {', '.join(_keys(value))}{more}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "a number" if isinstance(value, int | float) else "a text"


def _close_key(missing: str, level: dict[Any, Any], wants_list: bool) -> str | None:
    """A key of ``level`` spelled like ``missing``; else, where a list is wanted, the one key
    that holds a non-empty list."""
    keys = [
        key
        for key in itertools.islice(level, SUGGEST_FROM)
        if isinstance(key, str) and len(key) <= SUGGEST_CHARS
    ]
    close = difflib.get_close_matches(missing, keys, n=1, cutoff=0.6)
    if close:
        return close[0]
    if wants_list:
        lists = [key for key in keys if isinstance(level[key], list) and level[key]]
        if len(lists) == 1:
            return lists[0]
    return None


def _name_at(name: str) -> re.Pattern[str]:
    """``name`` as a step in a jsonpath's text: ``.name``, ``['name']`` or ``["name"]``."""
    quoted = re.escape(name)
    return re.compile(
        rf"(?<=\.){quoted}(?![A-Za-z0-9_])|(?<=\[')(?:{quoted})(?='\])"
        rf'|(?<=\["){quoted}(?="\])'
    )


def _replaced(expression: str, steps: list[Any], index: int, missing: str, better: str) -> str:
    """``expression`` with its ``index``-th step's key ``missing`` spelled ``better``."""
    earlier = sum(1 for step in steps[:index] if getattr(step, "fields", ()) == (missing,))
    matches = list(_name_at(missing).finditer(expression))
    if len(matches) <= earlier:
        return expression
    hit = matches[earlier]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", better) and expression[hit.start() - 1] == ".":
        return f"{expression[: hit.start() - 1]}['{better}']{expression[hit.end() :]}"
    return f"{expression[: hit.start()]}{better}{expression[hit.end() :]}"


def _prefix_text(expression: str, steps: list[Any]) -> str:
    """The part of ``expression`` that the matched ``steps`` are (``$.data`` of ``$.data.x``)."""
    if len(steps) <= 1:
        return "$"
    # The text up to where the first unmatched step begins: cut at the start of that step,
    # found as the n-th step boundary (`.` or `[` outside quotes and brackets).
    boundaries = [i for i, _ in _boundaries(expression)]
    count = len(steps) - 1  # steps after the root
    return expression[: boundaries[count]] if count < len(boundaries) else expression


def _boundaries(expression: str) -> list[tuple[int, str]]:
    """Where each step after ``$`` starts in the text (a `.` or `[` at the top level)."""
    out: list[tuple[int, str]] = []
    depth, quote = 0, ""
    i = 1
    while i < len(expression):
        char = expression[i]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "[":
            if depth == 0 and expression[i - 1] != ".":
                out.append((i, char))
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "." and depth == 0:
            if expression[i + 1 : i + 2] == ".":  # `..`: one step
                out.append((i, char))
                i += 2
                continue
            out.append((i, char))
        i += 1
    return out
