"""Incremental cursors in a run: what each page is handed, and what a run may store.

A stage with `incremental` has a cursor per request of its first page (one for a start stage;
one per parent item's request for a stage under `from`). Its pages carry the value earlier runs
stored (`PageUnit.cursor`, stamped here when the first page is queued; the later pages of a
pagination take it from the page before), so the work keeps only newer items in every mode.

The stored value moves only when it is safe to. Each page brings back its kept items' cursor
values; this subscriber notes which items' work failed (a page, a file, or a file that could
not be named, anywhere under the item), and at the end of a run that got to its end, without
`--limit` and without a rule that failed the run, stores for each cursor the highest value of
an item that finished whose value is below every failed item's: an item not done is always
newer than what is stored, and comes again. A pagination that failed, or that `max_pages` or
the loop guard ended before the server's last page, keeps its cursor as it was (its later items
are unknown). A run interrupted, stopped or killed stores nothing: the values are written once,
at its very end (after its `emit` files are in place), in one transaction.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from yamlcrawl.language.cursorvalue import KIND_WORDS, Sortable, is_newer, sortable
from yamlcrawl.language.plan import Plan
from yamlcrawl.storage.cursors import Chain, CursorTable
from yamlcrawl.storage.outdir import FolderError
from yamlcrawl.types import (
    Cursor,
    FileRequest,
    FileResult,
    Key,
    PageResult,
    PageUnit,
    RunStats,
    Subscriber,
)
from yamlcrawl.work.requests import page_signature


class CursorKeeper(Subscriber):
    """Hands pages their stored cursor and, at the end of a run, stores the safe new values.

    ``table`` None (a dry run): no cursor is read or stored, every item is kept.
    """

    def __init__(self, plan: Plan, table: CursorTable | None = None, fresh: bool = False) -> None:
        """Read the stored cursors (``fresh``: forget them).

        Raises:
            FolderError: the state cannot be read.
        """
        self.plan = plan
        self.table = table
        self.stages = {stage.name for stage in plan.stages if stage.incremental is not None}
        self.stored = table.read(fresh) if table is not None and self.stages else {}
        self._pages: dict[Chain, list[tuple[Key, tuple[Any, ...]]]] = {}
        self._cut: set[Chain] = set()  # paginations that ended before their last page
        self._failed: set[Key] = set()  # every failed unit's key, and each key above it

    def stamp(self, unit: PageUnit) -> PageUnit:
        """The unit with its cursor, if it is the first page of an incremental stage."""
        if self.table is None or unit.stage not in self.stages or unit.page is not None:
            return unit
        signed = page_signature(self.plan, unit)
        scope = "" if signed is None else signed[0]  # "": it fails before any request
        return replace(unit, cursor=Cursor(scope, self.stored.get((unit.stage, scope))))

    def page_done(self, result: PageResult) -> None:
        """A failed page fails the item above it; an incremental page's items are noted."""
        if result.error is not None:
            self._fail(result.unit.key)
        cursor = result.unit.cursor
        if cursor is None:
            return
        chain = (result.unit.stage, cursor.scope)
        if result.error is not None or result.cut:
            self._cut.add(chain)
        elif result.cursors:
            self._pages.setdefault(chain, []).append((result.unit.key, result.cursors))

    def file_done(self, result: FileResult) -> None:
        """A failed file fails its item."""
        if result.status == "failed":
            self._fail(result.unit.key)

    def file_unnamed(self, request: FileRequest, path: str | None, reason: str) -> None:
        """A file that could not be named fails its item."""
        self._fail(request.key)

    def _fail(self, key: Key) -> None:
        self._failed.update(key[:end] for end in range(1, len(key) + 1))

    def run_ended(self, stats: RunStats) -> None:
        """Store the new values, if the run got to its end (see the module's docstring)."""
        if self.table is None or not self._pages or not self._may_store(stats):
            return
        values: dict[Chain, Any] = {}
        for chain, pages in self._pages.items():
            if chain in self._cut:
                continue
            value, problem = self._safe_value(chain, pages)
            if problem is not None:
                stats.warnings.append(f"{chain[0]}: {problem}: the cursor was not moved")
            elif value is not None:
                values[chain] = value
        try:
            self.table.write(values)
        except FolderError as exc:
            stats.stopped = stats.stopped or str(exc)

    def _may_store(self, stats: RunStats) -> bool:
        """A run interrupted or stopped, or one with a limit, stores nothing; nor does one that a
        rule failed (`required`, `--strict`): its pages were read, but not as they should be."""
        if stats.interrupted or stats.stopped is not None:
            return False
        if self.plan.limit is not None:
            stats.warnings.append(
                "incremental: no cursor was stored, as a run with a limit (--limit, run.limit)"
                " sees only part of each list"
            )
            return False
        return not any(rule.failed for rule in stats.unmatched)

    def _safe_value(
        self, chain: Chain, pages: list[tuple[Key, tuple[Any, ...]]]
    ) -> tuple[Any, str | None]:
        """The highest value of an item done, below every failed item's and above the stored
        one (None: no such value); or why the values cannot be ordered."""
        stored = sortable(self.stored.get(chain))
        done, failed = self._outcomes(pages)
        kinds = {order[0] for order in (stored, *failed, *(order for order, _ in done)) if order}
        if len(kinds) > 1:
            words = " and ".join(KIND_WORDS[kind] for kind in sorted(kinds))
            rule = self.plan.stage(chain[0]).incremental
            return (
                None,
                f"{rule.cursor if rule else 'the cursor'} gave values of kinds that do"
                f" not compare ({words})",
            )
        ceiling = min(failed, default=None)
        kept = [
            (order, value)
            for order, value in done
            if (ceiling is None or is_newer(ceiling, order))
            and (stored is None or is_newer(order, stored))
        ]
        return (max(kept, key=lambda pair: pair[0][1])[1] if kept else None), None

    def _outcomes(
        self, pages: list[tuple[Key, tuple[Any, ...]]]
    ) -> tuple[list[tuple[Sortable, Any]], list[Sortable]]:
        """The values of the items whose work was done (each with its JSON value), and of those
        whose work failed; items with no value are left aside (they are always kept)."""
        done: list[tuple[Sortable, Any]] = []
        failed: list[Sortable] = []
        for key, values in pages:
            for item, value in enumerate(values):
                order = sortable(value)
                if order is None:
                    continue
                if (*key, item) in self._failed:
                    failed.append(order)
                else:
                    done.append((order, value))
        return done, failed


def open_cursors(plan: Plan, folder: Path, fresh: bool, saves: bool) -> CursorKeeper:
    """The run's cursor keeper: the output folder's cursors, or none in a dry run (``saves``
    False), which keeps every item.

    Raises:
        FolderError: the state cannot be read.
    """
    return CursorKeeper(plan, CursorTable(folder) if saves else None, fresh)
