"""One unit of work, whatever mode runs it: the same function everywhere, so every mode gives the
same results.
"""

from __future__ import annotations

from yamlcrawl.language.plan import Plan
from yamlcrawl.types import (
    FileResult,
    PageResult,
    PageUnit,
    Result,
    Unit,
)
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.downloads import download_file
from yamlcrawl.work.pages import fetch_page


def failed(plan: Plan, unit: Unit, reason: str) -> PageResult | FileResult:
    """The result of a unit that could not be done at all."""
    if isinstance(unit, PageUnit):
        return PageResult(unit, plan.stage(unit.stage).url, reason)
    return FileResult(unit, "failed", error=reason)


def run_unit(run: RunContext, unit: Unit) -> Result:
    """Do one unit of work. Never raises for a failure of the unit itself: it is in the result."""
    try:
        if isinstance(unit, PageUnit):
            return fetch_page(run, unit)
        return download_file(run, unit)
    except Exception as exc:  # odd data or a bug fails this unit, never the whole run
        return failed(run.plan, unit, f"unexpected {type(exc).__name__}: {exc}")
