"""``queue``: producers put units on a ``JoinableQueue``; daemon consumers ``get()`` them.

The main process is the producer: it ``put()``s every page and file as it becomes known (the
queue is bounded, so a huge crawl never floods memory). ``workers`` daemon consumer processes,
each with ``threads`` threads, ``get()`` a unit, do it, send the result home over a ``Pipe`` of
their own, and call ``task_done()`` in a ``finally``; at the end the main process ``join()``s
the queue, then tells the consumers to stop. A consumer that dies is noticed through its
sentinel: the unit it had announced is reported lost (and retried), and the queue is replaced
with new consumers, so neither the join nor the other consumers can hang on it.
"""

from __future__ import annotations

import contextlib
import os
import queue as stdlib_queue
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.queues import JoinableQueue
from typing import Any

from yamlcrawl.backends import register
from yamlcrawl.backends.common import (
    Worker,
    death_of,
    mp_context,
    parent_alive,
    read_pipes,
    receive_all,
    run_threads,
    sending_home,
    start_piped,
    stop_workers,
    unit_lines,
    worker_init,
    worker_lines,
)
from yamlcrawl.language.plan import Plan
from yamlcrawl.types import FileResult, Lost, Result, Unit, UnitId, unit_id
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.run import run_unit

PREFETCH = 2  # units queued per consumer thread beyond the one it is working on
HOLD = 0.005  # seconds at most a file's result waits for a batch to go home with


def consume(run: RunContext, tasks: JoinableQueue[Unit | None], connection: Connection) -> None:
    """A consumer process: ``threads`` threads, each looping get / work / task_done."""
    worker_init()
    parent = os.getppid()
    outbox = _Outbox(connection)

    def loop() -> None:
        while True:
            try:
                unit = tasks.get(timeout=HOLD if outbox.holds() else 0.5)
            except stdlib_queue.Empty:
                outbox.flush()
                if not parent_alive(parent):
                    return  # the main process is gone: nobody waits for results
                continue
            try:
                if unit is None:
                    outbox.flush()
                    return
                outbox.send(("start", unit_id(unit)))  # before the work: a death names it
                result = run_unit(run, unit)
                outbox.hold(("done", result), at_once=not isinstance(result, FileResult))
            finally:
                tasks.task_done()

    count = run.plan.threads
    with sending_home(connection):
        if count == 1:
            loop()  # in the process's main thread: no thread of its own needed
        else:
            run_threads(loop, count)


