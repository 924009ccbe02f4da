"""Dask mode with 1, 2 and 4 local workers on the benchmark site, beside the fastest local mode.

    python benchmarks/dask_workers.py [--runs 5] [--delay 20] [--threads 16] [--workers 1,2,4]

Serves the site of benchmarks/compare.py with nginx (every response ``--delay`` ms late), runs
the whole LoL crawl (170 pages, 3,060 images) in dask mode with a local cluster of each worker
count (``--threads`` threads per worker), and in queue mode (4 × 16) for reference, the runs
interleaved; prints the median wall time, files per second and CPU time of each. The wall time
includes starting and stopping the local cluster.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.compare import PORT, Measure, bench_site, measure, yamlcrawl_command  # noqa: E402
from benchmarks.nginx import Nginx  # noqa: E402

REFERENCE = ("queue", 4, 16)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every configuration ``--runs`` times, interleaved; print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=20.0, help="ms per response")
    parser.add_argument("--threads", type=int, default=16, help="threads per dask worker")
    parser.add_argument("--workers", default="1,2,4", help="dask worker counts")
    parser.add_argument("--site", type=Path, default=Path("/tmp/yamlcrawl-bench/site"))
    args = parser.parse_args(argv)
    expected, output, img = bench_site(args.site)
    config = HERE.parent / "crawler.yaml"
    runs = [("dask", int(n), args.threads) for n in args.workers.split(",")] + [REFERENCE]
    results: dict[tuple[str, int, int], list[Measure]] = {run: [] for run in runs}
    with Nginx(args.site, PORT, delay_ms=args.delay):
        for _ in range(args.runs):
            for mode, workers, threads in runs:
                command = yamlcrawl_command(config, img, output, mode, workers, threads)
                name = f"{mode} {workers}x{threads}"
                result = measure(name, args.delay, command, output, expected)
                results[mode, workers, threads].append(result)
                print(f"  {name}: {result.wall:.2f} s", flush=True)
    print(f"\nmedians of {args.runs} runs, {args.delay:g} ms per response, {len(expected)} files")
    print(f"{'mode':<8} {'workers':>7} {'threads':>7} {'wall':>8} {'files/s':>8} {'CPU':>8}")
    for (mode, workers, threads), measured in results.items():
        wall = statistics.median(r.wall for r in measured)
        cpu = statistics.median(r.cpu for r in measured)
        rate = len(expected) / wall
        print(f"{mode:<8} {workers:>7} {threads:>7} {wall:>6.2f} s {rate:>8.0f} {cpu:>6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
