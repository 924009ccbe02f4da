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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import aria2, lolsite, targets  # noqa: E402
from benchmarks.memory import tree_memory  # noqa: E402
from benchmarks.nginx import Nginx, ensure_installed  # noqa: E402

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


def chart(results: list[Measure], path: Path, command: str = "") -> None:
    """Median wall time by tool and delay, as a PNG (skipped without matplotlib).

    Horizontal bars on a log scale, each labelled with its value: serial at 20 ms is twenty
    times the rest, and a linear axis would hide every difference that matters.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart")
        return
    tools = sorted({r.tool for r in results}, key=_chart_order, reverse=True)
    delays = sorted({r.delay_ms for r in results})
    figure, axis = plt.subplots(figsize=(10, 0.55 * len(tools) * len(delays) + 1.8))
    height = 0.8 / len(delays)
    for i, delay in enumerate(delays):
        walls = [
            statistics.median([r.wall for r in results if (r.tool, r.delay_ms) == (t, delay)])
            for t in tools
        ]
        bars = axis.barh(
            [y + (len(delays) - 1 - i) * height for y in range(len(tools))],
            walls,
            height,
            label=f"{delay:g} ms per response",
        )
        axis.bar_label(bars, labels=[f"{w:.2f} s" for w in walls], padding=3, fontsize=8)
    axis.set_yticks([y + height * (len(delays) - 1) / 2 for y in range(len(tools))], tools)
    axis.set_xscale("log")
    axis.set_xlabel("wall time, s (median, log scale)")
    axis.set_title("LoL-shaped site: 170 pages, 3,060 images, 244 MB; nginx on 127.0.0.1")
    axis.legend(loc="lower right")
    runs = max(Counter((r.tool, r.delay_ms) for r in results).values())
    machine = f"{os.cpu_count()} CPUs, {_memory_gib():.0f} GiB, Python {sys.version.split()[0]}"
    figure.text(0.01, 0.01, f"{machine}; medians of {runs} runs; {command}", fontsize=7)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path, dpi=100)
    print(f"wrote {path}")


def _chart_order(tool: str) -> tuple[int, str]:
    """yamlcrawl's modes first, then the other tools."""
    return (0 if tool.startswith("yamlcrawl") else 1, tool)


def _memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


if __name__ == "__main__":
    sys.exit(main())
