"""What the person running a crawl sees of its progress. Only the main process draws.

On a terminal: a live ``rich`` display (`Display`), a bar per stage (pages) and per download
rule (files) whose total grows as fan-out finds work (``12/30+`` until it is final), bytes,
speed, elapsed and remaining time, counters, and a line per worker saying what it does now.
Elsewhere (a pipe, CI, ``NO_COLOR``, a dry run) no live display: a plain
``progress key=value ...`` line every few seconds (`PlainProgress`), which also ends the log
file. Both read the run's counts (``RunStats``); the figures of the bars are the display's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console, Group, RenderableType
from rich.filesize import decimal
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from yamlcrawl.language.plan import Plan
from yamlcrawl.language.redact import redact
from yamlcrawl.shown import shown
from yamlcrawl.types import (
    DownloadUnit,
    Event,
    FileResult,
    PageResult,
    PageUnit,
    RunStats,
    Subscriber,
    unit_id,
)
from yamlcrawl.ui.log import NORMAL, Log, plain_console

PLAIN_INTERVAL = 5.0  # seconds between two progress lines when there is no live display
IDLE_FORGOTTEN = 3.0  # seconds an idle worker keeps its line
Clock = Callable[[], float]


class CountColumn(ProgressColumn):
    """``done/total``, with a ``+`` while fan-out may still add to the total."""

    def render(self, task: Task) -> Text:
        """The count of one bar."""
        total = int(task.total or 0)
        more = "" if task.fields.get("final") else "+"
        return Text(f"{int(task.completed)}/{total}{more}", style="progress.download")


class BytesColumn(ProgressColumn):
    """Bytes received for a download rule, and their rate since its first file."""

    def render(self, task: Task) -> Text:
        """Bytes and speed of one bar (blank for pages)."""
        received = int(task.fields.get("bytes", 0))
        if not task.fields.get("files"):
            return Text("")
        elapsed = task.elapsed or 0.0
        speed = f" {decimal(int(received / elapsed))}/s" if elapsed > 0 else ""
        return Text(f"{decimal(received)}{speed}", style="progress.data.speed")


@dataclass
class _Worker:
    doing: str
    since: float
    bytes: int = 0


@dataclass
class _Bar:
    """One bar's figures, kept here and handed to rich only when it draws (cheaper per file)."""

    total: int = 0
    completed: int = 0
    bytes: int = 0
    final: bool = False


