"""A dry run's list: a ``path<TAB>url`` line per file it would save, for scripts (stdout)."""

from __future__ import annotations

from rich.console import Console

from yamlcrawl.language.plan import Plan
from yamlcrawl.language.redact import redact
from yamlcrawl.shown import shown
from yamlcrawl.types import DownloadUnit, Subscriber


class Listing(Subscriber):
    """Prints each file as it is named: no markup, no tab expansion, controls escaped."""

    def __init__(self, plan: Plan, out: Console) -> None:
        self.plan = plan
        self.out = out

    def file_planned(self, unit: DownloadUnit) -> None:
        """The listing line."""
        secrets = self.plan.secrets
        line = f"{shown(redact(unit.planned, secrets))}\t{shown(redact(unit.url, secrets))}"
        print(line, file=self.out.file, flush=True)
