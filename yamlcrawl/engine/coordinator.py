"""The coordinator every mode shares: it hands units to a backend and settles what comes back.

Pages are dispatched as soon as they are known, in any mode, in any order. Their results are
*released* in crawl order (depth first, in the order of the JSON), and only then are their files
named: so which of two same-named skins becomes ``name (2).jpg`` never depends on timing.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Protocol

from yamlcrawl.backends import create_backend
from yamlcrawl.language.plan import Plan
from yamlcrawl.language.redact import redact_value
from yamlcrawl.storage.outdir import FolderError, OutputFolder, sweep_temporaries
from yamlcrawl.storage.safepath import (
    UnsafePathError,
    conflict_key,
    family_key,
    numbered,
    resolve_inside,
)
from yamlcrawl.storage.state import STATE_DIR, NoState, StateStore
from yamlcrawl.storage.store import Manifest, Records
from yamlcrawl.types import (
    DownloadUnit,
    Failure,
    FileRequest,
    FileResult,
    Key,
    Lost,
    PageResult,
    PageUnit,
    Result,
    RunStats,
    Unit,
    UnitId,
    unit_id,
)
from yamlcrawl.work import cancel
from yamlcrawl.work.events import Event, open_sink
from yamlcrawl.work.requests import page_signature
from yamlcrawl.work.run import failed

# A unit whose worker process died is tried once more before it counts as failed.
LOST_RETRIES = 1
# Set by the CLI's signal handler; the run loop checks it in case the KeyboardInterrupt the
# handler raised was swallowed (Python drops exceptions raised inside at-fork hooks).
INTERRUPTED = threading.Event()


class Events(Protocol):
    """What the coordinator tells the display. Only the main process ever calls it."""

    def run_started(self, plan: Plan, stats: RunStats) -> None:
        """The run begins; ``stats`` is updated as it goes."""

    def page_queued(self, unit: PageUnit) -> None:
        """A page became known (a start page, or one a fan-out found)."""

    def wants_worker_events(self) -> bool:
        """Whether anyone will see what workers are doing (else they need not say it)."""

    def worker_events(self, events: list[Event]) -> None:
        """What workers said they are doing (started, bytes, retries)."""

    def tick(self) -> None:
        """Called between polls: a chance to refresh or log progress."""

    def page_done(self, result: PageResult) -> None:
        """A page was fetched (or failed)."""

    def file_done(self, result: FileResult) -> None:
        """A download finished (saved, present, or failed)."""

    def file_skipped(self, request: FileRequest, reason: str) -> None:
        """A file was not fetched: no URL, a duplicate, a conflict."""

    def file_unnamed(self, request: FileRequest, reason: str) -> None:
        """A file could not be named (its save_as failed, or left the folder): it failed."""

    def file_planned(self, unit: DownloadUnit) -> None:
        """A file was named and queued (or, in a dry run, would be saved)."""


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
    """Runs one crawl on one backend."""

    def __init__(
        self, plan: Plan, events: Events, dry_run: bool = False, fresh: bool = False
    ) -> None:
        # A dry run writes nothing in the output folder, so its limits live in a scratch folder.
        self._scratch = tempfile.mkdtemp(prefix="yamlcrawl-") if dry_run else None
        # The folder is taken before anything is made in it (the events socket, a Dask
        # cluster's check), the backend made next, and the last run's manifest only replaced
        # once both are there.
        self.folder = OutputFolder(Path(plan.output.dir))
        try:
            if not dry_run:
                self.folder.open()
            self.sink = open_sink(Path(self._scratch or plan.output.dir))
        except BaseException:
            self.folder.close()
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
            raise
        throttle = str(Path(self._scratch or plan.output.dir) / STATE_DIR / "throttle")
        http = replace(plan.http, throttle_dir=throttle)
        # Unwatched (no live display, no log of each unit), workers send no events at all.
        address = self.sink.address if events.wants_worker_events() else None
        self.plan = plan = replace(plan, http=http, events=address, _by_name={})
        self.dry_run = dry_run
        self.root = Path(plan.output.dir)
        self.stats = RunStats()
        self.manifest = Manifest(None)
        self.state: StateStore | NoState = NoState()
        self.records: Records | None = None
        self._emits = [(s.emit[0], [c for c, _ in s.emit[1]]) for s in plan.stages if s.emit]
        manifest = None if dry_run or plan.output.manifest is None else plan.output.manifest
        try:
            self.backend = create_backend(plan)
        except BaseException:
            self._close(completed=False)
            raise
        try:
            self._open_stores(manifest, fresh)
        except BaseException:
            self.backend.abort()
            self._close(completed=False)
            raise
        self.events = events
        self.fresh = fresh
        self._pages: deque[PageUnit] = deque()
        self._files: deque[DownloadUnit] = deque()
        self._in_flight: dict[UnitId, Unit] = {}
        self._lost: dict[UnitId, int] = {}
        self._order: deque[Key] = deque()
        self._arrived: dict[Key, PageResult] = {}
        # Names taken: exact ones (conflict keys), the same without extension (family keys),
        # and names whose {ext} the response settles, which take every extension of theirs.
        self._claims: set[str] = set()
        self._families: set[str] = set()
        self._ext_to_come: set[str] = set()
        self._seen: set[tuple[str, str, bool]] = set()
        self._asked: set[str] = set()  # page requests made or queued (page_signature)
        self._writing: dict[str, deque[DownloadUnit]] = {}
        if manifest:  # a download named like the manifest gets a suffix, never overwrites it
            self._take(PurePosixPath(manifest), ext_to_come=False)
        for name, _ in self._emits:  # and so does one named like an `emit` file
            self._take(PurePosixPath(name), ext_to_come=False)

    def _open_stores(self, manifest: str | None, fresh: bool) -> None:
        """Open what the run writes in the output folder: manifest, state, `emit` files.

        Raises:
            FolderError: one of them cannot be used; the message says which and why.
        """
        if self.dry_run:
            return
        self.manifest = Manifest(
            self.root / manifest if manifest else None,
            partial(redact_value, secrets=self.plan.secrets),
        )
        self.state = StateStore(self.root, fresh)
        if self._emits:
            self.records = Records(self.root, self._emits)

    def _close(self, completed: bool) -> None:
        """Put `emit` files in place (a run that got to its end) or drop them, close the
        manifest, the state and the event socket, and let go of the folder. A failure to
        write here stops the run."""
        steps = (partial(self._finish_records, completed), self.manifest.close, self.state.close)
        try:
            for step in steps:
                try:
                    step()
                except FolderError as exc:
                    self.stats.stopped = self.stats.stopped or str(exc)
        finally:
            self.folder.close()
            self.sink.close()
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)

    def _finish_records(self, completed: bool) -> None:
        if self.records is not None:
            self.records.finish(complete=completed)
            self.stats.records = self.records.written

    def run(self) -> RunStats:
        """Crawl until every unit has a result, or until interrupted (Ctrl-C / SIGTERM)."""
        cancel.STOP.clear()
        INTERRUPTED.clear()
        self.events.run_started(self.plan, self.stats)
        completed = False  # only a run that got to its end puts `emit` files in place
        try:
            for index, stage in enumerate(self.plan.start_stages):
                unit = PageUnit((index,), stage.name, dict(self.plan.vars))
                self._first_asked(unit)  # known, so no later page asks for it again
                self._queue_page(unit)
                self._order.append(unit.key)
            while self._pages or self._files or self._in_flight:
                self._fill()
                results = self.backend.poll(0.2)
                self.events.worker_events(self.sink.drain())
                for result in results:
                    self._handle(result)
                self._release()
                self.events.tick()
                if INTERRUPTED.is_set():
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
        return self.stats

    def _queue_page(self, unit: PageUnit) -> None:
        self._pages.append(unit)
        self.events.page_queued(unit)

    def _fill(self) -> None:
        """Keep the backend busy; files first, so finished work leaves memory early."""
        while len(self._in_flight) < self.backend.capacity() and (self._files or self._pages):
            unit: Unit = self._files.popleft() if self._files else self._pages.popleft()
            self._in_flight[unit_id(unit)] = unit
            self.backend.submit(unit)

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
        self.stats.lost += 1
        uid = unit_id(lost.unit)
        tries = self._lost[uid] = self._lost.get(uid, 0) + 1
        if tries <= LOST_RETRIES:
            if isinstance(lost.unit, DownloadUnit):
                self._files.appendleft(lost.unit)
            else:
                self._pages.appendleft(lost.unit)
            return
        self._settle(failed(self.plan, lost.unit, f"{lost.reason} ({tries} times)"))

    def _remove_partial_files(self) -> None:
        """After an interrupt, no temporary file of an unfinished download stays behind (its
        workers are stopped: every temporary file left is one)."""
        if not self.dry_run:
            sweep_temporaries(self.root)

    def _page_arrived(self, result: PageResult) -> None:
        self.stats.pages += 1
        self.stats.retries += max(result.attempts - 1, 0)
        self.stats.left_out += result.left_out
        if result.error is not None:
            self.stats.pages_failed += 1
            self._fail("page", result.unit.stage, result.url, None, result.error)
            self.manifest.page_failed(result)
        if result.warning is not None:
            self.stats.warnings.append(f"{result.unit.stage} {result.url}: {result.warning}")
            self.manifest.page_warning(result)
        kept = tuple(child for child in result.children if self._first_asked(child))
        if len(kept) < len(result.children):
            result = replace(result, children=kept)  # crawl order waits only for what is asked
        for child in kept:
            self._queue_page(child)
        self._arrived[result.unit.key] = result
        self.events.page_done(result)

    def _first_asked(self, unit: PageUnit) -> bool:
        """False for a page whose request this run has already made or queued (a duplicate)."""
        asked = page_signature(self.plan, unit)
        if asked is None:
            return True
        if asked[0] in self._asked:
            self.stats.duplicates += 1
            self.manifest.page_duplicate(unit, asked[1])
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
            emit = self.plan.stage(result.unit.stage).emit
            if emit is not None and self.records is not None and result.error is None:
                self.records.add(emit[0], result.records)

    def _claim(self, request: FileRequest) -> None:
        """Give a requested file its final name, by the conflict policy, and queue it."""
        if request.skip is not None:
            self._not_fetched(request, "skipped", request.skip)
            return
        if request.problem is not None:
            self._fail("file", request.stage, request.url, None, request.problem)
            self.manifest.file_not_fetched(request, "failed", request.problem)
            self.events.file_unnamed(request, request.problem)
            return
        path = PurePosixPath(request.path)
        asked = (request.url, conflict_key(path), request.ext_to_come)
        if asked in self._seen:
            self._not_fetched(request, "duplicate", "the same URL to the same path again")
            return
        self._seen.add(asked)
        taken = self._taken(path, request.ext_to_come)
        if taken and self.plan.output.on_conflict == "skip":
            self._not_fetched(request, "skipped", f"{request.planned} is taken by another URL")
            return
        if taken and self.plan.output.on_conflict == "suffix":
            path = self._free_number(path, request.ext_to_come)
        self._queue(request, path)

    def _taken(self, path: PurePosixPath, ext_to_come: bool) -> bool:
        """Whether a file already claimed could end up at ``path`` (with any `{ext}`)."""
        if ext_to_come:
            key = conflict_key(path)
            return key in self._ext_to_come or key in self._families
        return conflict_key(path) in self._claims or family_key(path) in self._ext_to_come

    def _take(self, path: PurePosixPath, ext_to_come: bool) -> None:
        if ext_to_come:
            self._ext_to_come.add(conflict_key(path))
        else:
            self._claims.add(conflict_key(path))
            self._families.add(family_key(path))

    def _free_number(self, path: PurePosixPath, ext_to_come: bool) -> PurePosixPath:
        number = 2
        while self._taken(numbered(path, number, ext_to_come), ext_to_come):
            number += 1
        return numbered(path, number, ext_to_come)

    def _queue(self, request: FileRequest, path: PurePosixPath) -> None:
        try:
            resolve_inside(self.root, path)
            if path.parts[0].casefold() == STATE_DIR:
                raise UnsafePathError(path, f"is in {STATE_DIR}/, kept for yamlcrawl's own state")
        except UnsafePathError as exc:
            self._fail("file", request.stage, request.url, str(path), str(exc))
            self.manifest.file_not_fetched(request, "failed", str(exc))
            self.events.file_unnamed(request, str(exc))
            return
        self._take(path, request.ext_to_come)
        unit = self._download_unit(request, path)
        self.stats.planned += 1
        self.events.file_planned(unit)
        if self.dry_run:
            return
        key = family_key(path)  # a file whose {ext} is to come may become any of its family
        if key in self._writing:  # overwrite: the later file waits for the earlier to land
            self._writing[key].append(unit)
            return
        self._writing[key] = deque()
        self._files.append(unit)

    def _download_unit(self, request: FileRequest, path: PurePosixPath) -> DownloadUnit:
        """The unit for a named file, with what an earlier run saved under that name."""
        finished = self.state.lookup(str(path), request.ext_to_come)
        known = finished is not None and finished.url == request.url
        # A name an earlier run saved from another URL is not this file: fetch it again.
        moved = finished is not None and not known
        overwrite = self.plan.output.on_conflict == "overwrite" or self.fresh or moved
        return DownloadUnit(
            request.key,
            request.stage,
            request.url,
            str(path),
            request.headers,
            overwrite,
            (finished.bytes, finished.sha256) if finished is not None and known else None,
            ext_to_come=request.ext_to_come,
            found=finished.path if finished is not None and known else None,
        )

    def _file_finished(self, result: FileResult) -> None:
        unit = result.unit
        self.stats.retries += max(result.attempts - 1, 0)
        if result.status in ("saved", "present") and result.sha256 is not None:
            planned = unit.path if unit.ext_to_come else None
            self.state.record(result.path, unit.url, result.bytes, result.sha256, planned)
        if result.status == "saved":
            self.stats.saved += 1
            self.stats.bytes += result.bytes
        elif result.status == "present":
            self.stats.present += 1
        else:
            self._fail("file", unit.stage, unit.url, result.path, result.error or "failed")
        self.manifest.file_done(result)
        if result.folder_full:
            raise FolderError(
                f"the output folder {self.root} cannot take more files ({result.error}):"
                " the run stopped; what it saved is whole, and a rerun fetches the rest"
            )
        key = family_key(unit.path)
        waiting = self._writing.get(key)
        if waiting:
            self._files.append(waiting.popleft())
        else:
            self._writing.pop(key, None)
        self.events.file_done(result)

    def _not_fetched(self, request: FileRequest, status: str, reason: str) -> None:
        if status == "duplicate":
            self.stats.duplicates += 1
        else:
            self.stats.skipped += 1
        self.manifest.file_not_fetched(request, status, reason)
        self.events.file_skipped(request, reason)

    def _fail(self, kind: str, stage: str, url: str, path: str | None, reason: str) -> None:
        if kind == "file":
            self.stats.failed += 1
        self.stats.failures.append(Failure(kind, stage, url, path, reason))
