"""``serial``: every unit in the main process, one at a time. The reference for the other modes."""

from __future__ import annotations

from collections import deque

from yamlcrawl.backends import register
from yamlcrawl.language.plan import Plan
from yamlcrawl.types import Result, Unit
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.run import run_unit


@register("serial")
class SerialBackend:
    """Runs each submitted unit when results are polled for."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self._waiting: deque[Unit] = deque()

    def capacity(self) -> int:
        """One unit at a time."""
        return 1

    def submit(self, unit: Unit) -> None:
        """Hold the unit until the next poll."""
        self._waiting.append(unit)

    def poll(self, timeout: float) -> list[Result]:
        """Run the held unit here and now."""
        if not self._waiting:
            return []
        return [run_unit(self.run, self._waiting.popleft())]

    def close(self) -> None:
        """Nothing to release."""

    def abort(self) -> None:
        """Drop what was held."""
        self._waiting.clear()

    @classmethod
    def describe(cls, plan: Plan) -> list[str]:
        """One process does everything."""
        return [
            "serial: one process, one unit at a time",
            "  main process: fetches each page, names its files, downloads them, writes the"
            " manifest; depth first, in crawl order",
        ]
