"""The `where` operators, each defined once.

An operator is one small class: its key in a rule (``{not: x}``), the schema type of its operand
and what that operand is (spec.RuleSpec is built from them), what the loader still refuses in an
operand the schema accepts (checks.py), the plain data the plan keeps (plan.py), and how a run
tests an item's text against it (work/pages.py). A new operator is one class here, added to
:data:`OPERATORS`, plus its tests.

This module imports no pydantic: workers test items with it, and they load plans without it.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

Scalar = str | int | float | bool


def as_text(value: Scalar) -> str:
    """A YAML scalar as the text a template gives: true, 3, 2.5, as JSON writes them."""
    return value if isinstance(value, str) else json.dumps(value)


class Operator:
    """One test of the text a `where` template gives for an item."""

    key: ClassVar[str]  # the key in a rule: {not: ...}
    operand: ClassVar[Any]  # the schema type of its operand (a typing form pydantic reads)
    description: ClassVar[str]  # what its operand is, for messages

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


EQUALS = Equals()
# The keys a rule may have, in the order messages list them; then the plain value's test.
RULES: dict[str, Operator] = {op.key: op for op in (Not(), In(), NotIn(), Matches(), Empty())}
OPERATORS: dict[str, Operator] = {**RULES, EQUALS.key: EQUALS}
