"""``process``: one ``multiprocessing.Process(target=..., args=...)`` per unit of work.

As the original program starts one process per hero and image list, a unit here is a page, or
all the files one parent item asks for under one download rule (a hero's 电脑版 images, say).
At most ``workers`` processes are alive at once; each is started, and joined when it is done.
Results come back over a ``Pipe`` of the process's own, so a killed process can only lose its
own messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from yamlcrawl.backends import register
from yamlcrawl.backends.common import (
    Worker,
    death_of,
    mp_context,
    read_pipes,
    receive_all,
    run_in_threads,
    sending_home,
    start_piped,
    stop_processes,
    stop_workers,
    unit_lines,
    worker_init,
    worker_lines,
)
from yamlcrawl.language.plan import Plan
from yamlcrawl.types import DownloadUnit, Lost, Result, Unit, UnitId, unit_id
from yamlcrawl.work.context import RunContext

GroupKey = tuple[object, ...]


def group_of(unit: Unit) -> GroupKey:
    """Files of one parent item under one download rule go together; a page goes alone."""
    if isinstance(unit, DownloadUnit):
        return ("files", unit.key[:-2], unit.key[-1])  # key = page key + (item, rule)
    return ("page", unit.key)


def run_group(run: RunContext, units: list[Unit], connection: Connection) -> None:
    """The target of every worker process: do the units, send each result home."""
    worker_init()
    with sending_home(connection):
        run_in_threads(run, units, run.plan.threads, connection.send)


@dataclass
class _Job(Worker):
    units: dict[UnitId, Unit]
    done: set[UnitId] = field(default_factory=set)


@register("process")
class ProcessBackend:
    """Starts a process per group of units, ``workers`` at a time."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.plan = plan = run.plan
        self.context = mp_context(plan)
        self._waiting: dict[GroupKey, list[Unit]] = {}
        self._jobs: dict[Connection, _Job] = {}

    def capacity(self) -> int:
        """Enough to hold whole groups while ``workers`` processes run."""
        return self.plan.workers * 64

    def submit(self, unit: Unit) -> None:
        """Add the unit to its group; groups start as processes free up."""
        self._waiting.setdefault(group_of(unit), []).append(unit)

    def poll(self, timeout: float) -> list[Result]:
        """Start what may start, then gather results and notice processes that ended."""
        self._start_jobs()
        if not self._jobs:
            return []
        results: list[Result] = []
        for job, messages, ended in read_pipes(self._jobs.values(), timeout):
            job.done.update(unit_id(result.unit) for result in messages)
            results += messages
            if ended:
                results += self._finish(job.connection, job)
        return results

    def _start_jobs(self) -> None:
        while self._waiting and len(self._jobs) < self.plan.workers:
            key = next(iter(self._waiting))
            units = self._waiting.pop(key)
            parent_end, process = start_piped(self.context, run_group, (self.run, units))
            self._jobs[parent_end] = _Job(process, parent_end, {unit_id(u): u for u in units})

    def _finish(self, connection: Connection, job: _Job) -> list[Result]:
        """Join an ended process; whatever it did not answer for is lost."""
        messages, _ = receive_all(connection)
        results: list[Result] = list(messages)
        job.done.update(unit_id(result.unit) for result in messages)
        job.process.join(5)
        if job.process.is_alive():  # closed its pipe but hangs on: it is of no further use
            stop_processes([job.process])
        connection.close()
        del self._jobs[connection]
        missing = [unit for uid, unit in job.units.items() if uid not in job.done]
        results += [Lost(unit, death_of(job.process)) for unit in missing]
        return results

    def close(self) -> None:
        """Every job has finished; nothing is left to join."""
        stop_processes(job.process for job in self._jobs.values())

    @classmethod
    def describe(cls, plan: Plan) -> list[str]:
        """A process per page and per page × download rule, ``workers`` at a time."""
        return [
            f"process: a multiprocessing.Process per unit of work, at most {plan.workers}"
            " alive, each started and joined",
            "  main process: coordinator; starts processes, reads their Pipes, names files,"
            " writes the manifest",
            *unit_lines(
                plan, "Process(target=run_group)", "Process(target=run_group)", grouped=True
            ),
            worker_lines(plan, depth=2),
            "    results: over the process's own Pipe; then it exits and is joined",
        ]

    def abort(self) -> None:
        """Stop every running process and reap it."""
        self._waiting.clear()
        stop_workers(self._jobs)
