"""yamlcrawl in every mode against Scrapy and aria2c, on the same site, in one run.

    pip install scrapy matplotlib        # benchmark only; nginx and aria2 come from apt
    python benchmarks/compare.py [--runs 3] [--delays 0,20]

Generates the LoL-shaped site (benchmarks/lolsite.py: ~3,000 images, ~250 MB) once, serves it
with nginx on 127.0.0.1 (benchmarks/nginx.py; with --delays 20 every response waits 20 ms, a
stand-in for a server far away), and runs each tool --runs times, tools interleaved. For each
run: wall time, CPU time of the tool and every process it started, the peak RSS of its largest
process (from the kernel) and of its whole process tree (sampled from /proc every 0.1 s), and
a check that every file arrived byte-exact. Output goes to a tmpfs (see `default_output`).
Prints medians, writes benchmarks/results.json and, with matplotlib, benchmarks/results.png.
The worker and thread counts of each yamlcrawl mode come from benchmarks/sweep.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import aria2, lolsite, targets  # noqa: E402
from benchmarks.memory import tree_memory  # noqa: E402
from benchmarks.nginx import Nginx, ensure_installed  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PORT = 18080
YAMLCRAWL = {  # mode: (workers, threads), the best of benchmarks/sweep.py on this 2-core machine
    "serial": (1, 1),
    "process": (8, 8),
    "queue": (4, 16),
    "pool": (24, 1),
    "thread": (64, 1),
}


@dataclass
class Measure:
    """One run of one tool."""

    tool: str
    delay_ms: float
    wall: float
    cpu: float
    rss_largest: int
    rss_total: int
    files: int


def measure(
    tool: str, delay: float, command: list[str], output: Path, expected: dict[str, str]
) -> Measure:
    """Run ``command`` once; raise if any expected file is missing or wrong.

    CPU time comes from the kernel (``wait4``: the tool and every process it waited for); the
    peak RSS of the largest process (its VmHWM) and of the whole tree are sampled from /proc
    every 0.1 s.
    """
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        sampler = TreeSampler(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        largest, total = sampler.stop()
        if process.returncode != 0:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-500:]
            raise SystemExit(f"{tool} failed ({process.returncode}): {tail}")
    check(tool, output, expected)
    cpu = usage.ru_utime + usage.ru_stime
    return Measure(tool, delay, wall, cpu, largest, total, len(expected))


class TreeSampler:
    """Samples a process tree's memory until stopped: the largest peak, and the summed RSS."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.largest = self.total = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            sizes = tree_memory(self.pid).values()
            self.largest = max(self.largest, max((peak for _, peak in sizes), default=0))
            self.total = max(self.total, sum(rss for rss, _ in sizes))
            self.done.wait(self.every)

    def stop(self) -> tuple[int, int]:
        """Stop sampling; the largest process's peak RSS and the tree's peak summed RSS."""
        self.done.set()
        self.thread.join()
        return self.largest, self.total


def check(tool: str, output: Path, expected: dict[str, str]) -> None:
    """Every expected file is there with its SHA-256."""
    for path, digest in expected.items():
        target = output / path
        if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            raise SystemExit(f"{tool}: {path} is missing or wrong")


def yamlcrawl_command(
    config: Path, img: str, output: Path, mode: str, workers: int, threads: int
) -> list[str]:
    """The yamlcrawl command line for one crawl in one mode."""
    return [
        sys.executable, "-m", "yamlcrawl", str(config), "-q", "--set", f"img={img}",
        "--output", str(output), "--mode", mode,
        "--workers", str(workers), "--threads", str(threads),
    ]  # fmt: skip


def commands(site: Path, base: str, output: Path) -> dict[str, list[str]]:
    """Every tool's command line."""
    img = f"{base}/{lolsite.API}"
    out = {}
    for mode, (workers, threads) in YAMLCRAWL.items():
        config = HERE.parent / "crawler.yaml"
        out[f"yamlcrawl {mode}"] = yamlcrawl_command(config, img, output, mode, workers, threads)
    workers, threads = YAMLCRAWL["queue"]
    out["yamlcrawl queue (images only)"] = yamlcrawl_command(
        HERE / "images.yaml", img, output, "queue", workers, threads
    )
    try:
        from benchmarks.scrapy_lol import run_scrapy_command
    except ImportError:
        raise SystemExit("Scrapy is not installed: pip install scrapy (benchmark only)") from None
    out["scrapy"] = run_scrapy_command(img, output)
    out["aria2c -j 16 (images only)"] = aria2.aria2_command(site / "aria2.txt", output, jobs=16)
    return out


