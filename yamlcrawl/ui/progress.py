"""What the person running a crawl sees. Only the main process draws.

On a terminal: a live ``rich`` display, a bar per stage (pages) and per download rule (files)
whose total grows as fan-out finds work (``12/30+`` until it is final), bytes, speed, elapsed
and remaining time, counters, and a line per worker saying what it does now. Elsewhere (a pipe,
CI, ``NO_COLOR``) no live display: a plain ``progress key=value ...`` line every few seconds.
Either way the same summary at the end (stdout), and failures as they happen (stderr).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

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
from yamlcrawl.language.redact import redact, redact_value
from yamlcrawl.shown import shown
from yamlcrawl.types import (
    DownloadUnit,
    FileRequest,
    FileResult,
    PageResult,
    PageUnit,
    RunStats,
    unit_id,
)
from yamlcrawl.work.events import Event

QUIET, NORMAL, VERBOSE = 0, 1, 2
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


@dataclass
class _Counts:
    """What the display counts as the run goes (the summary uses the coordinator's stats)."""

    pages_queued: dict[str, int] = field(default_factory=dict)
    pages_done: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    bytes: int = 0


class Reporter:
    """Receives the coordinator's events and draws them."""

    def __init__(
        self,
        out: Console | None = None,
        log: Console | None = None,
        verbosity: int = NORMAL,
        dry_run: bool = False,
        live: bool | None = None,
        clock: Clock = time.monotonic,
        log_file: TextIO | None = None,
    ) -> None:
        self.out = out or Console(highlight=False, soft_wrap=True)
        self.log = log or Console(stderr=True, highlight=False, soft_wrap=True)
        self.verbosity = verbosity
        self.dry_run = dry_run
        self.clock = clock
        self.log_file = log_file
        if live is None:
            live = self.log.is_terminal and not os.environ.get("NO_COLOR")
        self.live_wanted = live and verbosity != QUIET and not dry_run
        self.plan: Plan | None = None
        self.stats = RunStats()
        self.counts = _Counts()
        self.workers: dict[str, _Worker] = {}
        self._working_on: dict[tuple[str, tuple[int, ...]], str] = {}
        # Bytes reported while a download runs, by unit; its result settles the exact count.
        self._streamed: dict[tuple[str, tuple[int, ...]], int] = {}
        self.progress = _new_progress(self.log, clock)
        self._tasks: dict[tuple[str, int | None], TaskID] = {}
        self._bars: dict[tuple[str, int | None], _Bar] = {}
        self._live: Live | None = None
        self._finality_stale = False
        self._started = clock()
        self._last_line = self._started

    # -- the run's life --------------------------------------------------------------------

    def run_started(self, plan: Plan, stats: RunStats) -> None:
        """Make a bar per stage and per download rule; start the live display if wanted."""
        self.plan, self.stats = plan, stats
        self._started = self._last_line = self.clock()
        for stage in plan.stages:
            self._add_bar((stage.name, None), f"{stage.name} pages", files=False)
            for rule in stage.downloads:
                self._add_bar((stage.name, rule.index), f"{stage.name}[{rule.index}] files")
        if self.live_wanted:
            self._live = Live(self, console=self.log, refresh_per_second=4, transient=False)
            self._live.start()

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

    def _redact(self, text: str) -> str:
        return redact(text, self.plan.secrets) if self.plan is not None else text

    @property
    def _lines_wanted(self) -> bool:
        """Whether per-page and per-file lines go anywhere (so are worth formatting)."""
        return self.log_file is not None or self.verbosity >= VERBOSE

    def wants_worker_events(self) -> bool:
        """Worker events feed the live display's worker lines and the per-unit log lines."""
        return self.live_wanted or self._lines_wanted

    def tick(self) -> None:
        """Without a live display, a progress line every few seconds."""
        now = self.clock()
        if self._live is None and now - self._last_line >= PLAIN_INTERVAL:
            self._last_line = now
            self._line(self.progress_line(), always=self.verbosity >= NORMAL)

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
        queued = self.counts.pages_queued
        queued[unit.stage] = queued.get(unit.stage, 0) + 1
        self._bars[(unit.stage, None)].total = queued[unit.stage]
        self._finality_stale = True  # settled when next drawn: a pass costs every stage

    def page_done(self, result: PageResult) -> None:
        """Count it; failures always shown, every page with -v."""
        stage = result.unit.stage
        self.counts.pages_done[stage] = self.counts.pages_done.get(stage, 0) + 1
        self._bars[(stage, None)].completed += 1
        self._idle(unit_id(result.unit))
        self._finality_stale = True  # settled when next drawn: a pass costs every stage
        if result.warning is not None:
            self._line(
                f"[yellow]warning[/] page {escape(stage)} {escape(result.url)}:"
                f" {escape(result.warning)}",
                always=True,
            )
        if result.error is not None:
            self._line(
                f"[red]failed[/] page {escape(stage)} {escape(result.url)}: {escape(result.error)}",
                always=True,
            )
        elif self._lines_wanted:
            found = f", {result.items} items" if result.items else ""
            files = f", {len(result.files)} files" if result.files else ""
            self._line(f"page {escape(stage)} {escape(result.url)}{found}{files}")

    def file_planned(self, unit: DownloadUnit) -> None:
        """One more file for its rule; in a dry run, the listing line."""
        self._bars[(unit.stage, unit.key[-1])].total += 1
        if self.dry_run:  # plain `path<TAB>url` lines for scripts: no markup, no tab expansion
            line = f"{shown(self._redact(unit.planned))}\t{shown(self._redact(unit.url))}"
            print(line, file=self.out.file, flush=True)

    def file_done(self, result: FileResult) -> None:
        """Advance its rule's bar; failures always shown, every file with -v."""
        unit = result.unit
        bar = self._bars[(unit.stage, unit.key[-1])]
        bar.completed += 1
        saved = result.bytes if result.status == "saved" else 0
        bar.bytes += saved
        # Workers report bytes only while a download runs (the last ones never: the result
        # has them), and datagrams can be dropped, so the count is made exact here.
        self.counts.bytes += saved - self._streamed.pop(unit_id(unit), 0)
        self._idle(unit_id(unit))
        if result.status == "failed":
            self._line(
                f"[red]failed[/] {escape(result.path)} <- {escape(unit.url)}:"
                f" {escape(result.error or '')}",
                always=True,
            )
        elif self._lines_wanted:
            self._line(
                f"{result.status} {escape(result.path)} ({result.bytes} bytes)"
                f" <- {escape(unit.url)}"
            )

    def file_skipped(self, request: FileRequest, reason: str) -> None:
        """Skips are counted; listed with -v."""
        if self._lines_wanted:
            what = request.planned or request.url or request.stage
            self._line(f"skipped {escape(what)}: {escape(reason)}")

    def file_unnamed(self, request: FileRequest, reason: str) -> None:
        """A file that could not be named failed: shown as it happens, like every failure."""
        where = escape(f"[{request.stage}]")
        self._line(f"[red]failed[/] file {where} {escape(request.url)}: {escape(reason)}", True)

    def worker_events(self, events: list[Event]) -> None:
        """Keep each worker's line current; count retries."""
        now = self.clock()
        for event in events:
            if event.kind == "start":
                self.workers[event.worker] = _Worker(shown(self._redact(event.detail)), now)
                self._working_on[event.unit] = event.worker
            elif event.kind == "bytes":
                worker = self.workers.get(event.worker)
                if worker is not None:
                    worker.bytes += event.amount
                self.counts.bytes += event.amount
                self._streamed[event.unit] = self._streamed.get(event.unit, 0) + event.amount
            else:
                self.counts.retries += 1
                self._line(f"[yellow]retry[/] {escape(event.detail)}")

    # -- drawing ---------------------------------------------------------------------------

    def __rich__(self) -> RenderableType:
        """The live display: bars, counters, workers."""
        self._sync()
        parts: list[RenderableType] = [self.progress, Text(self.counters_line())]
        if self.plan is not None and self.plan.mode != "serial" and self.workers:
            parts.append(self._worker_table())
        return Group(*parts)

    def counters_line(self) -> str:
        """Present, skipped, duplicates, retried, failed, lost, bytes and speed so far."""
        stats = self.stats
        elapsed = max(self.clock() - self._started, 1e-9)
        return (
            f"already present {stats.present} · skipped {stats.skipped}"
            f" · duplicates {stats.duplicates} · retried"
            f" {self.counts.retries} · failed {len(stats.failures)} · lost {stats.lost} ·"
            f" {decimal(self.counts.bytes)} at {decimal(int(self.counts.bytes / elapsed))}/s"
        )

    def progress_line(self) -> str:
        """The plain form of the display, ``key=value`` pairs, for logs and pipes."""
        stats = self.stats
        pages = sum(self.counts.pages_done.values())
        files_done = stats.saved + stats.present + stats.failed
        more = "" if self._all_final() else "+"
        elapsed = self.clock() - self._started
        queued = sum(self.counts.pages_queued.values())
        return (
            f"progress elapsed={elapsed:.1f}s pages={pages}/{queued}{more}"
            f" files={files_done}/{stats.planned}{more} saved={stats.saved}"
            f" present={stats.present} skipped={stats.skipped}"
            f" retried={max(self.counts.retries, stats.retries)}"
            f" failed={len(stats.failures)} bytes={self.counts.bytes}"
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
        assert self.plan is not None
        lines = self.plan.workers * self.plan.threads
        ordered = sorted(self.workers, key=lambda name: (self.workers[name].doing == "idle", name))
        for name in ordered[:lines]:
            worker = self.workers[name]
            amount = f"{decimal(worker.bytes)}" if worker.bytes else ""
            since = f"{now - worker.since:.1f}s" if worker.doing != "idle" else ""
            table.add_row(escape(shown(name)), escape(worker.doing), amount, since)
        return table

    def _idle(self, uid: tuple[str, tuple[int, ...]]) -> None:
        name = self._working_on.pop(uid, None)
        if name is not None and name in self.workers:
            self.workers[name] = _Worker("idle", self.clock())

    def _refresh_finality(self) -> None:
        """A stage's total is final once no page of it or above it is still to come.

        One pass over the stages, parents first (the plan's order), when the bars are read.
        """
        if self.plan is None or not self._finality_stale:
            return
        self._finality_stale = False
        settled: dict[str, bool] = {}  # no page of it or above it still to come
        for stage in self.plan.stages:
            above = stage.parent is None or settled[stage.parent]
            self._bars[(stage.name, None)].final = above
            settled[stage.name] = above and self._pending(stage.name) == 0
            for rule in stage.downloads:
                self._bars[(stage.name, rule.index)].final = settled[stage.name]

    def _pending(self, stage: str) -> int:
        return self.counts.pages_queued.get(stage, 0) - self.counts.pages_done.get(stage, 0)

    def _all_final(self) -> bool:
        self._refresh_finality()
        return all(bar.final for bar in self._bars.values())

    def _line(self, text: str, always: bool = False) -> None:
        """A log line: to the log file always, to stderr if loud enough (controls escaped)."""
        text = shown(self._redact(text))
        if self.log_file is not None:
            stamp = time.strftime("%H:%M:%S")
            self.log_file.write(f"{stamp} {Text.from_markup(text).plain}\n")
            self.log_file.flush()
        if always or self.verbosity >= VERBOSE:
            self.log.print(text)

    # -- the end ---------------------------------------------------------------------------

    def summary(self, plan: Plan, stats: RunStats) -> None:
        """The closing table, then every failure with its reason."""
        self.finish()
        table = Table(
            title=f"{escape(shown(plan.name))}: {verdict(stats, self.dry_run)}",
            title_justify="left",  # the verdict first on its line, whatever rich's version
            show_header=False,
        )
        table.add_column("what")
        table.add_column("count", justify="right")
        for what, count in summary_rows(plan, stats, self.dry_run):
            table.add_row(what, count)
        self.out.print(table)
        if stats.failures:
            self.out.print(f"[red]{len(stats.failures)} failed:[/]")
            for failure in stats.failures:
                target = f" -> {failure.path}" if failure.path else ""
                line = f"{failure.kind} [{failure.stage}] {failure.url}{target}: {failure.reason}"
                self.out.print(f"  {escape(shown(self._redact(line)))}")
        if stats.warnings:
            self.out.print(f"[yellow]{len(stats.warnings)} warnings:[/]")
            for warning in stats.warnings:
                self.out.print(f"  {escape(shown(self._redact(warning)))}")
        if self.log_file is not None:
            self._line(self.progress_line())


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


def verdict(stats: RunStats, dry_run: bool) -> str:
    """One word or three for how the run ended."""
    if stats.interrupted:
        return "interrupted"
    if stats.stopped is not None:
        return "stopped"
    if stats.failures:
        return "finished with failures"
    return "dry run finished" if dry_run else "finished"


def summary_rows(plan: Plan, stats: RunStats, dry_run: bool) -> list[tuple[str, str]]:
    """The summary as (label, value) rows; the report file has the same figures."""
    seconds = max(stats.elapsed, 1e-9)
    rows = [("pages fetched", f"{stats.pages - stats.pages_failed}")]
    if dry_run:
        rows.append(("files it would save", f"{stats.planned}"))
    else:
        rows += [("files saved", f"{stats.saved}"), ("already present", f"{stats.present}")]
    rows += [
        ("skipped (no URL, conflict)", f"{stats.skipped}"),
        ("duplicates", f"{stats.duplicates}"),
        ("retries", f"{stats.retries}"),
        ("lost with a worker", f"{stats.lost}"),
        ("failed", f"{len(stats.failures)}"),
        *(
            [("left out by where", f"{stats.left_out}")]
            if any(s.where for s in plan.stages)
            else []
        ),
        *([("records written", f"{stats.records}")] if any(s.emit for s in plan.stages) else []),
        ("bytes", f"{stats.bytes:,}"),
        ("time", f"{stats.elapsed:.2f} s"),
        (
            "throughput",
            f"{stats.saved / seconds:.1f} files/s, {stats.bytes / seconds / 1e6:.2f} MB/s",
        ),
        ("mode", mode_text(plan)),
        ("output", plan.output.dir),
    ]
    return rows


def mode_text(plan: Plan) -> str:
    """``queue, 4 workers × 2 threads``."""
    if plan.mode == "serial":
        return "serial"
    threads = f" × {plan.threads} threads" if plan.threads > 1 else ""
    return f"{plan.mode}, {plan.workers} workers{threads}"


def report(plan: Plan, stats: RunStats, dry_run: bool) -> dict[str, Any]:
    """The run as JSON-ready data: what the summary shows, for scripts (``--report``)."""
    data = {
        "name": plan.name,
        "source": plan.source,
        "verdict": verdict(stats, dry_run),
        "mode": plan.mode,
        "workers": plan.workers,
        "threads": plan.threads,
        "output": plan.output.dir,
        "dry_run": dry_run,
        "pages": stats.pages - stats.pages_failed,
        "pages_failed": stats.pages_failed,
        "files_planned": stats.planned,
        "saved": stats.saved,
        "present": stats.present,
        "skipped": stats.skipped,
        "duplicates": stats.duplicates,
        "retries": stats.retries,
        "lost": stats.lost,
        "failed": len(stats.failures),
        "bytes": stats.bytes,
        "records": stats.records,
        "left_out": stats.left_out,
        "seconds": round(stats.elapsed, 3),
        "files_per_second": round(stats.saved / max(stats.elapsed, 1e-9), 2),
        "interrupted": stats.interrupted,
        "stopped": stats.stopped,
        "failures": [
            {"kind": f.kind, "stage": f.stage, "url": f.url, "path": f.path, "reason": f.reason}
            for f in stats.failures
        ],
        "warnings": list(stats.warnings),
    }
    return dict(redact_value(data, plan.secrets))