class _Outbox:
    """A consumer's messages home, sent in batches: a file's result waits for the next message
    any thread of the process sends (a unit's announcement), or for ``HOLD`` s at most.

    One message per unit, rather than two (the result, the next announcement): each message
    costs the main process a wake-up, a read and an unpickling. A page's result goes at once,
    since it leads to more units; so does an announcement, which must be home before its unit
    runs, so that a unit that kills its process is known.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._held: list[tuple[str, Any]] = []

    def holds(self) -> bool:
        """Whether a result waits to be sent."""
        return bool(self._held)

    def hold(self, message: tuple[str, Any], at_once: bool) -> None:
        """Send ``message`` with the next batch (``at_once``: now, with what is held)."""
        if at_once:
            self.send(message)
        else:
            with self._lock:
                self._held.append(message)

    def send(self, message: tuple[str, Any]) -> None:
        """Send ``message`` now, after everything held."""
        with self._lock:
            batch, self._held = [*self._held, message], []
            self._connection.send(batch)

    def flush(self) -> None:
        """Send whatever is held."""
        with self._lock:
            if self._held:
                batch, self._held = self._held, []
                self._connection.send(batch)


@dataclass
class _Consumer(Worker):
    working: dict[UnitId, None] = field(default_factory=dict)  # announced, not yet answered


@register("queue")
class QueueBackend:
    """A bounded JoinableQueue feeding ``workers`` daemon consumer processes.

    A consumer that dies may take the queue's lock with it (an idle consumer holds it while it
    waits in ``get()``), after which no consumer gets another unit; so on any death the queue
    and its consumers are replaced, and the units still out are put on the new queue (the dead
    consumer's own unit comes back as lost, to be retried).
    """

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.plan = plan = run.plan
        self.context = mp_context(plan)
        self._outstanding: dict[UnitId, Unit] = {}
        self._consumers: dict[Connection, _Consumer] = {}
        self.tasks = self._start()

    def _start(self) -> JoinableQueue[Unit | None]:
        tasks: JoinableQueue[Unit | None] = self.context.JoinableQueue(self.capacity())
        for _ in range(self.plan.workers):
            parent_end, process = start_piped(self.context, consume, (self.run, tasks))
            self._consumers[parent_end] = _Consumer(process, parent_end)
        return tasks

    def capacity(self) -> int:
        """One unit at work per consumer thread and a few queued behind it."""
        return self.plan.workers * self.plan.threads * (1 + PREFETCH)

    def submit(self, unit: Unit) -> None:
        """``put()`` the unit on the queue."""
        self._outstanding[unit_id(unit)] = unit
        self.tasks.put(unit)

    def poll(self, timeout: float) -> list[Result]:
        """Read what the consumers sent; start over if any consumer died."""
        results: list[Result] = []
        dead: list[_Consumer] = []
        for consumer, messages, ended in read_pipes(self._consumers.values(), timeout):
            results += self._read(consumer, messages)
            if ended:
                dead.append(consumer)
        for consumer in dead:
            results += [
                Lost(self._outstanding.pop(uid), death_of(consumer.process))
                for uid in consumer.working
                if uid in self._outstanding
            ]
        if dead:
            results += self._restart()
        return results

    def _read(self, consumer: _Consumer, batches: list[list[tuple[str, Any]]]) -> list[Result]:
        results: list[Result] = []
        for kind, payload in (message for batch in batches for message in batch):
            if kind == "start":
                consumer.working[payload] = None
            else:
                uid = unit_id(payload.unit)
                consumer.working.pop(uid, None)
                if self._outstanding.pop(uid, None) is not None:
                    results.append(payload)
        return results

    def _restart(self) -> list[Result]:
        """A new queue and new consumers; what the old ones still held is put on it again."""
        results: list[Result] = []
        for connection, consumer in self._consumers.items():
            results += self._read(consumer, receive_all(connection)[0])
        self._shut()
        self.tasks = self._start()
        for unit in self._outstanding.values():
            self.tasks.put(unit)
        return results

    def close(self) -> None:
        """All results are in: ``join()`` the queue, then let the consumers go."""
        self._join_queue()
        for _ in range(self.plan.workers * self.plan.threads):
            with contextlib.suppress(ValueError, OSError):
                self.tasks.put_nowait(None)
        for consumer in self._consumers.values():
            consumer.process.join(2)
        self._shut()

    def _join_queue(self) -> None:
        """``join()`` the queue, unless a consumer dies meanwhile: its count would never close."""
        joiner = threading.Thread(target=self.tasks.join, name="queue-join", daemon=True)
        joiner.start()
        while joiner.is_alive():
            joiner.join(0.1)
            if not all(consumer.process.is_alive() for consumer in self._consumers.values()):
                return

    @classmethod
    def describe(cls, plan: Plan) -> list[str]:
        """Producer, bounded queue, daemon consumers, result pipes."""
        size = plan.workers * plan.threads * (1 + PREFETCH)
        return [
            f"queue: a JoinableQueue feeding {plan.workers} daemon consumer processes",
            "  main process (producer): put()s each unit as it becomes known",
            *unit_lines(plan, "unit", "unit", depth=2),
            f"    JoinableQueue(maxsize={size}): pages and files; put() waits while it is full",
            *(
                f"      consumer {n} (daemon process, threads: {plan.threads}):"
                " get() -> do the unit -> Pipe -> task_done() in finally"
                for n in range(1, plan.workers + 1)
            ),
            worker_lines(plan, depth=3),
            "  main process (coordinator): reads each consumer's Pipe, names files, writes the"
            " manifest, replaces a consumer that dies, join()s the queue at the end",
        ]

    def abort(self) -> None:
        """Stop every consumer now."""
        self._shut()

    def _shut(self) -> None:
        stop_workers(self._consumers)
        self.tasks.cancel_join_thread()  # never block exit on units nobody will read
        self.tasks.close()
