"""Wall time of every execution mode on the LoL sample, side by side in one run.

    python benchmarks/modes.py [--runs 5] [--delay-ms 20] [--workers 4] [--threads 1]

Serves samples/lol/site on 127.0.0.1 (each response delayed by --delay-ms, a stand-in for a
server far away), then runs `yamlcrawl crawler.yaml --mode M` as a fresh process --runs times
per mode, modes interleaved so that drift in the machine hits them all alike. Each run's output
is checked against samples/lol/expected.json. Prints the median, min and max wall time of the
whole command (interpreter start included) per mode.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samples.check import compare  # noqa: E402
from samples.serve import start_server  # noqa: E402

MODES = ("serial", "process", "queue", "pool", "thread")


def one_run(base: str, mode: str, output: Path, workers: int, threads: int) -> float:
    """Seconds for one whole `yamlcrawl` command; raises if its output is not exact."""
    shutil.rmtree(output, ignore_errors=True)
    command = [
        sys.executable, "-m", "yamlcrawl", str(ROOT / "crawler.yaml"), "-q",
        "--set", f"img={base}/images/lol/act/img", "--output", str(output),
        "--mode", mode, "--workers", str(workers), "--threads", str(threads),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    took = time.perf_counter() - start
    problems = compare(ROOT / "samples" / "lol", output)
    if problems:
        raise SystemExit(f"{mode}: wrong output: {problems[:3]}")
    return took


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    server, base = start_server(ROOT / "samples" / "lol" / "site", delay=args.delay_ms / 1000)
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.runs):
            for mode in MODES:
                output = Path(scratch) / mode
                times[mode].append(one_run(base, mode, output, args.workers, args.threads))
    server.shutdown()
    server.server_close()
    print(
        f"LoL sample: 6 pages, 48 images; {args.delay_ms:g} ms per response; "
        f"workers={args.workers} threads={args.threads}; {args.runs} runs each"
    )
    print(f"{'mode':<8} {'median s':>9} {'min s':>7} {'max s':>7}")
    for mode in MODES:
        runs = times[mode]
        print(f"{mode:<8} {statistics.median(runs):>9.2f} {min(runs):>7.2f} {max(runs):>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
