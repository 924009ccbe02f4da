"""The values of an incremental cursor (`incremental.cursor`), and how two of them order.

A cursor value orders as `where`'s comparisons order text: numbers by value, whatever JSON type
the API gives them (7, "7" and 7.0 are the same); ISO 8601 dates and date-times in time (a date is
its midnight, a time without an offset is UTC); any other text as text, character by character.
Values of different kinds (a number and a date, a date and other text) do not order, and true,
false, objects and lists are no cursor value at all.

This module imports no pydantic: workers filter items with it.
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal
from typing import Any, Literal

from yamlcrawl.language.where import comparable

Kind = Literal["number", "date", "text"]
Sortable = tuple[Kind, Decimal | datetime.datetime | str]

KIND_WORDS: dict[Kind, str] = {"number": "a number", "date": "a date", "text": "a text"}


def sortable(value: Any) -> Sortable | None:
    """A cursor value as (kind, what orders it); None if it is no cursor value (null, missing,
    true or false, an object or a list, a number that is not finite)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return ("number", Decimal(str(value)))
    if not isinstance(value, str):
        return None
    parsed = comparable(value)
    if parsed is None:
        return ("text", value)
    if isinstance(parsed, Decimal):
        return ("number", parsed)
    return ("date", parsed)


def is_newer(value: Sortable, than: Sortable) -> bool | None:
    """Whether ``value`` comes strictly after ``than``; None when their kinds differ."""
    if value[0] != than[0]:
        return None
    return value[1] > than[1]  # type: ignore[operator]  # one kind: one type


def quoted(value: Any, most: int = 40) -> str:
    """A cursor value for a message: JSON-ish, cut if long (it comes from a server)."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= most else text[:most] + "…"
