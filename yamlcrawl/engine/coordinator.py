"""The coordinator every mode shares: a loop that hands units to a backend and publishes what
comes back.

Pages are dispatched as soon as they are known, in any mode, in any order. Their results are
*released* in crawl order (depth first, in the order of the JSON), and only then are their files
named: so which of two same-named skins becomes ``name (2).jpg`` never depends on timing. A page
request already made is not made again. Everything else is a subscriber's (``publish.py``): the
counts (``RunStats``), the resume state, the manifest, the `emit` files (storage), the display,
the log, the summary and the report (the user interface). Where files go is the output's
(``output.py``): the folder, or a dry run's list.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from yamlcrawl.backends import cluster_shape, create_backend
from yamlcrawl.engine.cursors import open_cursors
from yamlcrawl.engine.matches import Matches
from yamlcrawl.engine.output import Output, SaveFiles
from yamlcrawl.engine.publish import Publisher
from yamlcrawl.http.session import Session
from yamlcrawl.language.plan import Plan
from yamlcrawl.storage.names import NameRegistry, Refused
from yamlcrawl.storage.outdir import FolderError, throttle_path
from yamlcrawl.storage.safepath import family_key
from yamlcrawl.storage.state import download_unit
from yamlcrawl.types import (
    DownloadUnit,
    FileRequest,
    FileResult,
    Key,
    Lost,
    PageResult,
    PageUnit,
    Result,
    RunStats,
    Subscriber,
    Unit,
    UnitId,
    unit_id,
)
from yamlcrawl.work.cancel import CancelToken
from yamlcrawl.work.conditional import with_cached
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.events import EventSender, open_sink
from yamlcrawl.work.requests import page_signature
from yamlcrawl.work.run import failed

# A unit whose worker process died is tried once more before it counts as failed.
LOST_RETRIES = 1


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM for a moment (only the main thread can set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Coordinator:
    """Runs one crawl on one backend.

    ``cancel`` is the run's token (the CLI's signal handler stops it; the run loop looks at it,
    since Python drops a KeyboardInterrupt raised inside an at-fork hook); ``session`` says how
    requests are made (tests hand in a fake transport or sleep), and gets the run's throttle
    folder here; ``strict`` makes rules that matched nothing failures rather than warnings.
    """

    def __init__(
        self,
        plan: Plan,
        subscribers: Sequence[Subscriber] = (),
        output: Output | None = None,
        fresh: bool = False,
        *,
        cancel: CancelToken | None = None,
        session: Session | None = None,
        strict: bool = False,
    ) -> None:
        """Take the output (the folder, or a dry run's scratch), make the backend, open the
        run's record; ``subscribers`` follow the run after the counts and the record."""
        self.output = output = output or SaveFiles()
        # The folder is taken before anything is made in it (the events socket, a Dask
        # cluster's check), the backend made next, and the last run's manifest only replaced
        # once both are there.
        self.stats = RunStats(dry_run=not output.saves)
        workdir = output.take(plan)
        try:
            self.sink = open_sink(workdir)
        except BaseException:
            output.close(False, self.stats)
            raise
        session = replace(session or Session(plan.http), throttle_dir=throttle_path(workdir))
        # Unwatched (no live display, no log of each unit), workers send no events at all.
        watched = Publisher(subscribers).wants_worker_events()
        address = self.sink.address if watched else None
        self.context = RunContext(
            plan, session, cancel or CancelToken(), EventSender(address), writes=output.saves
        )
        self.plan = plan
        self.root = Path(plan.output.dir)
        try:
            self.backend = create_backend(self.context)
        except BaseException:
            self._close(completed=False)
            raise
        try:
            kept = output.open(plan, fresh)
            self.cursors = open_cursors(plan, self.root, fresh, output.saves)  # `incremental`
            self.stats.cluster = cluster_shape(self.backend)  # the summary shows it as found
        except BaseException:
            self.backend.abort()
            self._close(completed=False)
            raise
        self.state = output.state
        self.archive = output.archive
        # Rules that matched nothing: summed up by stage, said at the end (`strict`: failures)
        self.matches = Matches(plan, strict)
        self._publish = Publisher([self.stats, self.matches, *kept, self.cursors, *subscribers])
        self.fresh = fresh
        self._pages: deque[PageUnit] = deque()
        self._files: deque[DownloadUnit] = deque()
        self._in_flight: dict[UnitId, Unit] = {}
        self._lost: dict[UnitId, int] = {}
        self._order: deque[Key] = deque()
        self._arrived: dict[Key, PageResult] = {}
        # A download named like the manifest or an `emit` file gets a suffix, never overwrites it
        self.names = NameRegistry(self.root, plan.output.on_conflict, output.reserved(plan))
        self._asked: set[str] = set()  # page requests made or queued (page_signature)
        self._writing: dict[str, deque[DownloadUnit]] = {}

    def _close(self, completed: bool) -> None:
        """Close the event socket and this process's connections, and the output: its record
        put in place or dropped, the folder let go of. A failure to write here stops the run."""
        try:
            self.sink.close()
            self.context.session.close()  # this process's connections (serial, thread)
            self.context.events.close()
        finally:
            self.output.close(completed, self.stats)

    def run(self) -> RunStats:
        """Crawl until every unit has a result, or until interrupted (Ctrl-C / SIGTERM)."""
        self._publish.run_started(self.stats)
        completed = False  # only a run that got to its end puts `emit` files in place
        try:
            for index, stage in enumerate(self.plan.start_stages):
                unit = PageUnit(
                    (index,), stage.name, dict(self.plan.vars), cookies=self.plan.start_cookies
                )
                self._first_asked(unit)  # known, so no later page asks for it again
                self._queue_page(unit)
                self._order.append(unit.key)
            while self._pages or self._files or self._in_flight:
                self._fill()
                results = self.backend.poll(0.2)
                events = self.sink.drain()
                if events:
                    self._publish.worker_events(events)
                for result in results:
                    self._handle(result)
                self._release()
                self._publish.tick()
                if self.context.cancel.stopped:
                    raise KeyboardInterrupt  # the signal's own exception was lost in a fork
            self.backend.close()
            completed = True
        except (KeyboardInterrupt, FolderError) as exc:
            if isinstance(exc, FolderError):  # a full or read-only folder: stop, keep what is
                self.stats.stopped = str(exc)
            else:
                self.stats.interrupted = True
            with _interrupts_held():  # a second Ctrl-C must not cut the clean-up short
                self.backend.abort()
                self._remove_partial_files()
        finally:
            self._close(completed)
            self.stats.elapsed = time.monotonic() - self.stats.started
        self.matches.finish(self.stats)
        try:
            self._publish.run_ended(self.stats)
        except KeyboardInterrupt:  # Ctrl-C while the summary is written: stop writing, no trace
            self.stats.interrupted = True
        return self.stats

    def _queue_page(self, unit: PageUnit) -> None:
        unit = self.cursors.stamp(unit)  # an incremental stage's first page: its stored cursor
        self._pages.append(unit)
        self._publish.page_queued(unit)

    def _fill(self) -> None:
        """Keep the backend busy; files first, so finished work leaves memory early."""
        while len(self._in_flight) < self.backend.capacity() and (self._files or self._pages):
            unit: Unit = self._files.popleft() if self._files else self._page_to_send()
            self._in_flight[unit_id(unit)] = unit
            self.backend.submit(unit)

    def _page_to_send(self) -> PageUnit:
        """The next page, with what an earlier run kept of it (looked up only now, so pages
        waiting in the queue do not hold their bodies)."""
        return with_cached(self.plan, self._pages.popleft(), self.output.page_cache)

    def _handle(self, result: Result) -> None:
        if self._in_flight.pop(unit_id(result.unit), None) is None:
            return  # a late answer for a unit already settled (lost, then retried)
        if isinstance(result, Lost):
            self._retry_or_fail(result)
        else:
            self._settle(result)

    def _settle(self, result: PageResult | FileResult) -> None:
        if isinstance(result, PageResult):
            self._page_arrived(result)
        else:
            self._file_finished(result)

    def _retry_or_fail(self, lost: Lost) -> None:
        """A worker died holding this unit: try it again, or record it failed."""
        self._publish.unit_lost(lost)
        uid = unit_id(lost.unit)
        tries = self._lost[uid] = self._lost.get(uid, 0) + 1
        if tries <= LOST_RETRIES:
            if isinstance(lost.unit, DownloadUnit):
                self._files.appendleft(replace(lost.unit, partial=True))  # what it kept goes on
            else:
                self._pages.appendleft(lost.unit)
            return
        self._settle(failed(self.plan, lost.unit, f"{lost.reason} ({tries} times)"))

    def _remove_partial_files(self) -> None:
        """After an interrupt, no temporary file of an unfinished download stays behind (its
        workers are stopped: every temporary file left is one)."""
        self.output.remove_partial_files()

    def _page_arrived(self, result: PageResult) -> None:
        """Queue the pages it leads to that are not asked already, then publish it (and the
        repeats), so a display never sees a page done before the pages it found."""
        repeated: list[tuple[PageUnit, str]] = []
        kept = tuple(child for child in result.children if self._first_asked(child, repeated))
        if len(kept) < len(result.children):
            result = replace(result, children=kept)  # crawl order waits only for what is asked
        for child in kept:
            self._queue_page(child)
        self._arrived[result.unit.key] = result
        self._publish.page_done(result)
        for unit, url in repeated:
            self._publish.page_duplicate(unit, url)

    def _first_asked(
        self, unit: PageUnit, repeated: list[tuple[PageUnit, str]] | None = None
    ) -> bool:
        """False for a page whose request this run has already made or queued (a duplicate,
        added to ``repeated``, or published at once)."""
        asked = page_signature(self.plan, unit)
        if asked is None:
            return True
        if asked[0] in self._asked:
            if repeated is None:
                self._publish.page_duplicate(unit, asked[1])
            else:
                repeated.append((unit, asked[1]))
            return False
        self._asked.add(asked[0])
        return True

    def _release(self) -> None:
        """Settle file names page by page, in crawl order, as far as results have arrived."""
        while self._order and self._order[0] in self._arrived:
            result = self._arrived.pop(self._order.popleft())
            self._order.extendleft(reversed([child.key for child in result.children]))
            for request in result.files:
                self._claim(request)
            self._publish.page_released(result)

    def _claim(self, request: FileRequest) -> None:
        """Give a requested file its final name, by the conflict policy, and queue it."""
        named = self.names.settle(request)
        if isinstance(named, Refused):
            self._refused(request, named)
        else:
            self._queue(request, named.path)

    def _refused(self, request: FileRequest, refused: Refused) -> None:
        if refused.status == "failed":
            self._publish.file_unnamed(request, refused.path, refused.reason)
        else:
            self._not_fetched(request, refused.status, refused.reason)

    def _queue(self, request: FileRequest, path: str) -> None:
        overwrite = self.plan.output.on_conflict == "overwrite" or self.fresh
        unit = download_unit(self.state, request, path, overwrite)
        if self.archive.skips(request, unit):  # output.archive: another crawl has it
            self._not_fetched(request, "archived", self.archive.reason(request))
            return
        self._publish.file_planned(unit)
        if not self.output.saves:  # a dry run: listed, not fetched
            return
        unit = self.output.resumable(unit)  # a part kept by an earlier run is continued
        key = family_key(path)  # a file whose {ext} is to come may become any of its family
        if key in self._writing:  # overwrite: the later file waits for the earlier to land
            self._writing[key].append(unit)
            return
        self._writing[key] = deque()
        self._files.append(unit)

    def _file_finished(self, result: FileResult) -> None:
        """Publish it; a later file to the same name may go now."""
        self._publish.file_done(result)
        key = family_key(result.unit.path)
        waiting = self._writing.get(key)
        if waiting:
            self._files.append(waiting.popleft())
        else:
            self._writing.pop(key, None)

    def _not_fetched(self, request: FileRequest, status: str, reason: str) -> None:
        self._publish.file_skipped(request, status, reason)
