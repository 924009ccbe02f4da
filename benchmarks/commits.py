"""What each change bought: the same crawl at several commits, interleaved, in one run.

    python benchmarks/commits.py a2b3bb3 a530c48 HEAD [--runs 5] [--delay 20]

Checks each commit out in a temporary git worktree, serves the site of benchmarks/compare.py
with nginx, runs the whole LoL crawl with each commit's code (``--mode queue --workers 4
--threads 16`` unless told otherwise), commits interleaved, every output checked byte-exact,
and prints the median wall and CPU time (user + sys, of every process) of each, and that CPU
time per file.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.compare import PORT, Measure, bench_site, measure  # noqa: E402
from benchmarks.nginx import Nginx  # noqa: E402


def worktree(commit: str, where: Path) -> Path:
    """A checkout of ``commit`` under ``where``."""
    tree = where / commit
    subprocess.run(
        ["git", "-C", str(HERE.parent), "worktree", "add", "--detach", "-q", str(tree), commit],
        check=True,
    )
    return tree


def crawl_command(tree: Path, img: str, output: Path, options: list[str]) -> list[str]:
    """yamlcrawl from ``tree`` (-P: not the current folder's), on today's crawler.yaml."""
    return [
        "env", f"PYTHONPATH={tree}", sys.executable, "-P", "-m", "yamlcrawl",
        str(HERE.parent / "crawler.yaml"), "-q", "--set", f"img={img}",
        "--output", str(output), *options,
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run every commit's crawl --runs times, interleaved; print medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("commits", nargs="+")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=20.0, help="ms per response")
    parser.add_argument("--options", default="--mode queue --workers 4 --threads 16")
    parser.add_argument("--site", type=Path, default=Path("/tmp/yamlcrawl-bench/site"))
    args = parser.parse_args(argv)
    expected, output, img = bench_site(args.site)
    results: dict[str, list[Measure]] = {c: [] for c in args.commits}
    with tempfile.TemporaryDirectory() as scratch:
        trees = {c: worktree(c, Path(scratch)) for c in args.commits}
        try:
            with Nginx(args.site, PORT, delay_ms=args.delay):
                for _ in range(args.runs):
                    for commit, tree in trees.items():
                        command = crawl_command(tree, img, output, args.options.split())
                        run = measure(commit, args.delay, command, output, expected)
                        results[commit].append(run)
                        print(f"  {commit}: {run.wall:.2f} s", flush=True)
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(tree)],
                    check=False,
                )
    print(f"\nmedians of {args.runs} runs, {args.delay:g} ms per response, {args.options}")
    for commit, runs in results.items():
        wall = statistics.median(r.wall for r in runs)
        cpu = statistics.median(r.cpu for r in runs)
        per_file = cpu / runs[0].files * 1000
        print(f"{commit:<12} wall {wall:6.2f} s   CPU {cpu:6.2f} s   {per_file:.3f} ms per file")
    return 0


if __name__ == "__main__":
    os.environ.pop("PYTHONPATH", None)
    sys.exit(main())
