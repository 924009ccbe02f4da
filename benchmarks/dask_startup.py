"""What a Dask local cluster costs to start and stop, configuration by configuration.

    python benchmarks/dask_startup.py [--runs 5] [--workers 2] [--threads 2] [--only a,b] [--crawl]

Each configuration starts in a fresh Python process, a script of its own as a yamlcrawl run
is (nothing of Dask imported yet), which times, separately, the imports (yamlcrawl's CLI, then
Dask), the ``LocalCluster`` construction, a client joining it and each worker's first
yamlcrawl task (what a worker must import before its first unit), and the shut-down.
Configurations run interleaved, ``--runs`` times each; the medians are printed. ``--crawl``
also times a whole tiny crawl (``yamlcrawl run`` of one list page and three files, 2 workers
× 2 threads) in serial, pool and dask mode, dask's workers started by fork (yamlcrawl's default
on Linux) and by spawn (Dask's own default, which yamlcrawl used before).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# name -> LocalCluster keyword arguments (beyond n_workers / threads_per_worker) and Dask
# config set before the cluster starts.
CONFIGS: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "spawn (yamlcrawl before)": (
        {"processes": True, "dashboard_address": "127.0.0.1:0"},
        {"distributed.worker.multiprocessing-method": "spawn"},
    ),
    "spawn, no dashboard": (
        {"processes": True, "dashboard_address": None},
        {"distributed.worker.multiprocessing-method": "spawn"},
    ),
    "spawn, no work stealing": (
        {"processes": True, "dashboard_address": "127.0.0.1:0"},
        {
            "distributed.worker.multiprocessing-method": "spawn",
            "distributed.scheduler.work-stealing": False,
        },
    ),
    "forkserver": (
        {"processes": True, "dashboard_address": "127.0.0.1:0"},
        {"distributed.worker.multiprocessing-method": "forkserver"},
    ),
    "fork (yamlcrawl now)": (
        {"processes": True, "dashboard_address": "127.0.0.1:0"},
        {"distributed.worker.multiprocessing-method": "fork"},
    ),
    "no nanny (workers in-process)": (
        {"processes": True, "dashboard_address": None, "worker_class": "distributed.Worker"},
        {},
    ),
    "threads (processes=False)": ({"processes": False, "dashboard_address": None}, {}),
}

# The child is a script of its own, as `python -m yamlcrawl` is: a spawned worker imports the
# main module again, and yamlcrawl's imports the CLI. Its first task is yamlcrawl's (run_task
# over no units), so a worker imports what a crawl's worker imports before it can answer.
CHILD = r"""
import json, logging, sys, time
t0 = time.perf_counter()
import yamlcrawl.ui.cli
from yamlcrawl.backends.dask import run_task
if __name__ == "__main__":
    import dask, distributed
    t1 = time.perf_counter()
    kwargs, config, workers, threads = json.loads(sys.argv[1])
    if "worker_class" in kwargs:
        module, _, name = kwargs["worker_class"].rpartition(".")
        kwargs["worker_class"] = getattr(__import__(module, fromlist=[name]), name)
    dask.config.set(config)
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=threads, silence_logs=logging.CRITICAL, **kwargs
    )
    t2 = time.perf_counter()
    client = distributed.Client(cluster.scheduler_address, timeout=10)
    client.wait_for_workers(workers, timeout=30)
    firsts = [client.submit(run_task, None, [], pure=False, workers=[w])
              for w in client.scheduler_info()["workers"]]
    assert client.gather(firsts) == [[]] * workers
    t3 = time.perf_counter()
    client.close()
    cluster.close()
    t4 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "cluster": t2 - t1, "first task": t3 - t2,
                      "close": t4 - t3, "total": t4 - t0}))
"""

PHASES = ("import", "cluster", "first task", "close", "total")


def time_config(name: str, workers: int, threads: int) -> dict[str, float]:
    """One start and stop of configuration ``name`` in a fresh interpreter: seconds by phase."""
    kwargs, config = CONFIGS[name]
    argument = json.dumps([kwargs, config, workers, threads])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "start_cluster.py"
        script.write_text(CHILD, "utf-8")
        command = [sys.executable, str(script), argument]
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


SITE = """
name: startup
vars: {base: BASE}
output: {dir: OUT}
stages:
  list:
    url: "{base}/list.json"
    each: "$.items[*]"
    as: item
    downloads:
      - url: "{base}/{item.file}"
        save_as: "{item.file}"
"""


def time_crawl(mode: str, base: str, folder: Path) -> float:
    """Wall seconds of ``yamlcrawl run`` of the tiny crawl in ``mode`` (2 workers × 2);
    ``dask spawn``: dask mode with Dask's own start method, as yamlcrawl had it."""
    mode, _, method = mode.partition(" ")
    out = folder / f"out-{mode}"
    config = folder / "crawl.yaml"
    config.write_text(SITE.replace("BASE", base).replace("OUT", str(out)), "utf-8")
    command = [sys.executable, "-m", "yamlcrawl", "run", str(config), "--mode", mode, "--fresh"]
    command += ["--workers", "2", "--threads", "2", "--quiet"]
    command += ["--start-method", method] if method else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def serve_tiny_site(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A static site of one list and three files, served by ``http.server`` on a free port."""
    site = folder / "site"
    site.mkdir()
    files = [f"f{n}.txt" for n in range(3)]
    (site / "list.json").write_text(json.dumps({"items": [{"file": f} for f in files]}))
    for name in files:
        (site / name).write_text(name * 100)
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "-d", str(site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert server.stdout is not None
    line = server.stdout.readline().decode()  # "Serving HTTP on 127.0.0.1 port N ..."
    port = line.split(" port ")[1].split()[0]
    return server, f"http://127.0.0.1:{port}"


def crawl_figures(runs: int) -> dict[str, list[float]]:
    """The tiny crawl in serial, pool and dask mode (by fork, and by spawn), ``runs`` times
    each, interleaved."""
    timings: dict[str, list[float]] = {"serial": [], "pool": [], "dask fork": [], "dask spawn": []}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        server, base = serve_tiny_site(folder)
        try:
            for _ in range(runs):
                for mode, measured in timings.items():
                    measured.append(time_crawl(mode, base, folder))
                    print(f"  crawl {mode}: {measured[-1]:.2f} s", flush=True)
        finally:
            server.terminate()
            server.wait()
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    """Time every configuration ``--runs`` times, interleaved; print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="comma-separated configuration names (substrings)")
    parser.add_argument("--crawl", action="store_true", help="also time a tiny crawl by mode")
    args = parser.parse_args(argv)
    names = [n for n in CONFIGS if not args.only or any(o in n for o in args.only.split(","))]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for run in range(args.runs):
        for name in names:
            figures = time_config(name, args.workers, args.threads)
            results[name].append(figures)
            print(f"  run {run + 1} {name}: {figures['total']:.2f} s", flush=True)
    print(f"\nmedians of {args.runs} runs, {args.workers} workers × {args.threads} threads, s")
    print(f"{'configuration':<30}" + "".join(f"{phase:>11}" for phase in PHASES))
    for name, measured in results.items():
        medians = [statistics.median(m[phase] for m in measured) for phase in PHASES]
        print(f"{name:<30}" + "".join(f"{value:>11.2f}" for value in medians))
    if args.crawl:
        timings = crawl_figures(args.runs)
        print(f"\ntiny crawl (1 page, 3 files), wall s, medians of {args.runs}")
        for mode, measured in timings.items():
            print(f"{mode:<12} {statistics.median(measured):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
