"""The figures of benchmarks/dask_scaleout.py and the model of where dask mode's speed-up ends.

Pure: it reads ``/proc/PID/stat`` text and measured figures, and computes; it runs nothing.

The model: a crawl of ``requests`` responses, each ``delay`` late, on ``n`` workers of
``threads`` threads takes

    T(n) = T_fixed + max(latency, worker, scheduler, client, cpu)

where T_fixed is measured (the same command crawling one page: start-up, connecting, the start
check, shutting down), and each term in the max is a lower bound computed from measured
figures: ``latency = requests x (delay + work) / (n x threads)``, work being a worker's CPU per
request (what the threads hide); ``worker`` = the workers' CPU / n (a worker is one process
with one GIL: one core at most); ``scheduler`` = the scheduler's CPU beyond idling (one event
loop); ``client`` = the client's CPU beyond T_fixed's (the coordinator and the Dask client: one
process); and ``cpu`` = all of that over the cores the processes share. On hosts of their own
``latency`` and ``worker`` divide by n while ``scheduler`` and ``client`` stay: the speed-up
ends where they meet.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROJECTED = (1, 2, 3, 4, 6, 8, 16)  # worker counts the model projects to


def stat_cpu(stat: str, ticks: int = CLOCK_TICKS) -> float:
    """The CPU seconds (user + system) of a process, from the text of its ``/proc/PID/stat``.

    The command name (field 2) is in parentheses and may hold spaces and parentheses itself,
    so the fields are counted from the last ``)``: utime and stime are fields 14 and 15.
    """
    after = stat[stat.rindex(")") + 1 :].split()
    return (int(after[11]) + int(after[12])) / ticks


@dataclass(frozen=True)
class Run:
    """One crawl with ``workers`` workers joined, and the one-page crawl beside it."""

    workers: int
    wall: float
    client_cpu: float  # the yamlcrawl process and its children
    worker_cpu: float  # every joined worker's process
    scheduler_cpu: float
    tasks: int  # tasks the workers ran (the run's, and its start check's)
    idle: float  # the scheduler's CPU seconds per second with no run (heartbeats)
    fixed_wall: float  # the one-page crawl: T_fixed
    fixed_cpu: float  # ... and its client's CPU

    @property
    def busy_scheduler(self) -> float:
        """The scheduler's CPU over the run beyond its idle rate."""
        return max(self.scheduler_cpu - self.idle * self.wall, 0.0)

    @property
    def per_task(self) -> float:
        """The scheduler's CPU per task beyond its idle rate: the per-task overhead."""
        return self.busy_scheduler / max(self.tasks, 1)


@dataclass(frozen=True)
class Floor:
    """Dask's own cost of a no-op task on the same cluster, asked for one way (``FLOORS``)."""

    tasks: int
    wall: float
    scheduler_cpu: float
    kind: str = "map"

    @property
    def per_task(self) -> float:
        """The scheduler's CPU per task."""
        return self.scheduler_cpu / self.tasks


FLOORS = {  # kind: how the no-op tasks are asked for
    "map": "client.map of a no-op",
    "submit": "a no-op client.submit-ted and gathered one at a time, as yamlcrawl does",
}


def median_floors(floors: Sequence[Floor]) -> list[Floor]:
    """Each kind's median figures, in the order of ``FLOORS``."""
    kinds = [kind for kind in FLOORS if any(floor.kind == kind for floor in floors)]
    medians = []
    for kind in kinds:
        same = [floor for floor in floors if floor.kind == kind]
        wall = statistics.median(floor.wall for floor in same)
        cpu = statistics.median(floor.scheduler_cpu for floor in same)
        medians.append(Floor(same[0].tasks, wall, cpu, kind))
    return medians


@dataclass(frozen=True)
class Shape:
    """What the crawl asks of the cluster, and what this machine has."""

    requests: int  # pages and files fetched, each ``delay`` late on a worker thread
    files: int
    delay: float  # seconds per response
    threads: int  # per worker
    cores: int