def baseline_command(commit: str, scratch: Path, base: str, output: Path) -> dict[str, list[str]]:
    """The queue crawl run with ``commit``'s code, from a git worktree under ``scratch``."""
    from benchmarks.commits import crawl_command, worktree

    workers, threads = YAMLCRAWL["queue"]
    options = ["--mode", "queue", "--workers", str(workers), "--threads", str(threads)]
    tree = worktree(commit, scratch)
    img = f"{base}/{lolsite.API}"
    return {targets.baseline_tool(commit): crawl_command(tree, img, output, options)}


def remove_worktrees(scratch: Path) -> None:
    """Remove the worktrees made under ``scratch``."""
    for tree in scratch.iterdir():
        subprocess.run(
            ["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(tree)],
            check=False,
        )


def bench_site(site: Path) -> tuple[dict[str, str], Path, str]:
    """nginx installed and the site built: expected files, output folder, the crawl's ``img``."""
    ensure_installed()
    base = f"http://127.0.0.1:{PORT}"
    return prepare(site, base), default_output(), f"{base}/{lolsite.API}"


def prepare(site: Path, base: str) -> dict[str, str]:
    """Build the site if needed; the expected files by path, and aria2's URL list."""
    if not (site / lolsite.API / "js/images.json").is_file():
        lolsite.main([str(site), "--base", base])
    expected = json.loads((site / "expected.json").read_text("utf-8"))
    pairs = [line.split("\t") for line in (site / "urls.txt").read_text("utf-8").splitlines()]
    aria2.write_url_list([(url, path) for url, path in pairs], site / "aria2.txt")
    return {entry["path"]: entry["sha256"] for entry in expected}


def default_output() -> Path:
    """A folder on a tmpfs when there is one: /dev/shm on Linux.

    Every run writes ~3,000 files where the last run's were just deleted. On ext4 that makes
    each new file's inode allocation skip the thousands freed moments ago (ext4 keeps recently
    freed inodes aside), which cost a third of every tool's CPU time in a profile (perf), grew
    with each run, and was not any tool's doing. A tmpfs measures the tools, not that.
    """
    shm = Path("/dev/shm")
    return (shm if shm.is_dir() else Path(tempfile.gettempdir())) / "yamlcrawl-bench-out"


def main(argv: Sequence[str] | None = None) -> int:
    """Run everything, print medians, save results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delays", default="0,20", help="ms per response, comma-separated")
    parser.add_argument("--site", type=Path, default=Path("/tmp/yamlcrawl-bench/site"))
    parser.add_argument("--only", default="", help="only tools whose name has one of these texts")
    parser.add_argument(
        "--output", type=Path, default=default_output(), help="where each run writes (a tmpfs)"
    )
    parser.add_argument(
        "--replot", action="store_true", help="only redraw the table and chart from results.json"
    )
    parser.add_argument(
        "--baseline",
        default=targets.BASELINE_COMMIT,
        help="also run queue mode from a checkout of this commit ('' for none)",
    )
    args = parser.parse_args(argv)
    if args.replot:
        saved = json.loads((HERE / "results.json").read_text())
        replotted = [Measure(**entry) for entry in saved["results"]]
        table(replotted)
        print_targets(replotted)
        chart(replotted, HERE / "results.png", saved["command"])
        return 0
    command = " ".join(["python benchmarks/compare.py", *(sys.argv[1:] if argv is None else argv)])
    ensure_installed()
    aria2.ensure_installed()
    base = f"http://127.0.0.1:{PORT}"
    expected = prepare(args.site, base)
    output = args.output
    results: list[Measure] = []
    with tempfile.TemporaryDirectory() as scratch:
        tools = commands(args.site, base, output)
        if args.baseline:
            tools.update(baseline_command(args.baseline, Path(scratch), base, output))
        wanted = args.only.split(",")
        tools = {k: v for k, v in tools.items() if any(w in k for w in wanted)}
        try:
            for delay in (float(d) for d in args.delays.split(",")):
                with Nginx(args.site, PORT, delay_ms=delay):
                    for _ in range(args.runs):
                        for tool, line in tools.items():
                            results.append(measure(tool, delay, line, output, expected))
                            print(f"  {tool} {delay:g} ms: {results[-1].wall:.2f} s", flush=True)
        finally:
            remove_worktrees(Path(scratch))
    table(results)
    print_targets(results)
    saved = {"command": command, "results": [asdict(r) for r in results]}
    (HERE / "results.json").write_text(json.dumps(saved, indent=1))
    chart(results, HERE / "results.png", command)
    return 0


def table(results: list[Measure]) -> None:
    """Medians per tool and delay."""
    print(f"\n{os.cpu_count()} CPUs; medians of --runs runs each")
    header = ("tool", "delay", "wall s", "CPU s", "CPU ms/file", "RSS max MB", "RSS sum MB")
    print("{:<28} {:>6} {:>7} {:>6} {:>11} {:>10} {:>10}".format(*header))
    for delay, tool in sorted({(r.delay_ms, r.tool) for r in results}):
        runs = [r for r in results if (r.delay_ms, r.tool) == (delay, tool)]
        wall, cpu = median(runs, "wall"), median(runs, "cpu")
        per_file = cpu / runs[0].files * 1000
        largest, total = median(runs, "rss_largest") / 1e6, median(runs, "rss_total") / 1e6
        print(
            f"{tool:<28} {delay:>4g}ms {wall:>7.2f} {cpu:>6.2f} {per_file:>11.2f}"
            f" {largest:>10.0f} {total:>10.0f}"
        )


def print_targets(results: list[Measure]) -> None:
    """Issue 16's targets against these medians (benchmarks/targets.py)."""
    lines = targets.report(results)
    if lines:
        print("\ntargets (benchmarks/targets.py):", *lines, sep="\n")


def median(runs: list[Measure], field: str) -> float:
    """The median of one measured field."""
    return statistics.median(float(getattr(run, field)) for run in runs)


SITE = "LoL-shaped site: 170 pages, 3,060 images, 244 MB; nginx on 127.0.0.1"
YAMLCRAWL_COLOUR, PEER_COLOUR, BASELINE_COLOUR = "#4c72b0", "#dd8452", "#9a9a9a"


@dataclass(frozen=True)
class Panel:
    """One column of the chart: a figure taken from each run, how to print it, its width."""

    title: str
    value: Callable[[Measure], float]
    digits: int
    width: float  # relative to the other panels


PANELS = (
    Panel("wall time, s", lambda run: run.wall, 2, 3),
    Panel("CPU per file, ms\n(all processes)", lambda run: run.cpu / run.files * 1000, 2, 2),
    Panel("largest process\nRSS, MB", lambda run: run.rss_largest / 1e6, 0, 1.4),
)


def chart(results: list[Measure], path: Path, command: str = "") -> None:
    """Draw ``results`` as a PNG at ``path`` (skipped without matplotlib); see `draw`."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed: no chart")
        return
    draw(results, command).savefig(path, dpi=150)
    print(f"wrote {path}")


def draw(results: list[Measure], command: str = "") -> Figure:
    """A row per delay, a column per `PANELS` entry, on linear axes.

    Within each row the tools are sorted by median wall time, fastest at the top; each bar is
    the median of the runs and its whisker spans their minimum to maximum. yamlcrawl, its
    baseline commit and the other tools have a colour each; runs that fetch only the images
    are hatched.
    """
    from matplotlib.figure import Figure

    delays = sorted({r.delay_ms for r in results})
    counts = [len({r.tool for r in results if r.delay_ms == d}) for d in delays]
    figure = Figure(
        figsize=(9, 1.2 + 0.26 * sum(counts) + 0.45 * len(delays)), layout="constrained"
    )
    grid = figure.subplots(
        len(delays), len(PANELS), sharex="col", sharey="row", squeeze=False,
        gridspec_kw={"width_ratios": [panel.width for panel in PANELS], "height_ratios": counts},
    )  # fmt: skip
    for row, delay in zip(grid, delays, strict=True):
        runs = _runs_by_tool([r for r in results if r.delay_ms == delay])
        order = sorted(runs, key=lambda tool: statistics.median(r.wall for r in runs[tool]))
        for axis, panel in zip(row, PANELS, strict=True):
            _draw_panel(axis, [runs[tool] for tool in order], panel)
        row[0].set_yticks(range(len(order)), order, fontsize=8)
        row[0].invert_yaxis()
        row[0].set_title(f"{delay:g} ms per response", loc="left", fontsize=9, weight="bold")
    for top, bottom, panel in zip(grid[0], grid[-1], PANELS, strict=True):
        top.set_title(panel.title, loc="right", fontsize=8)
        bottom.set_xlabel(panel.title.replace("\n", " "), fontsize=8)
    _legend(figure, {r.tool for r in results})
    _footer(figure, results, command)
    return figure


def _runs_by_tool(results: list[Measure]) -> dict[str, list[Measure]]:
    runs: dict[str, list[Measure]] = {}
    for run in results:
        runs.setdefault(run.tool, []).append(run)
    return runs


def _draw_panel(axis: Axes, runs: list[list[Measure]], panel: Panel) -> None:
    """One bar per tool: the median, a whisker from the lowest to the highest run, the value."""
    values = [[panel.value(run) for run in tool_runs] for tool_runs in runs]
    middle = [statistics.median(v) for v in values]
    low = [m - min(v) for m, v in zip(middle, values, strict=True)]
    high = [max(v) - m for m, v in zip(middle, values, strict=True)]
    for y, (tool_runs, value) in enumerate(zip(runs, middle, strict=True)):
        axis.barh(y, value, 0.72, **_style(tool_runs[0].tool))
    axis.errorbar(
        middle, range(len(middle)), xerr=[low, high], fmt="none", ecolor="#222222",
        elinewidth=1, capsize=2.5,
    )  # fmt: skip
    for y, (value, top) in enumerate(zip(middle, map(max, values), strict=True)):
        axis.annotate(
            f"{value:.{panel.digits}f}", (top, y), xytext=(3, 0), textcoords="offset points",
            va="center", fontsize=7.5,
        )  # fmt: skip
    axis.set_xscale("linear")
    # room right of the longest whisker for its label, which is as wide in every panel
    axis.set_xlim(0, max(map(max, values)) * (1 + 0.66 / panel.width))
    axis.tick_params(labelsize=7.5)
    axis.grid(axis="x", color="#dddddd", linewidth=0.6)
    axis.set_axisbelow(True)


def _style(tool: str) -> dict[str, Any]:
    """yamlcrawl blue, its baseline commit grey, other tools orange; images-only runs hatched."""
    if _is_ours(tool):
        colour = YAMLCRAWL_COLOUR
    elif tool.startswith("yamlcrawl"):
        colour = BASELINE_COLOUR
    else:
        colour = PEER_COLOUR
    hatch = "////" if "images only" in tool else None
    return {"color": colour, "hatch": hatch, "edgecolor": "white", "linewidth": 0}


def _legend(figure: Figure, tools: set[str]) -> None:
    """The site as a title over one entry per kind of bar drawn."""
    from matplotlib.patches import Patch

    baselines = sorted(tool.split("@", 1)[1] for tool in tools if "@" in tool)
    kinds = [
        (YAMLCRAWL_COLOUR, "yamlcrawl (this commit)", any(_is_ours(tool) for tool in tools)),
        (BASELINE_COLOUR, f"yamlcrawl @{', @'.join(baselines)} (baseline)", bool(baselines)),
        (PEER_COLOUR, "other tools", any(not tool.startswith("yamlcrawl") for tool in tools)),
    ]
    handles = [Patch(color=colour, label=label) for colour, label, drawn in kinds if drawn]
    if any("images only" in tool for tool in tools):
        handles.append(
            Patch(facecolor="#bbbbbb", hatch="////", edgecolor="white", label="images only")
        )
    figure.legend(
        handles=handles, loc="outside upper center", ncols=len(handles), fontsize=8,
        frameon=False, title=SITE, title_fontsize=10,
    )  # fmt: skip


def _is_ours(tool: str) -> bool:
    """A yamlcrawl run from this checkout (not from a baseline commit)."""
    return tool.startswith("yamlcrawl") and "@" not in tool


def _footer(figure: Figure, results: list[Measure], command: str) -> None:
    """Machine, how many runs each bar summarises, and the command that measured them."""
    runs = max(Counter((r.tool, r.delay_ms) for r in results).values())
    lines = [
        f"{_machine()}; bars: median of {runs} runs, whiskers: lowest to highest run",
        command,
    ]
    figure.supxlabel("\n".join(line for line in lines if line), fontsize=7.5, x=0.01, ha="left")


def _machine() -> str:
    """CPU count and model, memory, Python: the machine that ran (or replots) the benchmark."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.is_file() else [])
        if line.startswith("model name")
    ]
    model = f" ({names[0]})" if names else ""
    return f"{os.cpu_count()} CPUs{model}, {_memory_gib():.0f} GiB, Python {sys.version.split()[0]}"


def _memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


if __name__ == "__main__":
    sys.exit(main())
