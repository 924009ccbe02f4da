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
            title=f"{escape(shown(plan.name))}: {verdict(stats)}",
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
        self.out.print(f"  {escape(shown(redact(text, self.plan.secrets)))}")


def verdict(stats: RunStats) -> str:
    """One word or three for how the run ended."""
    if stats.interrupted:
        return "interrupted"
    if stats.stopped is not None:
        return "stopped"
    if stats.failures:
        return "finished with failures"
    return "dry run finished" if stats.dry_run else "finished"


def summary_rows(plan: Plan, stats: RunStats) -> list[tuple[str, str]]:
    """The summary as (label, value) rows; the report file has the same figures."""
    seconds = max(stats.elapsed, 1e-9)
    rows = [("pages fetched", f"{stats.pages - stats.pages_failed}")]
    if stats.not_modified:  # of them, answered 304: the body an earlier run kept was used
        rows.append(("pages not modified (304)", f"{stats.not_modified}"))
    if stats.dry_run:
        rows.append(("files it would save", f"{stats.planned}"))
    else:
        rows += [("files saved", f"{stats.saved}"), ("already present", f"{stats.present}")]
    if plan.output.archive is not None:
        rows.append(("in the archive", f"{stats.archived}"))
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
        *(
            [("records already in their file", f"{stats.records_known}")]
            if stats.records_known
            else []
        ),
        *(
            [("not newer than the cursor", f"{stats.not_newer}")]
            if any(s.incremental for s in plan.stages)
            else []
        ),
        *([("empty responses (null)", empty_text(stats))] if stats.empty else []),
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


def empty_text(stats: RunStats) -> str:
    """``3 (detail 2, list 1)``: the responses that were JSON null, by stage."""
    by_stage = ", ".join(f"{stage} {count}" for stage, count in stats.empty.items())
    return f"{sum(stats.empty.values())} ({by_stage})"


def mode_text(plan: Plan) -> str:
    """``queue, 4 workers × 2 threads``."""
    if plan.mode == "serial":
        return "serial"
    threads = f" × {plan.threads} threads" if plan.threads > 1 else ""
    return f"{plan.mode}, {plan.workers} workers{threads}"