class Display(Subscriber):
    """The live display: bars, counters and workers, drawn from the run's events and counts.

    Made with ``live=False`` it draws only when printed (as the tests do).
    """

    def __init__(
        self,
        plan: Plan,
        console: Console | None = None,
        live: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        self.plan = plan
        self.console = console or plain_console(stderr=True)
        self.live = live
        self.clock = clock
        self.stats = RunStats()
        self.workers: dict[str, _Worker] = {}
        self._working_on: dict[tuple[str, tuple[int, ...]], str] = {}
        self.progress = _new_progress(self.console, clock)
        self._tasks: dict[tuple[str, int | None], TaskID] = {}
        self._bars: dict[tuple[str, int | None], _Bar] = {}
        self._live: Live | None = None
        self._finality_stale = False
        self._started = clock()
        for stage in plan.stages:
            self._add_bar((stage.name, None), f"{stage.name} pages", files=False)
            for rule in stage.downloads:
                self._add_bar((stage.name, rule.index), f"{stage.name}[{rule.index}] files")

    # -- the run's life --------------------------------------------------------------------

    def wants_worker_events(self) -> bool:
        """Worker events feed the worker lines of a live display."""
        return self.live

    def run_started(self, stats: RunStats) -> None:
        """Read ``stats`` from now on; start the live display if wanted."""
        self.stats = stats
        self._started = self.clock()
        if self.live:
            self._live = Live(self, console=self.console, refresh_per_second=4, transient=False)
            self._live.start()

    def run_ended(self, stats: RunStats) -> None:
        """Leave the last frame on the screen, before the summary."""
        self.finish()

    def _add_bar(self, key: tuple[str, int | None], title: str, files: bool = True) -> None:
        self._bars[key] = _Bar()
        self._tasks[key] = self.progress.add_task(title, total=0, final=False, files=files, bytes=0)

    def _sync(self) -> None:
        """Hand the bars' figures to rich, just before it draws them."""
        self._refresh_finality()
        for key, bar in self._bars.items():
            self.progress.update(
                self._tasks[key],
                total=bar.total,
                completed=bar.completed,
                bytes=bar.bytes,
                final=bar.final,
            )

    def finish(self) -> None:
        """Stop the live display, leaving its last frame on the screen."""
        self._sync()
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None

    # -- the coordinator's events ----------------------------------------------------------

    def page_queued(self, unit: PageUnit) -> None:
        """One more page known for its stage."""
        self._bars[(unit.stage, None)].total += 1
        self._finality_stale = True  # settled when next drawn: a pass costs every stage

    def page_done(self, result: PageResult) -> None:
        """One more page of its stage done; its worker is idle."""
        self._bars[(result.unit.stage, None)].completed += 1
        self._idle(unit_id(result.unit))
        self._finality_stale = True  # settled when next drawn: a pass costs every stage

    def file_planned(self, unit: DownloadUnit) -> None:
        """One more file for its rule."""
        self._bars[(unit.stage, unit.key[-1])].total += 1

    def file_done(self, result: FileResult) -> None:
        """Advance its rule's bar (and its bytes); its worker is idle."""
        unit = result.unit
        bar = self._bars[(unit.stage, unit.key[-1])]
        bar.completed += 1
        if result.status == "saved":
            bar.bytes += result.bytes
        self._idle(("file", unit.key))

    def worker_events(self, events: list[Event]) -> None:
        """Keep each worker's line current."""
        now = self.clock()
        for event in events:
            if event.kind == "start":
                doing = shown(redact(event.detail, self.plan.secrets))
                self.workers[event.worker] = _Worker(doing, now)
                self._working_on[event.unit] = event.worker
            elif event.kind == "bytes":
                worker = self.workers.get(event.worker)
                if worker is not None:
                    worker.bytes += event.amount

    # -- drawing ---------------------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        """The live display: bars, counters, workers."""
        self._sync()
        parts: list[RenderableType] = [self.progress, Text(self.counters_line())]
        if self.plan.mode != "serial" and self.workers:
            parts.append(self._worker_table())
        return Group(*parts)

    def counters_line(self) -> str:
        """Present, skipped, duplicates, retried, failed, lost, bytes and speed so far."""
        stats = self.stats
        elapsed = max(self.clock() - self._started, 1e-9)
        received = stats.bytes_so_far
        return (
            f"already present {stats.present} · skipped {stats.skipped}"
            f" · duplicates {stats.duplicates} · retried"
            f" {stats.retries_so_far} · failed {len(stats.failures)} · lost {stats.lost} ·"
            f" {decimal(received)} at {decimal(int(received / elapsed))}/s"
        )

    def _worker_table(self) -> Table:
        """Busy workers first, at most as many lines as the mode has workers.

        In ``process`` mode every unit has a process of its own: idle lines of processes that
        have ended are dropped after a few seconds, so the table never grows with the crawl.
        """
        table = Table.grid(padding=(0, 2))
        now = self.clock()
        for name, worker in list(self.workers.items()):
            if worker.doing == "idle" and now - worker.since > IDLE_FORGOTTEN:
                del self.workers[name]
        lines = self.plan.workers * self.plan.threads
        ordered = sorted(self.workers, key=lambda name: (self.workers[name].doing == "idle", name))
        for name in ordered[:lines]:
            worker = self.workers[name]
            amount = f"{decimal(worker.bytes)}" if worker.bytes else ""
            since = f"{now - worker.since:.1f}s" if worker.doing != "idle" else ""
            table.add_row(escape(shown(name)), escape(worker.doing), amount, since)
        return table

    def _idle(self, uid: tuple[str, tuple[int, ...]]) -> None:
        if not self._working_on:
            return
        name = self._working_on.pop(uid, None)
        if name is not None and name in self.workers:
            self.workers[name] = _Worker("idle", self.clock())

    def _refresh_finality(self) -> None:
        """A stage's total is final once no page of it or above it is still to come.

        One pass over the stages, parents first (the plan's order), when the bars are read.
        """
        if not self._finality_stale:
            return
        self._finality_stale = False
        settled: dict[str, bool] = {}  # no page of it or above it still to come
        for stage in self.plan.stages:
            above = stage.parent is None or settled[stage.parent]
            pages = self._bars[(stage.name, None)]
            pages.final = above
            settled[stage.name] = above and pages.total == pages.completed
            for rule in stage.downloads:
                self._bars[(stage.name, rule.index)].final = settled[stage.name]


class PlainProgress(Subscriber):
    """Without a live display, a ``progress key=value ...`` line every few seconds; with a log
    file, the last one ends it."""

    def __init__(self, log: Log, periodic: bool = True, clock: Clock = time.monotonic) -> None:
        self.log = log
        self.periodic = periodic
        self.clock = clock
        self.stats = RunStats()
        self._started = self._last_line = clock()

    def run_started(self, stats: RunStats) -> None:
        """Read ``stats`` from now on."""
        self.stats = stats
        self._started = self._last_line = self.clock()

    def tick(self) -> None:
        """A line if the last is old enough."""
        now = self.clock()
        if self.periodic and now - self._last_line >= PLAIN_INTERVAL:
            self._last_line = now
            self.log.line(self.line(), always=self.log.verbosity >= NORMAL)

    def run_ended(self, stats: RunStats) -> None:
        """The log file ends with the run's last progress line."""
        if self.log.log_file is not None:
            self.log.line(self.line())

    def line(self) -> str:
        """See `progress_line`."""
        return progress_line(self.stats, self.clock() - self._started)


def progress_line(stats: RunStats, elapsed: float) -> str:
    """The plain form of the display, ``key=value`` pairs, for logs and pipes (``+``: more
    pages, so more files, may still come)."""
    files_done = stats.saved + stats.present + stats.failed
    more = "" if stats.pages_queued and stats.pages == stats.pages_queued else "+"
    return (
        f"progress elapsed={elapsed:.1f}s pages={stats.pages}/{stats.pages_queued}{more}"
        f" files={files_done}/{stats.planned}{more} saved={stats.saved}"
        f" present={stats.present} skipped={stats.skipped}"
        f" retried={stats.retries_so_far}"
        f" failed={len(stats.failures)} bytes={stats.bytes_so_far}"
    )


def _new_progress(console: Console, clock: Clock) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        CountColumn(),
        BytesColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        get_time=clock,
        auto_refresh=False,
    )