@dataclass(frozen=True)
class Bounds:
    """Lower bounds on a crawl's wall time beyond T_fixed (seconds)."""

    latency: float  # requests x (delay + a worker's CPU per request) / (n x threads)
    worker: float  # each worker's CPU: one process, one GIL, about one core at most
    scheduler: float  # the scheduler's CPU (beyond idling): one event loop
    client: float  # the client's CPU beyond T_fixed's: one process
    cpu: float  # all of that over the cores they share (on this machine, all of them)

    def binding(self) -> str:
        """The name of the largest bound."""
        return max(fields(self), key=lambda f: float(getattr(self, f.name))).name

    def largest(self) -> float:
        """The largest bound."""
        return max(self.latency, self.worker, self.scheduler, self.client, self.cpu)


def median_run(runs: Sequence[Run]) -> Run:
    """Each figure's median over ``runs`` (all with the same worker count)."""
    mid = {f.name: statistics.median(float(getattr(r, f.name)) for r in runs) for f in fields(Run)}
    mid["workers"], mid["tasks"] = runs[0].workers, round(mid["tasks"])
    return Run(**mid)  # type: ignore[arg-type]


def bounds(run: Run, shape: Shape) -> Bounds:
    """The bounds of one (median) run on this machine, where every process shares the cores."""
    cycle = shape.delay + run.worker_cpu / shape.requests  # a thread's time per request
    latency = shape.requests * cycle / (run.workers * shape.threads)
    client = max(run.client_cpu - run.fixed_cpu, 0.0)
    total = client + run.worker_cpu + run.busy_scheduler
    worker = run.worker_cpu / run.workers
    return Bounds(latency, worker, run.busy_scheduler, client, total / shape.cores)


@dataclass(frozen=True)
class Model:
    """Where the speed-up ends, from the measured figures."""

    fixed: float  # T_fixed, the median one-page crawl
    predicted: dict[int, float]  # workers -> T(n) on this machine
    binding: dict[int, str]  # workers -> the bound that binds here
    per_task: float  # the scheduler's CPU per task, median over the worker counts
    files_per_task: float
    scheduler_workers: float  # workers at which latency / n falls to the scheduler's bound
    end_workers: float  # ... and the workers' CPU / n to the larger of scheduler and client
    projected: dict[int, float]  # workers -> T(n) on hosts of their own

    @property
    def task_ceiling(self) -> float:
        """Tasks per second one scheduler can take: 1 / its CPU per task."""
        return 1 / self.per_task

    @property
    def file_ceiling(self) -> float:
        """Files per second that allows."""
        return self.files_per_task / self.per_task


def model(runs: Sequence[Run], shape: Shape) -> Model:
    """The model fitted to the median runs (one per worker count), and projected to hosts of
    their own (one core each for the workers; the scheduler and the client one process each)."""
    found = {run.workers: bounds(run, shape) for run in runs}
    fixed = statistics.median(run.fixed_wall for run in runs)
    scheduler = statistics.median(b.scheduler for b in found.values())
    client = statistics.median(b.client for b in found.values())
    worker = statistics.median(run.worker_cpu for run in runs)
    waiting = statistics.median(b.latency * n for n, b in found.items())  # of one worker
    return Model(
        fixed=fixed,
        predicted={n: fixed + b.largest() for n, b in found.items()},
        binding={n: b.binding() for n, b in found.items()},
        per_task=statistics.median(run.per_task for run in runs),
        files_per_task=statistics.median(shape.files / max(run.tasks, 1) for run in runs),
        scheduler_workers=waiting / scheduler if scheduler else float("inf"),
        end_workers=max(waiting, worker) / max(scheduler, client, 1e-9),
        projected={n: fixed + max(waiting / n, worker / n, scheduler, client) for n in PROJECTED},
    )


def table(runs: Sequence[Run], floors: Sequence[Floor], shape: Shape) -> list[str]:
    """The medians per worker count, and Dask's floor, as lines to print."""
    base = runs[0].wall
    lines = [
        "workers  wall s  files/s  speed-up  client CPU  worker CPU  sched CPU  tasks  sched/task"
    ]
    for run in runs:
        lines.append(
            f"{run.workers:>7} {run.wall:>7.2f} {shape.files / run.wall:>8.0f}"
            f" {base / run.wall:>8.2f}x {run.client_cpu:>10.2f}s {run.worker_cpu:>10.2f}s"
            f" {run.scheduler_cpu:>9.2f}s {run.tasks:>6} {run.per_task * 1e3:>8.2f} ms"
        )
    lines.append(
        f"sched/task: the scheduler's CPU beyond its idle rate ({runs[0].idle * 1e3:.0f} ms/s)"
        " per task run"
    )
    for floor in floors:
        lines.append(
            f"Dask's floor, {FLOORS[floor.kind]}, {floor.tasks} tasks:"
            f" {floor.wall / floor.tasks * 1e3:.2f} ms a task (wall),"
            f" {floor.per_task * 1e3:.2f} ms of scheduler CPU a task"
        )
    return lines


