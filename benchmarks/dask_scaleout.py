"""Dask mode on 1, 2 and 3 separate hosts: the scale-out benchmark, and where its speed-up ends.

    python benchmarks/dask_scaleout.py [--runs 5] [--delay 20] [--threads 8] [--noop 2000]
                                       [--save FIGURES.json]
    python benchmarks/dask_scaleout.py --report FIGURES.json    # print saved figures again

Needs root: it builds tests/netns.py's cluster of 3 hosts (a network namespace each, on a
bridge), with the scheduler and nginx on the bridge address, and crawls the whole LoL benchmark
site (benchmarks/compare.py: 171 pages, 3,060 images; every response ``--delay`` ms late) with
exactly 1, 2 and 3 workers joined (``--threads`` threads each), the others' workers stopped
between runs, outside the timed part; the runs interleaved (round r: 1, 2, 3 workers), each
checked complete and byte-exact. For each count it prints the median wall time, files/s,
speed-up over 1 worker, the CPU time of the client's process tree, of the workers and of the
scheduler, and the scheduler's CPU per task the run submitted: the per-task overhead on the
scheduler. Beside it, Dask's floor on the same cluster: ``client.map`` of a no-op over
``--noop`` items, and as many no-ops submitted and gathered one at a time (as yamlcrawl
does), per task. Then a model, from those figures, of where the speed-up ends
(benchmarks/scaleout_model.py). Without root or ``ip netns`` it says so in one line and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import lolsite  # noqa: E402
from benchmarks.compare import PORT, bench_site, measure, prepare, yamlcrawl_command  # noqa: E402
from benchmarks.nginx import Nginx  # noqa: E402
from benchmarks.scaleout_model import Floor, Run, Shape, load, save, stat_cpu, summary  # noqa: E402
from tests.netns import NetnsCluster, build_network, cannot_make_namespaces  # noqa: E402

HOSTS = 3
IDLE = 2.0  # seconds the idle scheduler is watched before each crawl
ONE_PAGE = """name: one-page
vars:
  img: {img}
stages:
  heroes:
    url: "{{img}}/js/heroList/hero_list.js"
"""  # the same command crawling one page: what a crawl costs beyond its work (T_fixed)


def process_cpu(pid: int | None) -> float:
    """The CPU seconds a running process has used so far (0 if there is none)."""
    if pid is None:
        return 0.0
    try:
        return stat_cpu(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0.0


@contextlib.contextmanager
def cluster_and_site(
    site: Path, delay: float, folder: Path
) -> Iterator[tuple[NetnsCluster, Path, str]]:
    """The netns cluster (scheduler, no worker yet) and nginx serving a copy of the site on
    the bridge address; everything stopped and removed however it ends."""
    cluster = build_network(HOSTS, folder)
    nginx: Nginx | None = None
    copy = site.with_name(f"{site.name}-{cluster.gateway}")
    try:
        cluster.start_scheduler()
        base = f"http://{cluster.gateway}:{PORT}"
        lolsite.relocate(site, f"http://127.0.0.1:{PORT}", copy, base)
        nginx = Nginx(copy, PORT, delay_ms=delay, host=cluster.gateway)
        nginx.start()
        yield cluster, copy, base
    finally:
        stop_crawl()
        if nginx is not None:
            nginx.stop()
        cluster.stop()
        shutil.rmtree(copy, ignore_errors=True)


def stop_crawl() -> None:
    """Kill the crawl this process started, if it is still running (the benchmark was
    interrupted while it waited for it)."""
    for thread in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError):
            for pid in map(int, (thread / "children").read_text().split()):
                command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if command[1:3] == [b"-m", b"yamlcrawl"]:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)


def join_exactly(cluster: NetnsCluster, count: int, threads: int) -> None:
    """The first ``count`` hosts' workers joined (and warm), the others' stopped."""
    for host in cluster.hosts[count:]:
        if host.supervisor is not None:
            cluster.stop_worker(host)
    started = [host for host in cluster.hosts[:count] if host.supervisor is None]
    for host in started:
        cluster.start_worker(host, threads)
    cluster.wait_for_workers(count)
    if started:
        from distributed import Client

        with Client(cluster.address, timeout=10) as client:
            client.run(_warm)


def _warm() -> None:
    """On a worker: import what a crawl's tasks run, as a worker that has run one has."""
    import yamlcrawl.backends.dask
    import yamlcrawl.work.run  # noqa: F401


