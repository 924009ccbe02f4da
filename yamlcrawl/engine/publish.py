"""How the coordinator tells its subscribers what happened: plain method calls on a list.

Each event keeps the bound methods of the subscribers that override it, in the order they were
given, so publishing a file costs one call per subscriber that takes files, and an event no
subscriber takes costs one empty loop. The order is the wiring's: the counts first, then
storage (state, manifest, `emit` files), then what the person sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from yamlcrawl.types import (
    DownloadUnit,
    Event,
    FileRequest,
    FileResult,
    Lost,
    PageResult,
    PageUnit,
    RunStats,
    Subscriber,
)


def _takers(subscribers: Sequence[Subscriber], event: str) -> tuple[Callable[..., Any], ...]:
    """The bound ``event`` methods of the subscribers that override it."""
    base = getattr(Subscriber, event)
    return tuple(getattr(s, event) for s in subscribers if getattr(type(s), event) is not base)


class Publisher(Subscriber):
    """Passes each event on to the subscribers that take it, in their order."""

    def __init__(self, subscribers: Sequence[Subscriber]) -> None:
        self.subscribers = tuple(subscribers)
        takers = self.subscribers
        self._run_started = _takers(takers, "run_started")
        self._page_queued = _takers(takers, "page_queued")
        self._page_done = _takers(takers, "page_done")
        self._page_duplicate = _takers(takers, "page_duplicate")
        self._page_released = _takers(takers, "page_released")
        self._file_planned = _takers(takers, "file_planned")
        self._file_done = _takers(takers, "file_done")
        self._file_skipped = _takers(takers, "file_skipped")
        self._file_unnamed = _takers(takers, "file_unnamed")
        self._unit_lost = _takers(takers, "unit_lost")
        self._worker_events = _takers(takers, "worker_events")
        self._tick = _takers(takers, "tick")
        self._run_ended = _takers(takers, "run_ended")

    def wants_worker_events(self) -> bool:
        """Whether any subscriber shows what workers are doing."""
        return any(s.wants_worker_events() for s in self.subscribers)

    def run_started(self, stats: RunStats) -> None:
        """See `Subscriber`."""
        for take in self._run_started:
            take(stats)

    def page_queued(self, unit: PageUnit) -> None:
        """See `Subscriber`."""
        for take in self._page_queued:
            take(unit)

    def page_done(self, result: PageResult) -> None:
        """See `Subscriber`."""
        for take in self._page_done:
            take(result)

    def page_duplicate(self, unit: PageUnit, url: str) -> None:
        """See `Subscriber`."""
        for take in self._page_duplicate:
            take(unit, url)

    def page_released(self, result: PageResult) -> None:
        """See `Subscriber`."""
        for take in self._page_released:
            take(result)

    def file_planned(self, unit: DownloadUnit) -> None:
        """See `Subscriber`."""
        for take in self._file_planned:
            take(unit)

    def file_done(self, result: FileResult) -> None:
        """See `Subscriber`."""
        for take in self._file_done:
            take(result)

    def file_skipped(self, request: FileRequest, status: str, reason: str) -> None:
        """See `Subscriber`."""
        for take in self._file_skipped:
            take(request, status, reason)

    def file_unnamed(self, request: FileRequest, path: str | None, reason: str) -> None:
        """See `Subscriber`."""
        for take in self._file_unnamed:
            take(request, path, reason)

    def unit_lost(self, lost: Lost) -> None:
        """See `Subscriber`."""
        for take in self._unit_lost:
            take(lost)

    def worker_events(self, events: list[Event]) -> None:
        """See `Subscriber`."""
        for take in self._worker_events:
            take(events)

    def tick(self) -> None:
        """See `Subscriber`."""
        for take in self._tick:
            take()

    def run_ended(self, stats: RunStats) -> None:
        """See `Subscriber`."""
        for take in self._run_ended:
            take(stats)
