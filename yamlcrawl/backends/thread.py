"""``thread``: the same work on ``workers × threads`` threads of the main process.

For comparison with the process modes: I/O-bound work often wants threads. The threads are
daemons fed from a ``queue.Queue``, so an interrupted run exits at once; downloads in progress
notice the run's cancel token at their next chunk and remove their temporary file.
"""

from __future__ import annotations

import queue
import time

from yamlcrawl.backends import register
from yamlcrawl.backends.common import start_threads, take_results, unit_lines
from yamlcrawl.language.plan import Plan
from yamlcrawl.types import Result, Unit
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.run import run_unit

PREFETCH = 2


@register("thread")
class ThreadBackend:
    """A fixed set of daemon threads, one shared task queue, one result queue."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.size = run.plan.workers * run.plan.threads
        self._tasks: queue.SimpleQueue[Unit | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self._threads = start_threads(self._loop, self.size)

    def _loop(self) -> None:
        while (unit := self._tasks.get()) is not None:
            self._results.put(run_unit(self.run, unit))

    def capacity(self) -> int:
        """One unit per thread and a few queued."""
        return self.size * (1 + PREFETCH)

    def submit(self, unit: Unit) -> None:
        """Queue the unit for the next free thread."""
        self._tasks.put(unit)

    def poll(self, timeout: float) -> list[Result]:
        """Results in by now."""
        return take_results(self._results, timeout)

    def close(self) -> None:
        """Let every thread finish and end."""
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()

    @classmethod
    def describe(cls, plan: Plan) -> list[str]:
        """Threads in the main process."""
        size = plan.workers * plan.threads
        return [
            f"thread: one process, {size} daemon threads (workers × threads)",
            f"  main process: a queue.Queue of units, at most {size * (1 + PREFETCH)}"
            " outstanding; names files, writes the manifest",
            *unit_lines(plan, "unit", "unit"),
            f"    {size} threads: get() -> do the unit -> result queue; one HTTP session",
        ]

    def abort(self) -> None:
        """Ask downloads in progress to stop; the daemon threads end with the process."""
        self.run.cancel.stop()
        for _ in self._threads:
            self._tasks.put(None)
        deadline = time.monotonic() + 0.5
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
