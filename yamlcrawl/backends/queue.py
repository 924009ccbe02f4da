"""``queue``: producers put units on a ``JoinableQueue``; daemon consumers ``get()`` them.

The main process is the producer: it ``put()``s every page and file as it becomes known (the
queue is bounded, so a huge crawl never floods memory). ``workers`` daemon consumer processes,
each with ``threads`` threads, ``get()`` a unit, do it, send the result home over a ``Pipe`` of
their own, and call ``task_done()`` in a ``finally``; at the end the main process ``join()``s
the queue, then tells the consumers to stop. A consumer that dies is noticed through its
sentinel: the unit it had announced is reported lost (and retried), and a new consumer takes
its place, so the join can never hang on it.
"""

from __future__ import annotations

import contextlib
import os
import queue as stdlib_queue
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.queues import JoinableQueue
from typing import Any

from yamlcrawl.backends import register
from yamlcrawl.backends.common import (
    death_of,
    mp_context,
    parent_alive,
    receive_all,
    start_process,
    stop_processes,
    unit_lines,
    worker_init,
    worker_lines,
)
from yamlcrawl.plan import Plan
from yamlcrawl.work import Lost, Result, Unit, UnitId, run_unit, unit_id

PREFETCH = 2  # units queued per consumer thread beyond the one it is working on


def consume(plan: Plan, tasks: JoinableQueue[Unit | None], connection: Connection) -> None:
    """A consumer process: ``threads`` threads, each looping get / work / task_done."""
    worker_init()
    parent = os.getppid()
    lock = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with lock:
            connection.send(message)

    def loop() -> None:
        while True:
            try:
                unit = tasks.get(timeout=0.5)
            except stdlib_queue.Empty:
                if not parent_alive(parent):
                    return  # the main process is gone: nobody waits for results
                continue
            try:
                if unit is None:
                    return
                send(("start", unit_id(unit)))
                send(("done", run_unit(plan, unit)))
            finally:
                tasks.task_done()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(plan.threads)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        connection.close()


@dataclass
class _Consumer:
    process: BaseProcess
    connection: Connection
    working: dict[UnitId, None] = field(default_factory=dict)


@register("queue")
class QueueBackend:
    """A bounded JoinableQueue feeding ``workers`` daemon consumer processes."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.context = mp_context(plan)
        self.tasks: JoinableQueue[Unit | None] = self.context.JoinableQueue(self.capacity())
        self._consumers: dict[Connection, _Consumer] = {}
        self._outstanding: dict[UnitId, Unit] = {}
        self._deaths = 0
        for _ in range(plan.workers):
            self._start_consumer()

    def _start_consumer(self) -> None:
        parent_end, child_end = self.context.Pipe(duplex=False)
        process = start_process(self.context, consume, (self.plan, self.tasks, child_end))
        child_end.close()
        self._consumers[parent_end] = _Consumer(process, parent_end)

    def capacity(self) -> int:
        """One unit at work per consumer thread and a few queued behind it."""
        return self.plan.workers * self.plan.threads * (1 + PREFETCH)

    def submit(self, unit: Unit) -> None:
        """``put()`` the unit on the queue."""
        self._outstanding[unit_id(unit)] = unit
        self.tasks.put(unit)

    def poll(self, timeout: float) -> list[Result]:
        """Read what the consumers sent; replace any consumer that died."""
        handles: list[Connection | int] = [*self._consumers]
        handles += [consumer.process.sentinel for consumer in self._consumers.values()]
        wait(handles, timeout)
        results: list[Result] = []
        for connection, consumer in list(self._consumers.items()):
            messages, closed = receive_all(connection)
            results += self._read(consumer, messages)
            if closed or not consumer.process.is_alive():
                results += self._bury(connection, consumer)
        return results

    def _read(self, consumer: _Consumer, messages: list[tuple[str, Any]]) -> list[Result]:
        results: list[Result] = []
        for kind, payload in messages:
            if kind == "start":
                consumer.working[payload] = None
            else:
                uid = unit_id(payload.unit)
                consumer.working.pop(uid, None)
                self._outstanding.pop(uid, None)
                results.append(payload)
        return results

    def _bury(self, connection: Connection, consumer: _Consumer) -> list[Result]:
        """A consumer ended while the run goes on: report its units lost, start another."""
        consumer.process.join(1)
        stop_processes([consumer.process])
        connection.close()
        del self._consumers[connection]
        self._deaths += 1
        lost = [self._outstanding.pop(uid) for uid in consumer.working if uid in self._outstanding]
        self._start_consumer()
        return [Lost(unit, death_of(consumer.process)) for unit in lost]

    def close(self) -> None:
        """All results are in: ``join()`` the queue, then let the consumers go."""
        if self._deaths == 0:  # a consumer killed between its result and task_done() would
            self.tasks.join()  # leave the count one short forever; then the results suffice
        for _ in range(self.plan.workers * self.plan.threads):
            with contextlib.suppress(ValueError, OSError):
                self.tasks.put_nowait(None)
        for consumer in self._consumers.values():
            consumer.process.join(2)
        self._shut()

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
        stop_processes(consumer.process for consumer in self._consumers.values())
        for connection in self._consumers:
            connection.close()
        self._consumers.clear()
        self.tasks.cancel_join_thread()  # never block exit on units nobody will read
        self.tasks.close()
