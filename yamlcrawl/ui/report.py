"""The run as JSON (``--report``): what the summary shows, for scripts. It reads the run's
counts (``RunStats``), and counts files and pages by status itself (the statuses the manifest
writes); it is written where ``storage.userfiles.write_output`` allows."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from yamlcrawl import __version__
from yamlcrawl.language.plan import Plan
from yamlcrawl.language.redact import redact_value
from yamlcrawl.storage.outdir import FolderError
from yamlcrawl.storage.userfiles import write_output
from yamlcrawl.types import (
    ClusterShape,
    FileRequest,
    FileResult,
    PageResult,
    PageUnit,
    RunStats,
    Subscriber,
)
from yamlcrawl.ui.failures import cause_of
from yamlcrawl.ui.outcome import exit_code, verdict

FILE_STATUSES = ("saved", "present", "archived", "skipped", "duplicate", "failed")
PAGE_STATUSES = ("fetched", "failed", "duplicate", "empty")


class Report(Subscriber):
    """Writes the report to ``path`` (``-``: stdout) at the end of the run."""

    def __init__(self, plan: Plan, path: Path) -> None:
        self.plan = plan
        self.path = path
        self.files: Counter[str] = Counter()  # by the status the manifest writes
        self.pages: Counter[str] = Counter()

    def page_done(self, result: PageResult) -> None:
        """A page fetched (perhaps null: empty), or failed."""
        self.pages["failed" if result.error is not None else "fetched"] += 1
        if result.empty:
            self.pages["empty"] += 1

    def page_duplicate(self, unit: PageUnit, url: str) -> None:
        """A page request asked again."""
        self.pages["duplicate"] += 1

    def file_done(self, result: FileResult) -> None:
        """Saved, present, or failed."""
        self.files[result.status] += 1

    def file_skipped(self, request: FileRequest, status: str, reason: str) -> None:
        """Skipped, a duplicate, or in the archive."""
        self.files[status] += 1

    def file_unnamed(self, request: FileRequest, path: str | None, reason: str) -> None:
        """A file that could not be named failed."""
        self.files["failed"] += 1

    def run_ended(self, stats: RunStats) -> None:
        """Write it."""
        self.write(stats)

    def write(self, stats: RunStats) -> None:
        """Write the report; a place it cannot be written is said in one line (stderr)."""
        data = report(self.plan, stats, (self.files, self.pages))
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        try:
            write_output(str(self.path), text, Path(self.plan.output.dir))
        except OSError as exc:
            why = exc.strerror or str(exc)
            print(f"yamlcrawl: cannot write the report {self.path}: {why}", file=sys.stderr)
        except FolderError as exc:
            print(f"yamlcrawl: cannot write the report {self.path}: {exc}", file=sys.stderr)


def report(
    plan: Plan, stats: RunStats, by_status: tuple[Counter[str], Counter[str]] | None = None
) -> dict[str, Any]:
    """The run as JSON-ready data: what the summary shows, for scripts (``--report``);
    ``by_status``: the files and the pages counted by status (none: a run that never began)."""
    data = {
        "name": plan.name,
        "source": plan.source,
        "verdict": verdict(stats),
        "exit_code": exit_code(stats),  # the command's: 0, 1, 2, 3 or 130 (README: exit codes)
        "mode": plan.mode,
        "workers": plan.workers,
        "threads": plan.threads,
        "cluster": cluster_data(stats.cluster),  # dask mode: its scheduler and workers, as found
        "output": plan.output.dir,
        "dry_run": stats.dry_run,
        "pages": stats.pages - stats.pages_failed,
        "pages_failed": stats.pages_failed,
        "pages_not_modified": stats.not_modified,
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
        "records_known": stats.records_known,  # mode: append left them out: already there
        "run_id": stats.run_id,  # the `_run_id` of the rows `emit` wrote (meta: true)
        "left_out": stats.left_out,
        "not_newer": stats.not_newer,  # items an `incremental` cursor left out
        "seconds": round(stats.elapsed, 3),
        "files_per_second": round(stats.saved / max(stats.elapsed, 1e-9), 2),
        "interrupted": stats.interrupted,
        "stopped": stats.stopped,
        "failures": [
            {
                "kind": f.kind,
                "stage": f.stage,
                "url": f.url,
                "path": f.path,
                "reason": f.reason,
                "error": vars(cause_of(f)),
            }
            for f in stats.failures
        ],
        "warnings": list(stats.warnings),
        "empty_responses": dict(stats.empty),
        "unmatched": [
            {
                "stage": rule.stage,
                "rule": rule.rule,
                "path": rule.path,
                "missed": rule.missed,
                "of": rule.of,
                "counted": rule.unit,
                "example_url": rule.example_url,
                "at": rule.at,
                "keys": list(rule.keys),
                "found": rule.found,
                "missing": rule.missing,
                "suggestion": rule.suggestion,
                "failed": rule.failed,
                "text": rule.text,
            }
            for rule in stats.unmatched
        ],
        **_run_facts(plan, stats, by_status or (Counter(), Counter())),
    }
    return dict(redact_value(data, plan.secrets))


def _run_facts(
    plan: Plan, stats: RunStats, by_status: tuple[Counter[str], Counter[str]]
) -> dict[str, Any]:
    """When the run began and ended (UTC, ISO 8601), which yamlcrawl ran it, its archive, and
    its files and pages counted by status."""
    files, pages = by_status
    return {
        "started": _utc(stats.started_at),
        "finished": _utc(stats.started_at + stats.elapsed),
        "version": __version__,
        "archive": plan.output.archive,
        "archived": stats.archived,
        "files_by_status": {status: files[status] for status in FILE_STATUSES},
        "pages_by_status": {status: pages[status] for status in PAGE_STATUSES},
    }


def _utc(seconds: float) -> str:
    """Seconds since the epoch as UTC ISO 8601, to the millisecond."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def cluster_data(cluster: ClusterShape | None) -> dict[str, Any] | None:
    """A Dask cluster in the report: its scheduler, whether the run started it, its workers."""
    if cluster is None:
        return None
    return {
        "scheduler": cluster.scheduler,
        "local": cluster.local,
        "workers": [{"address": a, "threads": threads} for a, threads in cluster.workers],
    }
