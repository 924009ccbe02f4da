"""What the person running a crawl sees of its progress. Only the main process draws.

On a terminal: a live ``rich`` display (`Display`), a bar per stage (pages) and per download
rule (files, titled by the rule's name) whose total grows as fan-out finds work (``12/30+``
until it is final), bytes, speed, elapsed time, and the remaining time once every total is
final; counters; and in the parallel modes the workers at work the longest (a few lines at
most, as many as the terminal has room for) under a ``12 busy / 52 idle`` line. When the run
ends the worker lines go: the bars and the counters stay, above the summary.

Colours are calm (red only for failures); ``NO_COLOR`` takes them away (rich reads it) but
keeps the live display. Elsewhere (a pipe, CI, a dry run) no live display: a plain
``progress key=value ...`` line every few seconds (`PlainProgress`), which also ends the log
file. Both read the run's counts (``RunStats``); the figures of the bars are the display's own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.progress_bar import ProgressBar
from rich.table import Column, Table
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
from yamlcrawl.ui.units import size_text, speed_text

PLAIN_INTERVAL = 5.0  # seconds between two progress lines when there is no live display
WORKER_LINES = 8  # at most this many workers listed, those at work the longest
TITLE_WIDTH = 28  # a bar's title is cut (…) past this many cells
DONE_KEPT = 8192  # units known done: a late "start" of one of them is no busy worker
FAILED = "red"  # the one red of the display: failures
Clock = Callable[[], float]
UnitId = tuple[str, tuple[int, ...]]


class CountColumn(ProgressColumn):
    """``done/total``, with a ``+`` while fan-out may still add to the total."""

    def render(self, task: Task) -> Text:
        """The count of one bar."""
        total = int(task.total or 0)
        more = "" if task.fields.get("final") else "+"
        return Text(f"{int(task.completed)}/{total}{more}")


class CalmBarColumn(BarColumn):
    """The bar: empty at ``0/0``, and green only once its total is final and reached."""

    def render(self, task: Task) -> ProgressBar:
        """One bar."""
        done = task.fields.get("final") and task.completed >= (task.total or 0)
        return ProgressBar(
            total=max(task.total or 0, 1),
            completed=task.completed,
            width=self.bar_width,
            style=self.style,
            complete_style=self.finished_style if done else self.complete_style,
            finished_style=self.finished_style if done else self.complete_style,
        )


class BytesColumn(ProgressColumn):
    """Bytes received for a download rule and their rate, once it has some."""

    def render(self, task: Task) -> Text:
        """Bytes and speed of one bar (blank for pages)."""
        received = int(task.fields.get("bytes", 0))
        if not task.fields.get("files") or not received:
            return Text("")
        return Text(f"{size_text(received)} {speed_text(received, task.fields.get('took', 0.0))}")


class ElapsedColumn(ProgressColumn):
    """How long the bar has run, or took (once its total is final and reached)."""

    def render(self, task: Task) -> Text:
        """The bar's time, ``0:00:12``."""
        return Text(str(timedelta(seconds=int(task.fields.get("took", 0.0)))), style="dim")


class RemainingColumn(ProgressColumn):
    """``eta 0:00:06``, only once every total of the run is final: a growing total has none.

    At the bar's pace so far: what is left times the time each unit took on average.
    """

    def render(self, task: Task) -> Text:
        """The bar's remaining time, or nothing."""
        done, total = task.completed, task.total or 0
        if not task.fields.get("all_final") or not done or done >= total:
            return Text("")
        left = (total - done) * task.fields.get("took", 0.0) / done
        return Text(f"eta {timedelta(seconds=round(left))}", style="dim")


@dataclass
class _Worker:
    doing: str
    since: float
    unit: UnitId
    bytes: int = 0


