"""benchmarks/compare.py's chart: linear axes, tools sorted per delay, whiskers, panels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "matplotlib", reason="matplotlib draws the benchmark chart (benchmark only, not a dependency)"
)

from benchmarks.compare import Measure, chart, draw

FILES = 1000
ARIA2, OURS, BASELINE, SCRAPY = (
    "aria2c -j 16 (images only)",
    "yamlcrawl queue",
    "yamlcrawl queue @abc1234",
    "scrapy",
)
# tool: delay: (wall time of each run, CPU seconds of each run, largest RSS in MB of each run)
RUNS = {
    ARIA2: {0.0: ([1.0, 1.1, 0.9], [0.3, 0.3, 0.3], [50, 50, 50]),
            20.0: ([4.2, 4.1, 4.3], [0.4, 0.5, 0.4], [50, 51, 50])},
    OURS: {0.0: ([2.0, 2.5, 2.2], [1.2, 1.6, 1.3], [60, 66, 61]),
           20.0: ([2.6, 2.7, 2.5], [1.3, 1.3, 1.3], [61, 61, 61])},
    BASELINE: {0.0: ([3.0, 3.1, 2.9], [1.5, 1.5, 1.5], [55, 55, 55]),
               20.0: ([3.0, 3.2, 3.1], [1.5, 1.6, 1.5], [55, 55, 55])},
    SCRAPY: {0.0: ([8.0, 8.2, 7.9], [8.0, 8.0, 8.0], [140, 140, 141]),
             20.0: ([8.1, 8.0, 8.3], [8.0, 8.1, 8.0], [140, 140, 140])},
}  # fmt: skip
# fastest first: aria2c loses its lead when every response waits 20 ms
ORDER = {0.0: [ARIA2, OURS, BASELINE, SCRAPY], 20.0: [OURS, BASELINE, ARIA2, SCRAPY]}


def results() -> list[Measure]:
    """The runs of RUNS, interleaved as compare.py measures them."""
    out = []
    for run in range(3):
        for tool, delays in RUNS.items():
            for delay, (walls, cpus, rss) in delays.items():
                out.append(Measure(tool, delay, walls[run], cpus[run], rss[run] * 10**6, 0, FILES))
    return out


def rows() -> list[list[Any]]:
    """The chart's axes as rows (one per delay) of panels (wall, CPU per file, RSS)."""
    axes = draw(results(), "python benchmarks/compare.py --runs 3").axes
    assert len(axes) == 6
    return [axes[0:3], axes[3:6]]


def test_each_delay_has_wall_cpu_and_memory_panels_on_linear_axes() -> None:
    top, bottom = rows()
    assert [axis.get_title(loc="left") for axis in (top[0], bottom[0])] == [
        "0 ms per response",
        "20 ms per response",
    ]
    assert [axis.get_xlabel() for axis in bottom] == [
        "wall time, s",
        "CPU per file, ms (all processes)",
        "largest process RSS, MB",
    ]
    assert {axis.get_xscale() for axis in top + bottom} == {"linear"}
    assert all(axis.get_xlim()[0] == 0 for axis in top + bottom)


@pytest.mark.parametrize(("row", "delay"), [(0, 0.0), (1, 20.0)])
def test_tools_are_sorted_fastest_first_within_each_delay(row: int, delay: float) -> None:
    wall = rows()[row][0]
    assert [label.get_text() for label in wall.get_yticklabels()] == ORDER[delay]
    assert wall.yaxis_inverted()  # the first tick, the fastest, is at the top


@pytest.mark.parametrize(("column", "scale"), [(0, 1), (1, 1000 / FILES), (2, 1)])
def test_bars_are_medians_and_whiskers_span_the_runs(column: int, scale: float) -> None:
    for row, delay in zip(rows(), (0.0, 20.0), strict=True):
        axis = row[column]
        bars = [patch.get_width() for patch in axis.patches]
        (whiskers,) = (c for c in axis.containers if type(c).__name__ == "ErrorbarContainer")
        spans = [(seg[0][0], seg[1][0]) for seg in whiskers.lines[2][0].get_segments()]
        for y, tool in enumerate(ORDER[delay]):  # every panel follows the wall panel's order
            runs = [value * scale for value in RUNS[tool][delay][column]]
            assert bars[y] == pytest.approx(sorted(runs)[1])
            assert spans[y] == pytest.approx((min(runs), max(runs)))


def test_yamlcrawl_its_baseline_and_other_tools_are_told_apart() -> None:
    wall = rows()[0][0]
    bars = dict(zip(ORDER[0.0], wall.patches, strict=True))
    colours = {tool: bars[tool].get_facecolor() for tool in bars}
    assert colours[ARIA2] == colours[SCRAPY]
    assert len({colours[OURS], colours[BASELINE], colours[SCRAPY]}) == 3
    assert [tool for tool in bars if bars[tool].get_hatch()] == [ARIA2]  # images only
    legend = wall.figure.legends[0]
    assert [text.get_text() for text in legend.get_texts()] == [
        "yamlcrawl (this commit)",
        "yamlcrawl @abc1234 (baseline)",
        "other tools",
        "images only",
    ]


def test_chart_writes_a_png_with_the_command_in_its_footer(tmp_path: Path) -> None:
    path = tmp_path / "results.png"
    chart(results(), path, "python benchmarks/compare.py --runs 3")
    assert path.read_bytes().startswith(b"\x89PNG")
    footer = draw(results(), "python benchmarks/compare.py --runs 3").get_supxlabel()
    assert "bars: median of 3 runs, whiskers: lowest to highest run" in footer
    assert footer.endswith("\npython benchmarks/compare.py --runs 3")
