"""The run's lines: failures and warnings as they happen (stderr), a line per page, file, skip
and retry with ``-v``, and all of them, stamped, in ``--log-file``.

Every line goes through ``shown`` (text from a server, made safe) and has the crawl's secrets
redacted; the log file gets the plain text of the markup.
"""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from yamlcrawl.language.plan import Plan
from yamlcrawl.language.redact import redact
from yamlcrawl.shown import shown
from yamlcrawl.types import Event, FileRequest, FileResult, PageResult, RunStats, Subscriber

QUIET, NORMAL, VERBOSE = 0, 1, 2


def plain_console(stderr: bool = False) -> Console:
    """A console for the run's own text: stdout (or stderr), no highlighting, lines not cut."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class Log(Subscriber):
    """Writes the run's lines to stderr (as loud as asked) and to the log file (all of them)."""

    def __init__(
        self,
        plan: Plan,
        console: Console | None = None,
        verbosity: int = NORMAL,
        log_file: TextIO | None = None,
    ) -> None:
        self.plan = plan
        self.console = console or plain_console(stderr=True)
        self.verbosity = verbosity
        self.log_file = log_file
        # Whether per-page and per-file lines go anywhere (so are worth formatting).
        self.lines_wanted = log_file is not None or verbosity >= VERBOSE

    def wants_worker_events(self) -> bool:
        """Retries are logged with each unit's line."""
        return self.lines_wanted

    def line(self, text: str, always: bool = False) -> None:
        """A log line: to the log file always, to stderr if loud enough (controls escaped)."""
        text = shown(redact(text, self.plan.secrets))
        if self.log_file is not None:
            stamp = time.strftime("%H:%M:%S")
            self.log_file.write(f"{stamp} {Text.from_markup(text).plain}\n")
            self.log_file.flush()
        if always or self.verbosity >= VERBOSE:
            self.console.print(text)

    def page_done(self, result: PageResult) -> None:
        """Warnings and failures always; every page with -v."""
        stage = result.unit.stage
        if result.warning is not None:
            self.line(
                f"[yellow]warning[/] page {escape(stage)} {escape(result.url)}:"
                f" {escape(result.warning)}",
                always=True,
            )
        if result.error is not None:
            self.line(
                f"[red]failed[/] page {escape(stage)} {escape(result.url)}: {escape(result.error)}",
                always=True,
            )
        elif self.lines_wanted and result.empty:
            self.line(f"page {escape(stage)} {escape(result.url)}: empty response (null)")
        elif self.lines_wanted:
            found = f", {result.items} items" if result.items else ""
            files = f", {len(result.files)} files" if result.files else ""
            kept = ", not modified (304)" if result.not_modified else ""
            self.line(f"page {escape(stage)} {escape(result.url)}{found}{files}{kept}")

    def file_done(self, result: FileResult) -> None:
        """Failures always; every file with -v."""
        if result.status == "failed":
            self.line(
                f"[red]failed[/] {escape(result.path)} <- {escape(result.unit.url)}:"
                f" {escape(result.error or '')}",
                always=True,
            )
        elif self.lines_wanted:
            self.line(
                f"{result.status} {escape(result.path)} ({result.bytes} bytes)"
                f" <- {escape(result.unit.url)}"
            )

    def file_skipped(self, request: FileRequest, status: str, reason: str) -> None:
        """Skips, duplicates and files in the archive are counted; listed with -v, each by
        its status (``skipped``, ``duplicate``, ``archived``)."""
        if self.lines_wanted:
            what = request.planned or request.url or request.stage
            self.line(f"{status} {escape(what)}: {escape(reason)}")

    def file_unnamed(self, request: FileRequest, path: str | None, reason: str) -> None:
        """A file that could not be named failed: shown as it happens, like every failure."""
        where = escape(f"[{request.stage}]")
        self.line(f"[red]failed[/] file {where} {escape(request.url)}: {escape(reason)}", True)

    def run_ended(self, stats: RunStats) -> None:
        """Rules that matched nothing, one line each: warnings, or failures (--strict, required)."""
        for rule in stats.unmatched:
            word = "[red]failed[/]" if rule.failed else "[yellow]warning[/]"
            self.line(f"{word} {escape(rule.text)}", always=True)

    def worker_events(self, events: list[Event]) -> None:
        """A line per retry."""
        for event in events:
            if event.kind == "retry":
                self.line(f"[yellow]retry[/] {escape(event.detail)}")
