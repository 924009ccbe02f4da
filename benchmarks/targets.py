"""Issue 16's "done when", checked on compare.py's medians.

    python benchmarks/compare.py --runs 5 --delays 0,20     # prints these after its table
    python benchmarks/compare.py --replot                   # again, from results.json

"Before" is the same crawl (queue, 4 x 16) run in the same interleaved run from a checkout of
BASELINE_COMMIT, the last commit before the HTTP layer was rebuilt (compare.py's `--baseline`):
this machine's speed drifts by 15% from day to day, so figures from another day would not do.
The best mode is the yamlcrawl mode with the lowest median wall time for the whole crawl.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

BASELINE_COMMIT = "13f130e"
ARIA2 = "aria2c -j 16 (images only)"
SCRAPY = "scrapy"


@dataclass(frozen=True)
class Figures:
    """Medians of one tool at one delay."""

    wall: float
    cpu_per_file_ms: float
    rss_largest_mb: float


def medians(results: Sequence[Any]) -> dict[tuple[str, float], Figures]:
    """Figures by (tool, delay) from compare.py's measures (objects or their dicts)."""
    rows = [r if isinstance(r, dict) else vars(r) for r in results]
    keys = {(row["tool"], float(row["delay_ms"])) for row in rows}
    out = {}
    for tool, delay in keys:
        runs = [row for row in rows if (row["tool"], float(row["delay_ms"])) == (tool, delay)]
        out[tool, delay] = Figures(
            wall=_median(runs, lambda run: run["wall"]),
            cpu_per_file_ms=_median(runs, lambda run: run["cpu"] / run["files"] * 1000),
            rss_largest_mb=_median(runs, lambda run: run["rss_largest"] / 1e6),
        )
    return out


def _median(runs: list[dict[str, Any]], pick: Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(pick(run) for run in runs)


def best_mode(figures: dict[tuple[str, float], Figures], delay: float) -> str | None:
    """The yamlcrawl mode (whole crawl) with the lowest median wall time at ``delay``."""
    modes = [
        tool for tool, at in figures
        if at == delay and tool.startswith("yamlcrawl ") and "images only" not in tool
        and "@" not in tool
    ]  # fmt: skip
    return min(modes, key=lambda tool: figures[tool, delay].wall, default=None)


def baseline_tool(commit: str = BASELINE_COMMIT) -> str:
    """compare.py's name for the crawl run from the baseline commit's code."""
    return f"yamlcrawl queue @{commit}"


def report(results: Sequence[Any]) -> list[str]:
    """One line per target: the measured figure, the target, and whether it is met."""
    now = medians(results)
    baselines = {tool for tool, _ in now if "@" in tool}
    lines = []
    for delay, peer, at_most in ((20.0, ARIA2, 0.6), (20.0, SCRAPY, 0.2), (0.0, ARIA2, 1.5)):
        best = best_mode(now, delay)
        if best is None or (peer, delay) not in now:
            continue
        ratio = now[best, delay].wall / now[peer, delay].wall
        lines.append(
            _line(f"{delay:g} ms: {best} {now[best, delay].wall:.2f} s ="
                  f" {ratio:.2f}x {peer}'s {now[peer, delay].wall:.2f} s", ratio, at_most)
        )  # fmt: skip
    best = best_mode(now, 20.0)
    for baseline in sorted(baselines):
        if best is None or (baseline, 20.0) not in now:
            continue
        was, is_ = now[baseline, 20.0], now[best, 20.0]
        ratio = is_.cpu_per_file_ms / was.cpu_per_file_ms
        lines.append(
            _line(f"20 ms: {best} CPU per file {is_.cpu_per_file_ms:.2f} ms, {baseline}"
                  f" {was.cpu_per_file_ms:.2f} ms = {ratio:.2f}x", ratio, 0.5)
        )  # fmt: skip
        ratio = is_.rss_largest_mb / was.rss_largest_mb
        lines.append(
            _line(f"20 ms: {best} largest process {is_.rss_largest_mb:.0f} MB, {baseline}"
                  f" {was.rss_largest_mb:.0f} MB = {ratio:.2f}x", ratio, 1.0)
        )  # fmt: skip
    return lines


def _line(what: str, ratio: float, at_most: float) -> str:
    verdict = "met" if ratio <= at_most else "NOT met"
    return f"  {what} (target <= {at_most:g}x): {verdict}"
