"""The run as JSON (``--report``): what the summary shows, for scripts. It reads the run's
counts (``RunStats``); it is written where ``storage.userfiles.write_output`` allows."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from yamlcrawl.language.plan import Plan
from yamlcrawl.language.redact import redact_value
from yamlcrawl.storage.outdir import FolderError
from yamlcrawl.storage.userfiles import write_output
from yamlcrawl.types import RunStats, Subscriber
from yamlcrawl.ui.summary import verdict


class Report(Subscriber):
    """Writes the report to ``path`` (``-``: stdout) at the end of the run."""

    def __init__(self, plan: Plan, path: Path) -> None:
        self.plan = plan
        self.path = path

    def run_ended(self, stats: RunStats) -> None:
        """Write it."""
        self.write(stats)

    def write(self, stats: RunStats) -> None:
        """Write the report; a place it cannot be written is said in one line (stderr)."""
        text = json.dumps(report(self.plan, stats), ensure_ascii=False, indent=2) + "\n"
        try:
            write_output(str(self.path), text, Path(self.plan.output.dir))
        except OSError as exc:
            why = exc.strerror or str(exc)
            print(f"yamlcrawl: cannot write the report {self.path}: {why}", file=sys.stderr)
        except FolderError as exc:
            print(f"yamlcrawl: cannot write the report {self.path}: {exc}", file=sys.stderr)


def report(plan: Plan, stats: RunStats) -> dict[str, Any]:
    """The run as JSON-ready data: what the summary shows, for scripts (``--report``)."""
    data = {
        "name": plan.name,
        "source": plan.source,
        "verdict": verdict(stats),
        "mode": plan.mode,
        "workers": plan.workers,
        "threads": plan.threads,
        "output": plan.output.dir,
        "dry_run": stats.dry_run,
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
        "records_known": stats.records_known,  # mode: append left them out: already there
        "run_id": stats.run_id,  # the `_run_id` of the rows `emit` wrote (meta: true)
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
    }
    return dict(redact_value(data, plan.secrets))
