"""Format specifications of template fields: ``{n:03d}``, ``{price:.2f}``, ``{date:%Y/%m}``.

A spec with a ``%`` directive (``%`` and a character after it) is a date spec, written as for
``strftime``; any other is Python's format-spec mini-language (``03d``, ``.2f``, ``>10``, ``,``,
``.1%``). Both are checked when the template is compiled (:func:`spec_problem`), and a value one
cannot format is a :class:`SpecValueError` naming the value, never a traceback.

What each spec takes:

* an integer type (``b c d o x X``): a whole number, or text that is one (``"7"``, ``"7.0"``);
* a number type (``e E f F g G n %``): a number, or text that is one (exact: ``"0.1"`` stays
  0.1);
* no type, or ``s``: the value as it is, a number as a number and anything else as its text
  (but text that is a number, given a spec only numbers take: a sign, ``0``, ``=``, ``,``);
* a date spec: an ISO 8601 date or date-time (its own offset kept; none taken as it is), or
  epoch seconds (a number, or text that is one, taken as UTC).

``true`` and ``false`` are neither numbers nor dates, though Python would take them for 1 and 0.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from yamlcrawl.types import format_value

_INTEGER_TYPES = frozenset("bcdoxX")
_NUMBER_TYPES = frozenset("eEfFgGn%")
# Directives every platform's strftime knows (C89 and ISO 8601 weeks; no glibc-only `%-d`).
DATE_DIRECTIVES = "aAbBcdfGHIjmMpSuUVwWxXyYzZ%"
_DIRECTIVE = re.compile(r"%(.?)", re.DOTALL)
# A number as JSON and most APIs write one; no inf, nan or 1_000 (which float() would take).
_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")
# Python's format-spec mini-language, part by part.
_SPEC = re.compile(
    r"(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?(?P<z>z)?(?P<alt>#)?(?P<zero>0)?"
    r"(?P<width>\d+)?(?P<grouping>[,_])?(?:\.(?P<precision>\d+))?(?P<type>[a-zA-Z%])?\Z",
    re.DOTALL,
)
_EXAMPLES = "a Python format spec such as 03d, .2f or >10, or a date spec such as %Y-%m-%d"


class SpecValueError(ValueError):
    """A value a format spec cannot format (``{n:03d}`` and ``abc``); says which and why."""


def is_date_spec(spec: str) -> bool:
    """Whether ``spec`` is a date spec: it has a ``%`` with a character after it."""
    return re.search(r"%.", spec, re.DOTALL) is not None


def spec_problem(spec: str) -> str | None:
    """What is wrong with a spec, or None: ``'%Q' is not a date directive``."""
    if is_date_spec(spec):
        for match in _DIRECTIVE.finditer(spec):
            directive = match.group(1)
            if not directive:
                return "ends in a lone '%' (write %% for a percent sign)"
            if directive not in DATE_DIRECTIVES:
                known = " ".join(f"%{d}" for d in DATE_DIRECTIVES)
                return f"has '%{directive}', which is not a date directive (directives: {known})"
        return None
    for sample in (0, 0.0, ""):
        try:
            format(sample, spec)
        except ValueError:
            continue
        return None
    return f"is not {_EXAMPLES}"


def format_with(value: Any, spec: str) -> str:
    """``value`` formatted by a Python (not a date) spec.

    Raises:
        SpecValueError: the value is not of the kind the spec's type formats.
    """
    kind = spec[-1:] if spec[-1:] in _INTEGER_TYPES | _NUMBER_TYPES else ""
    given = value
    if kind in _INTEGER_TYPES:
        value = _whole(value)
        if value is None:
            raise SpecValueError(f"{_short(given)} is not a whole number (for '{spec}')")
    elif kind in _NUMBER_TYPES:
        value = _number(value)
        if value is None:
            raise SpecValueError(f"{_short(given)} is not a number (for '{spec}')")
    elif isinstance(value, bool) or not isinstance(value, int | float):
        number = _number(value) if _numbers_only(spec) else None
        value = format_value(value) if number is None else number
    try:
        return format(value, spec)
    except ValueError as exc:
        raise SpecValueError(f"{_short(given)} cannot be formatted by '{spec}' ({exc})") from None


def cuts_text(spec: str) -> bool:
    """Whether a spec keeps only part of a text (a precision without a number type: ``.4``)."""
    parts = None if is_date_spec(spec) else _SPEC.match(spec)
    return parts is not None and parts["precision"] is not None and parts["type"] in (None, "s")


def _numbers_only(spec: str) -> bool:
    """Whether a spec without a type has a part only numbers take: a sign, ``z``, ``#``, a
    leading ``0``, ``=`` or grouping. Text that is a number is formatted as that number by it
    (``{id:03}`` on ``"7"`` is ``007``, where Python's text padding would give ``700``)."""
    parts = _SPEC.match(spec)
    if parts is None:
        return False
    numeric = ("sign", "z", "alt", "zero", "grouping")
    return parts["align"] == "=" or any(parts[name] for name in numeric)


def format_date(value: Any, spec: str) -> list[str]:
    """``value`` as a moment formatted by a date spec, one string per ``/``-separated part of the
    spec (the ``/`` the spec itself writes: folders in ``save_as``).

    Raises:
        SpecValueError: the value is not an ISO 8601 date or date-time, nor epoch seconds.
    """
    moment = _moment(value)
    if moment is None:
        raise SpecValueError(
            f"{_short(value)} is not an ISO 8601 date or epoch seconds (for '{spec}')"
        )
    return [moment.strftime(piece) for piece in spec.split("/")]


def date_sample(spec: str) -> str:
    """What a date spec's own text looks like rendered, each directive an ``x``: the loader
    checks the folders it writes (``%Y/../%m`` has a ``..``)."""
    return _DIRECTIVE.sub(lambda match: "%" if match.group(1) == "%" else "x", spec)


def _number(value: Any) -> int | float | Decimal | None:
    """A JSON number as it is, text that is a number as an exact Decimal; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - _NUMBER lets through only numbers
            return None
    return None


def _whole(value: Any) -> int | None:
    """A number, or text that is one, if it is whole (``7``, ``"7"``, ``7.0``); else None."""
    number = _number(value)
    try:
        return None if number is None or number != int(number) else int(number)
    except (ValueError, OverflowError):  # nan, inf
        return None


def _moment(value: Any) -> datetime.datetime | None:
    """An ISO 8601 date or date-time, or epoch seconds as UTC; None if it is neither."""
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    number = _number(value)
    if number is None:
        return None
    try:
        return datetime.datetime.fromtimestamp(float(number), tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _short(value: Any, most: int = 60) -> str:
    """A value for a message: quoted, and cut if long (it comes from a server)."""
    text = format_value(value)
    return repr(text if len(text) <= most else text[:most] + "…")