def explain(runs: Sequence[Run], floors: Sequence[Floor], shape: Shape) -> list[str]:
    """The model on the median runs, in figures and words."""
    fit = model(runs, shape)
    lines = [
        "model: T(n) = T_fixed + max(latency = requests x (delay + work) / (n x threads),"
        " worker CPU / n, scheduler CPU, client CPU, all CPU / cores)",
        f"  T_fixed (the same command crawling one page) {fit.fixed:.2f} s",
    ]
    for run in runs:
        b = bounds(run, shape)
        lines.append(
            f"  n={run.workers}: latency {b.latency:.2f}, worker {b.worker:.2f}, scheduler"
            f" {b.scheduler:.2f}, client"
            f" {b.client:.2f}, CPU/{shape.cores} cores {b.cpu:.2f} s: {fit.binding[run.workers]}"
            f" binds; T = {fit.predicted[run.workers]:.2f} s, measured {run.wall:.2f} s"
            f" ({run.wall - fit.predicted[run.workers]:+.2f} s)"
        )
    floor_task = floors[0].per_task  # Dask's least
    lines += [
        f"  the scheduler: {fit.per_task * 1e3:.2f} ms CPU a task, {fit.files_per_task:.1f}"
        f" files a task: at most {fit.task_ceiling:.0f} tasks/s = {fit.file_ceiling:.0f}"
        f" files/s (Dask's no-op floor {floor_task * 1e3:.2f} ms: {1 / floor_task:.0f} tasks/s;"
        + "".join(f" {f.kind}: {f.per_task * 1e3:.2f} ms" for f in floors[1:])
        + ")",
        f"  latency / n falls below the scheduler's CPU at n = {fit.scheduler_workers:.1f}"
        f" workers of {shape.threads} threads; with the workers' CPU / n, below the larger of"
        f" the scheduler's and the client's at n = {fit.end_workers:.1f}: the speed-up ends there",
        "  projected on hosts of their own: "
        + ", ".join(f"n={n} {t:.2f} s" for n, t in fit.projected.items()),
        f"  here every worker, the scheduler, the client and nginx share {shape.cores} cores:"
        " CPU-bound scaling cannot show (more workers add no cores); latency hiding can,",
        "  until the CPU bound binds. The projection assumes the per-task and per-file costs"
        " measured here hold on other hosts and the network adds no latency of its own.",
    ]
    return lines


def summary(runs: Sequence[Run], floors: Sequence[Floor], shape: Shape) -> list[str]:
    """Every run's figures as the medians per worker count, the floor and the model."""
    counts = sorted({run.workers for run in runs})
    medians = [median_run([run for run in runs if run.workers == n]) for n in counts]
    floor = median_floors(floors)
    rounds = len(runs) // len(counts)
    return [
        f"medians of {rounds} runs; {shape.delay * 1e3:g} ms per response; {shape.requests}"
        f" requests, {shape.files} files; {shape.threads} threads per worker; {shape.cores} cores",
        *table(medians, floor, shape),
        "",
        *explain(medians, floor, shape),
    ]


def save(path: Path, runs: Sequence[Run], floors: Sequence[Floor], shape: Shape) -> None:
    """Write every figure as JSON, for ``load``."""
    figures = {
        "shape": asdict(shape),
        "floors": [asdict(floor) for floor in floors],
        "runs": [asdict(run) for run in runs],
    }
    path.write_text(json.dumps(figures, indent=1), "utf-8")


def load(path: Path) -> tuple[list[Run], list[Floor], Shape]:
    """The figures ``save`` wrote."""
    figures = json.loads(path.read_text("utf-8"))
    runs = [Run(**run) for run in figures["runs"]]
    return runs, [Floor(**floor) for floor in figures["floors"]], Shape(**figures["shape"])
