"""An incremental stage's page: which items are newer than the stored cursor, and whether its
pagination may stop here (`incremental: {cursor: JSONPATH, stop: seen}`).

The coordinator hands each page the value earlier runs stored (`PageUnit.cursor`), so every mode
filters alike; the page's result brings back each kept item's cursor value, and the main
process alone decides what is stored (storage/cursors.py). An item is kept when its value is
strictly newer than the stored one, and also when it has no value (missing or null) or one that
does not compare with the stored one (another kind): an item is never left out unless it is
known to be old. Those kept for want of a value are said in the page's warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yamlcrawl.language.cursorvalue import KIND_WORDS, Sortable, is_newer, quoted, sortable
from yamlcrawl.language.jsonpaths import Entry, find_first
from yamlcrawl.language.plan import StagePlan
from yamlcrawl.types import Cursor


@dataclass
class Newer:
    """A page's items sorted out by the cursor."""

    items: list[Entry]  # those kept, in page order
    not_newer: int = 0  # those left out
    values: dict[int, Any] = field(default_factory=dict)  # id(item) -> its cursor value
    missing: int = 0  # kept: no value
    uncompared: int = 0  # kept: a value of another kind than the stored one
    first: str = ""  # the first of those, in words
    path: str = ""  # the cursor's jsonpath
    stored: Any = None  # the stored value, as JSON
    bound: Sortable | None = None  # and as it orders (None: nothing stored yet)

    def keeps(self, value: Any) -> bool:
        """Whether an item whose cursor has ``value`` is kept; counts it either way."""
        order = sortable(value)
        if order is None:
            self.missing += 1
            return True
        if self.bound is None:
            return True
        verdict = is_newer(order, self.bound)
        if verdict is None:
            if not self.uncompared:
                self.first = (
                    f"{quoted(value)} ({KIND_WORDS[order[0]]}) does not compare with the stored"
                    f" {quoted(self.stored)} ({KIND_WORDS[self.bound[0]]})"
                )
            self.uncompared += 1
            return True
        self.not_newer += not verdict
        return verdict

    def warning(self) -> str | None:
        """What the page says about the items kept for want of a comparable value."""
        said = []
        if self.missing:
            said.append(f"kept {_items(self.missing)} with no value at {self.path}")
        if self.uncompared:
            said.append(f"kept {_items(self.uncompared)} whose cursor {self.first}")
        return "incremental " + "; ".join(said) if said else None


def newer_items(stage: StagePlan, cursor: Cursor | None, items: list[Entry]) -> Newer:
    """The items of a page newer than ``cursor``'s stored value (all, without one)."""
    rule = stage.incremental
    if rule is None:
        return Newer(items)
    values = {id(item): find_first(rule.cursor, item) for _, item in items}
    stored = None if cursor is None else cursor.value
    newer = Newer([], values=values, path=rule.cursor, stored=stored, bound=sortable(stored))
    newer.items = [entry for entry in items if newer.keeps(values[id(entry[1])])]
    return newer


def kept_values(stage: StagePlan, newer: Newer, contexts: list[dict[str, Any]]) -> tuple[Any, ...]:
    """Each kept item's cursor value, in item order (what the main process stores from)."""
    if stage.incremental is None or stage.as_ is None:
        return ()
    return tuple(newer.values[id(context[stage.as_])] for context in contexts)


def stops_here(stage: StagePlan, found: int, newer: Newer) -> bool:
    """`stop: seen`: a page whose items are all old ends its pagination."""
    rule = stage.incremental
    return rule is not None and rule.stop == "seen" and found > 0 and newer.not_newer == found


def _items(count: int) -> str:
    return f"{count} item{'s' if count != 1 else ''}"
