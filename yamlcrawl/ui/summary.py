"""The run's closing: why it stopped (if it did), the table of counts, every failure with its
reason, and every warning. It reads the run's counts (``RunStats``) and nothing else."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yamlcrawl.language.plan import Plan
from yamlcrawl.language.redact import redact
from yamlcrawl.shown import shown
from yamlcrawl.types import RunStats, Subscriber
from yamlcrawl.ui.log import plain_console
from yamlcrawl.ui.outcome import verdict_line
from yamlcrawl.ui.units import count_text, duration_text, rate_text, size_text, speed_text


class Summary(Subscriber):
    """Prints the closing at the end of the run (stdout, or ``out``)."""

    def __init__(self, plan: Plan, out: Console | None = None) -> None:
        self.plan = plan
        self.out = out or plain_console()

    def run_ended(self, stats: RunStats) -> None:
        """Why it stopped (stderr), then the table, the failures and the warnings."""
        if stats.stopped is not None:
            print(f"yamlcrawl: {stats.stopped}", file=sys.stderr)
        self.show(stats)

    def show(self, stats: RunStats) -> None:
        """The closing table, then every failure with its reason, then every warning."""
        plan = self.plan
        table = Table(
            title=f"{escape(shown(plan.name))}: {self._safe(verdict_line(stats))}",
            title_justify="left",  # the verdict first on its line, whatever rich's version
            show_header=False,
        )
        table.add_column("what")
        table.add_column("count", justify="right")
        for what, count in summary_rows(plan, stats):
            table.add_row(what, count)
        self.out.print(table)
        if stats.failures:
            self.out.print(f"[red]{len(stats.failures)} failed:[/]")
            for failure in stats.failures:
                target = f" -> {failure.path}" if failure.path else ""
                line = f"{failure.kind} [{failure.stage}] {failure.url}{target}: {failure.reason}"
                self._item(line)
        if stats.warnings:
            many = len(stats.warnings)
            self.out.print(f"[yellow]{many} warning{'s' if many > 1 else ''}:[/]")
            for warning in stats.warnings:
                self._item(warning)

    def _item(self, text: str) -> None:
        self.out.print(f"  {self._safe(text)}")

    def _safe(self, text: str) -> str:
        """Text from the run (URLs, reasons) as it may be shown: secrets redacted, control
        characters made visible, rich's markup escaped."""
        return escape(shown(redact(text, self.plan.secrets)))


def summary_rows(plan: Plan, stats: RunStats) -> list[tuple[str, str]]:
    """The summary as (label, value) rows; the report file has the same figures."""
    rows = [("pages fetched", count_text(stats.pages - stats.pages_failed))]
    if stats.not_modified:  # of them, answered 304: the body an earlier run kept was used
        rows.append(("pages not modified (304)", count_text(stats.not_modified)))
    if stats.dry_run:
        rows.append(("files it would save", count_text(stats.planned)))
    else:
        rows.append(("files saved", count_text(stats.saved)))
        rows.append(("already present", count_text(stats.present)))
    if plan.output.archive is not None:
        rows.append(("in the archive", count_text(stats.archived)))
    rows += [
        ("skipped (no URL, conflict)", count_text(stats.skipped)),
        ("duplicates", count_text(stats.duplicates)),
        ("retries", count_text(stats.retries)),
        ("lost with a worker", count_text(stats.lost)),
        ("failed", count_text(len(stats.failures))),
        *(
            [("left out by where", count_text(stats.left_out))]
            if any(s.where for s in plan.stages)
            else []
        ),
        *(
            [("records written", count_text(stats.records))]
            if any(s.emit for s in plan.stages)
            else []
        ),
        *(
            [("records already in their file", count_text(stats.records_known))]
            if stats.records_known
            else []
        ),
        *(
            [("not newer than the cursor", count_text(stats.not_newer))]
            if any(s.incremental for s in plan.stages)
            else []
        ),
        *([("empty responses (null)", empty_text(stats))] if stats.empty else []),
        ("size of files saved", size_text(stats.bytes)),
        ("time", duration_text(stats.elapsed)),
        ("throughput", throughput_text(stats)),
        ("mode", mode_text(plan, stats)),
        ("output", plan.output.dir),
        *([("files in", plan.output.store)] if plan.output.store else []),
    ]
    return rows


def throughput_text(stats: RunStats) -> str:
    """``1,914 files/s, 152.8 MB/s``: files saved and their bytes over the run's time."""
    files = rate_text(stats.saved, stats.elapsed, "files")
    return f"{files}, {speed_text(stats.bytes, stats.elapsed)}"


def empty_text(stats: RunStats) -> str:
    """``3 (detail 2, list 1)``: the responses that were JSON null, by stage."""
    by_stage = ", ".join(f"{stage} {count_text(count)}" for stage, count in stats.empty.items())
    return f"{count_text(sum(stats.empty.values()))} ({by_stage})"


def mode_text(plan: Plan, stats: RunStats | None = None) -> str:
    """``queue, 4 workers × 2 threads``; a Dask cluster as the run found it:
    ``dask, 2 workers × 8 threads (10.77.0.11, 10.77.0.12) at tcp://10.77.0.1:8786``."""
    if plan.mode == "serial":
        return "serial"
    if stats is not None and stats.cluster is not None:
        return f"{plan.mode}, {stats.cluster.text()}"
    threads = f" × {plan.threads} threads" if plan.threads > 1 else ""
    return f"{plan.mode}, {plan.workers} workers{threads}"
