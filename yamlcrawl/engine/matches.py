"""Rules that matched nothing, summed up per stage at the end of a run: one line per rule.

Each page's result says which rules of its stage matched nothing there (``work/unmatched.py``);
this subscriber adds them up in crawl order (pages as they are released), so the lines, their
counts and their example page are the same in every mode. At the end (``finish``, before the
run's end is published) a rule is reported when it matched nothing

* on every page of its stage (``each``, a field) or every item (a download's url or save_as), or
* on more than half of them, once the stage has at least `MOST_FROM` pages (items),

as a warning; with ``--strict`` as a failure, and a rule with ``required: true`` as a failure
when it matched nothing even once. Pages that failed, were the last page again, or were JSON
null are not counted: their rules were not tried.
"""

from __future__ import annotations

from dataclasses import dataclass

from yamlcrawl.language.plan import Plan
from yamlcrawl.types import Failure, PageResult, RunStats, Subscriber, Unmatched, UnmatchedRule

MOST_FROM = 4  # from this many pages (or items) on, "more than half" is reported too


@dataclass
class _Tally:
    """One rule of one stage: where it first missed, and on how many pages or items in all."""

    first: Unmatched
    url: str
    missed: int


class Matches(Subscriber):
    """Counts, per stage, the pages (items) each rule was tried on and missed on."""

    def __init__(self, plan: Plan, strict: bool = False) -> None:
        self.plan = plan
        self.strict = strict
        self._tallies: dict[tuple[str, str], _Tally] = {}  # (stage, rule), in crawl order
        self._pages: dict[str, int] = {}  # pages whose rules were tried, by stage
        self._items: dict[str, int] = {}  # items its downloads were tried on, by stage

    def page_released(self, result: PageResult) -> None:
        """Count the page, its items, and the rules that missed on it (in crawl order)."""
        if result.unmatched is None:
            return
        name = result.unit.stage
        self._pages[name] = self._pages.get(name, 0) + 1
        rules = len(self.plan.stage(name).downloads)
        if rules:
            self._items[name] = self._items.get(name, 0) + len(result.files) // rules
        for miss in result.unmatched:
            tally = self._tallies.get((name, miss.rule))
            if tally is None:
                self._tallies[(name, miss.rule)] = _Tally(miss, result.url, miss.missed)
            else:
                tally.missed += miss.missed

    def finish(self, stats: RunStats) -> None:
        """Put every rule worth reporting into ``stats``: its line among the warnings, or (strict,
        required) among the failures; and all of them, as data, in ``stats.unmatched``."""
        for (stage, rule), tally in self._tallies.items():
            download = rule.startswith("downloads.")
            total = (self._items if download else self._pages).get(stage, 0)
            required = self._required(stage, rule)
            everywhere = tally.missed >= total
            most = total >= MOST_FROM and tally.missed * 2 > total
            if not (required or everywhere or most):
                continue
            unit = "items" if download else "pages"
            report = _report(stage, tally, (total, unit), required, self.strict or required)
            stats.unmatched.append(report)
            if report.failed:
                reason = _message(tally, total, unit, required, example=None)
                stats.failures.append(Failure("match", stage, tally.url, None, reason))
            else:
                stats.warnings.append(report.text)

    def _required(self, stage: str, rule: str) -> bool:
        """Whether the rule says ``required: true``."""
        plan = self.plan.stage(stage)
        if rule.startswith("fields."):
            return rule.removeprefix("fields.") in plan.required
        if rule.startswith("downloads."):
            return plan.downloads[int(rule.split(".")[1])].required
        return False


def _report(
    stage: str, tally: _Tally, of: tuple[int, str], required: bool, failed: bool
) -> UnmatchedRule:
    total, unit = of
    first = tally.first
    return UnmatchedRule(
        stage=stage,
        rule=first.rule,
        path=first.path,
        missed=tally.missed,
        of=total,
        unit="items" if unit == "items" else "pages",
        example_url=tally.url,
        at=first.at,
        found=first.found,
        keys=first.keys,
        suggestion=first.suggestion,
        missing=first.missing,
        failed=failed,
        text=f"stage {stage}: {_message(tally, total, unit, required, example=tally.url)}",
    )


def _message(tally: _Tally, total: int, unit: str, required: bool, example: str | None) -> str:
    """``each $.items[*] matched nothing on 3 of 3 pages; e.g. URL has keys: products, total —
    did you mean $.products[*]?``; ``example`` None: the line goes with the page's URL."""
    first = tally.first
    what = f"{first.rule} {first.path}{' (required)' if required else ''}"
    counted = f"matched nothing on {tally.missed} of {total} {unit}"
    if unit == "items" and first.missing is not None:  # a template: the key it named
        counted += f" (no '{first.missing}' in {first.at})"
    if unit == "items":
        page = f"an item of {example}" if example else "an item of this page"
    else:
        page = example or "this page"
    verb = "has" if first.found.startswith("keys:") else "is"
    if first.at in ("", "$"):
        there = f"{page} {verb} {first.found}"
    else:
        there = f"in {page}, {first.at} {verb} {first.found}"
    if example:
        there = f"e.g. {there}"
    mean = f" — did you mean {first.suggestion}?" if first.suggestion else ""
    return f"{what} {counted}; {there}{mean}"