@dataclass(frozen=True)
class Bench:
    """What every crawl of the benchmark runs against, and checks."""

    cluster: NetnsCluster
    img: str  # the crawl's ``img`` variable: the site's API on the bridge
    output: Path
    expected: dict[str, str]
    delay: float  # ms
    threads: int
    one_page: Path  # the ONE_PAGE crawl's file

    def command(self, config: Path, count: int) -> list[str]:
        """The CLI crawling ``config`` on the cluster's scheduler."""
        command = yamlcrawl_command(config, self.img, self.output, "dask", count, self.threads)
        return [*command, "--scheduler", self.cluster.address]

    def scheduler_cpu(self) -> float:
        """The scheduler's CPU seconds so far."""
        scheduler = self.cluster.scheduler
        return process_cpu(scheduler.pid if scheduler is not None else None)

    def crawl(self, count: int) -> Run:
        """The timed crawl on ``count`` joined workers, with the scheduler's and the workers'
        CPU and the tasks run around it; the idle scheduler before, the one-page crawl after."""
        pids = [host.worker_pid() for host in self.cluster.hosts[:count]]
        idle = self.scheduler_cpu()
        time.sleep(IDLE)
        idle = (self.scheduler_cpu() - idle) / IDLE
        tasks = sum(self.cluster.tasks_run().values())
        workers, scheduler = sum(map(process_cpu, pids)), self.scheduler_cpu()
        config = HERE.parent / "crawler.yaml"
        run = measure(
            f"{count} workers", self.delay, self.command(config, count), self.output, self.expected
        )
        scheduler = self.scheduler_cpu() - scheduler
        workers = sum(map(process_cpu, pids)) - workers
        tasks = sum(self.cluster.tasks_run().values()) - tasks
        fixed = measure("one page", self.delay, self.command(self.one_page, count), self.output, {})
        return Run(count, run.wall, run.cpu, workers, scheduler, tasks, idle, fixed.wall, fixed.cpu)


def noop_floors(cluster: NetnsCluster, tasks: int) -> list[Floor]:
    """No-op tasks on the joined workers, timed: ``client.map`` over ``tasks`` items (Dask's
    least per task), and as many ``client.submit``-ted and gathered one at a time as they
    finish (yamlcrawl's way, less the work)."""
    from distributed import Client, as_completed, wait

    scheduler = cluster.scheduler.pid if cluster.scheduler else None
    with Client(cluster.address, timeout=10) as client:
        wait(client.map(abs, range(100), pure=False))  # connections made, functions known

        def by_map() -> None:
            wait(client.map(abs, range(tasks), pure=False))

        def by_submit() -> None:
            futures = [client.submit(abs, i, pure=False) for i in range(tasks)]
            for future in as_completed(futures):
                client.gather([future])

        floors = []
        for kind, run in (("map", by_map), ("submit", by_submit)):
            before, start = process_cpu(scheduler), time.perf_counter()
            run()
            wall = time.perf_counter() - start
            floors.append(Floor(tasks, wall, process_cpu(scheduler) - before, kind))
        return floors


def stop_on_term(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends the benchmark as Ctrl-C does: through its clean-up."""
    raise KeyboardInterrupt(f"signal {signum}")


def measure_all(args: argparse.Namespace) -> tuple[list[Run], list[Floor], Shape]:
    """Every crawl, interleaved, and Dask's floor once a round; the crawl's shape."""
    _, output, _ = bench_site(args.site)
    runs: list[Run] = []
    floors: list[Floor] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        cluster_and_site(args.site, args.delay, Path(folder)) as (cluster, copy, base),
    ):
        expected = prepare(copy, base)
        pages = 1 + len(list((copy / lolsite.API / "js/hero").glob("*.js")))
        img = f"{base}/{lolsite.API}"
        one_page = Path(folder) / "one-page.yaml"
        one_page.write_text(ONE_PAGE.format(img=img), "utf-8")
        bench = Bench(cluster, img, output, expected, args.delay, args.threads, one_page)
        for _ in range(args.runs):
            for count in range(1, HOSTS + 1):
                join_exactly(cluster, count, args.threads)
                runs.append(bench.crawl(count))
                print(f"  {count} workers x {args.threads}: {runs[-1].wall:.2f} s", flush=True)
            floors += noop_floors(cluster, args.noop)
    cores = os.cpu_count() or 1
    shape = Shape(pages + len(expected), len(expected), args.delay / 1000, args.threads, cores)
    return runs, floors, shape


def main(argv: Sequence[str] | None = None) -> int:
    """Run the crawls interleaved; print the medians, the floor and the model."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay", type=float, default=20.0, help="ms per response")
    parser.add_argument("--threads", type=int, default=8, help="threads per dask worker")
    parser.add_argument("--noop", type=int, default=2000, help="no-op tasks for Dask's floor")
    parser.add_argument("--site", type=Path, default=Path("/tmp/yamlcrawl-bench/site"))
    parser.add_argument("--save", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--report", type=Path, help="only print what --save wrote")
    args = parser.parse_args(argv)
    if args.report is not None:
        print(*summary(*load(args.report)), sep="\n")
        return 0
    reason = cannot_make_namespaces()
    if reason is not None:
        print(f"dask_scaleout: skipped: {reason}")
        return 0
    signal.signal(signal.SIGTERM, stop_on_term)
    try:
        runs, floors, shape = measure_all(args)
    except KeyboardInterrupt:
        print("dask_scaleout: interrupted; the cluster, nginx and the crawl are stopped")
        return 130
    if args.save is not None:
        save(args.save, runs, floors, shape)
    print(*summary(runs, floors, shape), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