@dataclass
class _Bar:
    """One bar's figures, kept here and handed to rich only when it draws (cheaper per file)."""

    total: int = 0
    completed: int = 0
    bytes: int = 0
    final: bool = False
    took: float | None = None  # seconds from the start to its last unit, once it is done


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
        self.workers: dict[str, _Worker] = {}  # the busy ones
        self._done: dict[UnitId, None] = {}  # the last units done, oldest first
        self.ended = False  # the run is over: no worker lines any more
        self.progress = _new_progress(self.console, clock)
        self._tasks: dict[tuple[str, int | None], TaskID] = {}
        self._bars: dict[tuple[str, int | None], _Bar] = {}
        self._live: Live | None = None
        self._finality_stale = False
        self._started = clock()
        for stage in plan.stages:
            self._add_bar((stage.name, None), f"{stage.name} pages", files=False)
            for rule in stage.downloads:
                self._add_bar((stage.name, rule.index), rule.name)

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
        """Leave the bars on the screen, before the summary."""
        self.finish()

    def _add_bar(self, key: tuple[str, int | None], title: str, files: bool = True) -> None:
        self._bars[key] = _Bar()
        self._tasks[key] = self.progress.add_task(
            shown(redact(title, self.plan.secrets)), total=0, final=False, files=files, bytes=0
        )

    def _sync(self) -> None:
        """Hand the bars' figures to rich, just before it draws them."""
        self._refresh_finality()
        now = self.clock() - self._started
        all_final = all(bar.final for bar in self._bars.values())
        for key, bar in self._bars.items():
            if bar.took is None and bar.final and bar.completed >= bar.total:
                bar.took = now
            self.progress.update(
                self._tasks[key],
                total=bar.total,
                completed=bar.completed,
                bytes=bar.bytes,
                final=bar.final,
                all_final=all_final,
                took=now if bar.took is None else bar.took,
            )

    def finish(self) -> None:
        """Stop the live display, leaving its bars and counters (no workers) on the screen."""
        self.ended = True
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
        """Keep each busy worker's line current."""
        now = self.clock()
        for event in events:
            if event.kind == "start" and event.unit not in self._done:
                doing = shown(redact(event.detail, self.plan.secrets))
                self.workers[event.worker] = _Worker(doing, now, event.unit)
            elif event.kind == "bytes":
                worker = self.workers.get(event.worker)
                if worker is not None:
                    worker.bytes += event.amount

    def _idle(self, uid: UnitId) -> None:
        """Every worker on ``uid`` is done with it (unless it has started another since): a
        unit lost with a worker that died, and run again by another, leaves no line behind.

        Events and results travel apart: a unit's "start" may come after its result, and is
        then no work (``_done`` remembers the last units done).
        """
        if not (self.live or self.workers):  # nobody sends events
            return
        self._done[uid] = None
        if len(self._done) > DONE_KEPT:
            del self._done[next(iter(self._done))]
        for name in [name for name, worker in self.workers.items() if worker.unit == uid]:
            del self.workers[name]

    # -- drawing ---------------------------------------------------------------------------

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Bars, counters, then (while the run lasts) the busy workers, within the terminal."""
        self._sync()
        # Wrapped here, a line each: rich's Live drops what it wraps on a soft-wrapping console.
        counters = _counters_text(self.counters_line(), self.stats).wrap(console, options.max_width)
        parts: list[RenderableType] = [self.progress, *counters]
        if self.plan.mode != "serial" and not self.ended:
            used = len(self._bars) + len(counters)
            room = (options.height or options.max_height) - used - 2  # the busy line, a spare
            parts += self._worker_lines(max(0, min(WORKER_LINES, room)))
        yield Group(*parts)

    def counters_line(self) -> str:
        """Present, skipped, duplicates, retried, failed, lost, bytes and speed so far."""
        stats = self.stats
        elapsed = self.clock() - self._started
        received = stats.bytes_so_far
        return (
            f"already present {stats.present} · skipped {stats.skipped}"
            f" · duplicates {stats.duplicates} · retried"
            f" {stats.retries_so_far} · failed {len(stats.failures)} · lost {stats.lost} ·"
            f" {size_text(received)} at {speed_text(received, elapsed)}"
        )

    def slots(self) -> int:
        """How many units the mode works on at once (a pool's workers take one each)."""
        per_worker = 1 if self.plan.mode == "pool" else self.plan.threads
        return max(self.plan.workers * per_worker, len(self.workers))

    def _worker_lines(self, room: int) -> list[RenderableType]:
        """The workers at work the longest (at most ``room``), then ``N busy / M idle``."""
        busy = len(self.workers)
        listed = sorted(self.workers.items(), key=_longest_first)[:room]
        said = f"{busy} busy / {self.slots() - busy} idle"
        if len(listed) < busy:
            said += f" ({len(listed)} at work the longest shown)"
        if not listed:
            return [Text(said, style="dim")]
        return [_worker_table(listed, self.clock()), Text(said, style="dim")]

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


def natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts ``thread 2`` before ``thread 10``: numbers compared as numbers."""
    return tuple((1, int(part)) if part.isdigit() else (0, part) for part in _DIGITS.split(name))


_DIGITS = re.compile(r"(\d+)")


def _longest_first(item: tuple[str, _Worker]) -> tuple[float, tuple[tuple[int, int | str], ...]]:
    name, worker = item
    return worker.since, natural(name)


def _worker_table(workers: Iterable[tuple[str, _Worker]], now: float) -> Table:
    """A line per worker, as wide as the terminal: name, what it does (cut …), bytes, time."""
    table = Table.grid(
        Column(no_wrap=True, max_width=40, overflow="ellipsis", style="dim"),
        Column(no_wrap=True, overflow="ellipsis", ratio=1),
        Column(no_wrap=True, justify="right"),
        Column(no_wrap=True, justify="right", style="dim"),
        padding=(0, 2),
        expand=True,
    )
    for name, worker in workers:
        amount = size_text(worker.bytes) if worker.bytes else ""
        since = f"{now - worker.since:.1f}s"
        table.add_row(escape(shown(name)), escape(worker.doing), amount, since)
    return table


def _counters_text(line: str, stats: RunStats) -> Text:
    """The counters, ``failed N`` in red once something failed."""
    text = Text(line)
    if stats.failures:
        text.highlight_regex(r"failed \d+", FAILED)
    return text


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
        TextColumn(
            "{task.description}",
            markup=False,
            table_column=Column(no_wrap=True, overflow="ellipsis", max_width=TITLE_WIDTH),
        ),
        CalmBarColumn(bar_width=24, complete_style="cyan", finished_style="green"),
        CountColumn(table_column=Column(no_wrap=True)),
        BytesColumn(table_column=Column(no_wrap=True)),
        ElapsedColumn(table_column=Column(no_wrap=True)),
        RemainingColumn(table_column=Column(no_wrap=True)),
        console=console,
        get_time=clock,
        auto_refresh=False,
    )
