"""What the person running a crawl sees. Only the main process draws.

Log lines go to stderr (one per page, one per file with ``-v``, every failure even with ``-q``);
the dry-run listing and the final summary go to stdout, so both can be piped.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yamlcrawl.engine import RunStats
from yamlcrawl.plan import Plan
from yamlcrawl.work import DownloadUnit, FileRequest, FileResult, PageResult

QUIET, NORMAL, VERBOSE = 0, 1, 2


class Reporter:
    """Prints events as they happen and the summary at the end."""

    def __init__(
        self,
        out: Console | None = None,
        log: Console | None = None,
        verbosity: int = NORMAL,
        dry_run: bool = False,
    ) -> None:
        self.out = out or Console(highlight=False, soft_wrap=True)
        self.log = log or Console(stderr=True, highlight=False, soft_wrap=True)
        self.verbosity = verbosity
        self.dry_run = dry_run

    def page_done(self, result: PageResult) -> None:
        """One line per page; failures always."""
        stage = escape(result.unit.stage)
        if result.error is not None:
            self.log.print(
                f"[red]failed[/] page {stage} {escape(result.url)}: {escape(result.error)}"
            )
        elif self.verbosity >= NORMAL:
            items = f", {result.items} items" if result.items else ""
            files = f", {len(result.files)} files" if result.files else ""
            self.log.print(f"page {stage} {escape(result.url)}{items}{files}")

    def file_done(self, result: FileResult) -> None:
        """Failures always; every file with -v."""
        path = escape(result.unit.path)
        if result.status == "failed":
            self.log.print(
                f"[red]failed[/] {path} <- {escape(result.unit.url)}: {escape(result.error or '')}"
            )
        elif self.verbosity >= VERBOSE:
            self.log.print(f"{result.status} {path} ({result.bytes} bytes)")

    def file_skipped(self, request: FileRequest, reason: str) -> None:
        """Skips are counted; listed with -v."""
        if self.verbosity >= VERBOSE:
            what = request.path or request.url or request.stage
            self.log.print(f"skipped {escape(what)}: {escape(reason)}")

    def file_planned(self, unit: DownloadUnit) -> None:
        """In a dry run, the listing of what would be saved."""
        if self.dry_run:  # plain `path<TAB>url` lines for scripts: no markup, no tab expansion
            print(f"{unit.path}\t{unit.url}", file=self.out.file, flush=True)

    def summary(self, plan: Plan, stats: RunStats) -> None:
        """The closing table, then every failure with its reason."""
        table = Table(
            title=f"{escape(plan.name)}: {_verdict(stats, self.dry_run)}", show_header=False
        )
        table.add_column("what")
        table.add_column("count", justify="right")
        for what, count in _summary_rows(plan, stats, self.dry_run):
            table.add_row(what, count)
        self.out.print(table)
        if stats.failures:
            self.out.print(f"[red]{len(stats.failures)} failed:[/]")
            for failure in stats.failures:
                target = f" -> {failure.path}" if failure.path else ""
                self.out.print(
                    f"  {failure.kind} [{escape(failure.stage)}] {escape(failure.url)}"
                    f"{escape(target)}: {escape(failure.reason)}"
                )


def _verdict(stats: RunStats, dry_run: bool) -> str:
    if stats.interrupted:
        return "interrupted"
    if stats.failures:
        return "finished with failures"
    return "dry run finished" if dry_run else "finished"


def _summary_rows(plan: Plan, stats: RunStats, dry_run: bool) -> list[tuple[str, str]]:
    seconds = max(stats.elapsed, 1e-9)
    rows = [("pages fetched", f"{stats.pages - stats.pages_failed}")]
    if dry_run:
        rows.append(("files it would save", f"{stats.planned}"))
    else:
        rows += [
            ("files saved", f"{stats.saved}"),
            ("already present", f"{stats.present}"),
        ]
    rows += [
        ("skipped (no URL, conflict)", f"{stats.skipped}"),
        ("duplicates", f"{stats.duplicates}"),
        ("retries", f"{stats.retries}"),
        ("failed", f"{len(stats.failures)}"),
        ("bytes", f"{stats.bytes:,}"),
        ("time", f"{stats.elapsed:.2f} s"),
        (
            "throughput",
            f"{stats.saved / seconds:.1f} files/s, {stats.bytes / seconds / 1e6:.2f} MB/s",
        ),
        ("mode", f"{plan.mode}, {plan.workers} workers" if plan.mode != "serial" else "serial"),
        ("output", plan.output.dir),
    ]
    return rows
