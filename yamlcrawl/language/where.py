"""The `where` operators, each defined once.

An operator is one small class: its key in a rule (``{not: x}``), the schema type of its operand
and what that operand is (spec.RuleSpec is built from them), what the loader still refuses in an
operand the schema accepts (checks.py), the plain data the plan keeps (plan.py), and how a run
tests an item's text against it (work/pages.py). A new operator is one class (or one more
instance of one, as the comparisons are) added to :data:`RULES`, plus its tests.

The comparisons (gt, ge, lt, le) order numbers by value and ISO 8601 dates in time. An item whose
text is not of the operand's kind (``n/a``, a missing value, a date against a number) is left
out, and the page says so in a warning (work/pages.py).

This module imports no pydantic: workers test items with it, and they load plans without it.
"""

from __future__ import annotations

import datetime
import functools
import json
import operator
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Scalar = str | int | float | bool


def as_text(value: Scalar) -> str:
    """A YAML scalar as the text a template gives: true, 3, 2.5, as JSON writes them."""
    return value if isinstance(value, str) else json.dumps(value)


class Operator:
    """One test of the text a `where` template gives for an item."""

    key: str  # the key in a rule: {not: ...}
    operand: Any  # the schema type of its operand (a typing form pydantic reads)
    description: str  # what its operand is, for messages

    def problem(self, operand: Any) -> tuple[str, str] | None:
        """What is wrong with an operand the schema accepts, and what is expected instead."""
        return None

    def compile(self, operand: Any) -> Any:
        """The operand as the plan keeps it: plain, picklable data."""
        return operand

    def holds(self, operand: Any, text: str) -> bool:
        """Whether an item's text passes, given the plan's operand."""
        raise NotImplementedError


class Equals(Operator):
    """A plain value in `where` (not a rule): the text equals it."""

    key = "equals"
    operand = Scalar
    description = "a text the value must equal"

    def compile(self, operand: Scalar) -> str:
        return as_text(operand)

    def holds(self, operand: str, text: str) -> bool:
        return text == operand


class Not(Operator):
    """The text is anything but this."""

    key = "not"
    operand = str
    description = "a text the value must not be"

    def holds(self, operand: str, text: str) -> bool:
        return text != operand


class In(Operator):
    """The text is one of these."""

    key = "in"
    operand = list[Scalar]
    description = "a list of texts the value must be one of"

    def compile(self, operand: list[Scalar]) -> tuple[str, ...]:
        return tuple(as_text(value) for value in operand)

    def holds(self, operand: tuple[str, ...], text: str) -> bool:
        return text in operand


class NotIn(In):
    """The text is none of these."""

    key = "not_in"
    description = "a list of texts the value must not be any of"

    def holds(self, operand: tuple[str, ...], text: str) -> bool:
        return text not in operand


class Matches(Operator):
    """The whole text matches a regular expression."""

    key = "matches"
    operand = str
    description = "a regular expression the whole value must match"

    def problem(self, operand: str) -> tuple[str, str] | None:
        try:
            re.compile(operand)
        except re.error as exc:
            return f"regular expression {operand!r} does not compile ({exc})", (
                "a Python regular expression"
            )
        return None

    def holds(self, operand: str, text: str) -> bool:
        return re.fullmatch(operand, text) is not None


class Empty(Operator):
    """The text is empty (true) or not (false); a missing value is empty."""

    key = "empty"
    operand = bool
    description = "true: must be empty; false: must not be"

    def holds(self, operand: bool, text: str) -> bool:
        return (text == "") is operand


# A number as JSON and most APIs write one; no inf, nan or 1_000 (which float() would take).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_COMPARABLE = "a number or an ISO 8601 date (2024-05-01, 2024-05-01T12:00:00Z)"
Comparable = Decimal | datetime.datetime


class NotComparableError(Exception):
    """An item's text a comparison cannot order against its operand: the item is left out."""


def comparable(text: str) -> Comparable | None:
    """A text as a number (exact: a Decimal) or a moment in time; None if it is neither.

    A date is its midnight, and a date or time without an offset is taken as UTC, so that any
    two moments compare.
    """
    text = text.strip()
    if _NUMBER.match(text):
        return Decimal(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


@functools.lru_cache(maxsize=256)
def _bound(operand: str) -> Comparable:
    """A comparison's operand, parsed once per process (the plan keeps it as text)."""
    value = comparable(operand)
    assert value is not None  # checked when the file was loaded
    return value


def _short(text: str, most: int = 60) -> str:
    """A value for a message: quoted, and cut if long (it comes from a server)."""
    return repr(text if len(text) <= most else text[:most] + "…")


class Compare(Operator):
    """The value orders after or before the operand: numbers by value, dates in time."""

    operand = int | float | datetime.datetime | datetime.date | str  # YAML reads dates itself

    def __init__(self, key: str, order: Callable[[Any, Any], bool], relation: str) -> None:
        self.key = key
        self.order = order
        self.description = f"{_COMPARABLE} the value must be {relation}"

    def problem(self, operand: float | datetime.date | str) -> tuple[str, str] | None:
        text = self.compile(operand)
        if comparable(text) is None:
            return f"{_short(text)} is neither a number nor a date", _COMPARABLE
        return None

    def compile(self, operand: float | datetime.date | str) -> str:
        if isinstance(operand, datetime.date):
            return operand.isoformat()
        return operand if isinstance(operand, str) else json.dumps(operand)

    def holds(self, operand: str, text: str) -> bool:
        bound = _bound(operand)
        value = comparable(text)
        if value is None or type(value) is not type(bound):
            kind = "a number" if isinstance(bound, Decimal) else "a date"
            raise NotComparableError(
                f"{_short(text)}, not {kind} to compare with {self.key} {operand}"
            )
        return self.order(value, bound)


EQUALS = Equals()
# The keys a rule may have, in the order messages list them; then the plain value's test.
RULES: dict[str, Operator] = {
    op.key: op
    for op in (
        *(Not(), In(), NotIn(), Matches(), Empty()),
        Compare("gt", operator.gt, "greater than"),
        Compare("ge", operator.ge, "greater than or equal to"),
        Compare("lt", operator.lt, "less than"),
        Compare("le", operator.le, "less than or equal to"),
    )
}
OPERATORS: dict[str, Operator] = {**RULES, EQUALS.key: EQUALS}
