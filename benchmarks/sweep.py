"""Find each yamlcrawl mode's best worker and thread counts on the benchmark site.

    python benchmarks/sweep.py [--runs 3] [--delay 20] [--modes queue,pool]

Serves the site of benchmarks/compare.py with nginx, runs the whole LoL crawl for every
(workers, threads) pair below, pairs interleaved, and prints the median wall and CPU time of
each. The best pair per mode is what compare.py's YAMLCRAWL table holds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.compare import (  # noqa: E402
    PORT,
    Measure,
    bench_site,
    measure,
    yamlcrawl_command,
)
from benchmarks.nginx import Nginx  # noqa: E402

GRID: dict[str, list[tuple[int, int]]] = {
    "process": [(4, 8), (6, 8), (8, 8), (4, 16)],
    "queue": [(4, 8), (8, 4), (2, 32), (3, 16), (6, 8), (4, 16), (8, 8)],
    "pool": [(8, 1), (16, 1), (24, 1), (32, 1)],
    "thread": [(16, 1), (32, 1), (48, 1), (64, 1), (96, 1)],
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid; print medians per mode and pair, best first."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delay", type=float, default=20.0, help="ms per response")
    parser.add_argument("--modes", default=",".join(GRID))
    parser.add_argument("--site", type=Path, default=Path("/tmp/yamlcrawl-bench/site"))
    args = parser.parse_args(argv)
    expected, output, img = bench_site(args.site)
    config = HERE.parent / "crawler.yaml"
    pairs = [(mode, pair) for mode in args.modes.split(",") for pair in GRID[mode]]
    results: dict[tuple[str, tuple[int, int]], list[Measure]] = {p: [] for p in pairs}
    with Nginx(args.site, PORT, delay_ms=args.delay):
        for _ in range(args.runs):
            for mode, (workers, threads) in pairs:
                command = yamlcrawl_command(config, img, output, mode, workers, threads)
                run = measure(f"{mode} {workers}x{threads}", args.delay, command, output, expected)
                results[mode, (workers, threads)].append(run)
                print(f"  {run.tool}: {run.wall:.2f} s", flush=True)
    print(f"\nmedians of {args.runs} runs, {args.delay:g} ms per response")
    for mode in args.modes.split(","):
        ranked = sorted(
            ((statistics.median(r.wall for r in runs), pair, runs)
             for (m, pair), runs in results.items() if m == mode),
        )  # fmt: skip
        for wall, (workers, threads), runs in ranked:
            cpu = statistics.median(r.cpu for r in runs)
            print(f"{mode:<8} {workers:>3} x {threads:<3} wall {wall:6.2f} s   CPU {cpu:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
