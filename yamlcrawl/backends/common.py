"""Plumbing the modes share: start methods, worker set-up, pipes, threads, stopping, deaths.

Nothing here decides what a unit does (that is ``yamlcrawl.work.run``) or how units flow (that is
each mode's own module).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import queue as stdlib_queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from yamlcrawl.language.plan import Plan, per
from yamlcrawl.types import Result, Unit
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.run import run_unit

STOP_GRACE = 1.0  # seconds a worker gets to clean up after SIGTERM before SIGKILL
PARENT_CHECK = 0.2  # seconds between a worker's checks that the main process still lives
_PR_SET_PDEATHSIG = 1


def _quiet_until_started() -> None:
    """In a child just forked: until `worker_init` gives it its own handlers, SIGTERM ends it
    silently and Ctrl-C is the main process's, never the parent's handler raising
    KeyboardInterrupt (a pool being terminated signals a worker it forked an instant before,
    whose traceback would otherwise reach the terminal)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_quiet_until_started)


@dataclass
class Worker:
    """A worker process and the main process's end of the pipe it sends results home on."""

    process: BaseProcess
    connection: Connection


W = TypeVar("W", bound=Worker)


def mp_context(plan: Plan) -> BaseContext:
    """The multiprocessing context for the plan's start method (the platform's by default)."""
    return multiprocessing.get_context(plan.start_method)


def start_process(
    context: BaseContext, target: Callable[..., None], args: tuple[Any, ...]
) -> BaseProcess:
    """Start a daemon worker process (a daemon dies with the main process, never orphaned)."""
    # typeshed gives BaseContext no Process attribute; every concrete context has one.
    process: BaseProcess = context.Process(target=target, args=args, daemon=True)  # type: ignore[attr-defined]
    process.start()
    return process


def start_piped(
    context: BaseContext, target: Callable[..., None], args: tuple[Any, ...]
) -> tuple[Connection, BaseProcess]:
    """Start a worker process with a one-way pipe home (its end passed after ``args``).

    Returns the main process's end of the pipe, and the process.
    """
    parent_end, child_end = context.Pipe(duplex=False)
    process = start_process(context, target, (*args, child_end))
    child_end.close()
    return parent_end, process


@contextlib.contextmanager
def sending_home(connection: Connection) -> Iterator[None]:
    """A worker process's work: SIGTERM (KeyboardInterrupt) ends it quietly; the pipe closes."""
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        connection.close()


def worker_init(parent_death_signal: bool = True) -> None:
    """First thing in every worker process.

    Ctrl-C reaches the whole process group, but only the main process acts on it: it stops the
    workers itself. SIGTERM (how it stops them) becomes KeyboardInterrupt, so a download in
    progress removes its ``.part`` file on the way out. On Linux a worker also gets SIGTERM if
    the main process dies, so no worker outlives a killed run (``parent_death_signal``; Linux
    sends it when the *thread* that started the worker ends, so only for the main thread's).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if parent_death_signal and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = os.getppid()
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()


def _watch_parent(parent: int) -> None:
    """If the main process is killed outright, stop as if told to (everywhere, not only Linux).

    An orphan must not go on writing files that a rerun is about to write too.
    """
    while parent_alive(parent):
        time.sleep(PARENT_CHECK)
    os.kill(os.getpid(), signal.SIGTERM)  # KeyboardInterrupt: the download removes its .part
    time.sleep(STOP_GRACE)
    os._exit(1)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_processes(processes: Iterable[BaseProcess], grace: float = STOP_GRACE) -> None:
    """SIGTERM every live process, SIGKILL what is left after ``grace`` s, and reap them all."""
    processes = list(processes)
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(OSError):
                process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(deadline - time.monotonic(), 0.01))
    for process in processes:
        if process.is_alive():
            with contextlib.suppress(OSError):
                process.kill()
            process.join(1.0)


def stop_workers(workers: MutableMapping[Connection, W]) -> None:
    """Stop and reap every worker process, close its pipe, and forget it."""
    stop_processes(worker.process for worker in workers.values())
    for connection in workers:
        connection.close()
    workers.clear()


def death_of(process: BaseProcess) -> str:
    """How a worker process ended, in words."""
    if process.exitcode is None:
        # Its pipe can close a moment before the kernel has it reaped: wait for its status.
        process.join(STOP_GRACE)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker process {process.pid} was killed by {name}"
    return f"worker process {process.pid} exited with code {code} before finishing"


def receive_all(connection: Connection) -> tuple[list[Any], bool]:
    """Everything waiting on ``connection``, and whether the other end is gone."""
    messages: list[Any] = []
    try:
        while connection.poll():
            messages.append(connection.recv())
    except (EOFError, OSError):
        return messages, True
    except Exception:  # a message cut short by a killed sender does not unpickle
        return messages, True
    return messages, False


def read_pipes(workers: Collection[W], timeout: float) -> list[tuple[W, list[Any], bool]]:
    """Wait up to ``timeout`` s; then, for each worker with news, what it sent and whether it ended.

    Only what is ready is read: polling every pipe and reaping every process at each wake-up
    (twice per unit) cost the main process more than all the rest of its work.
    """
    handles: list[Connection | int] = [worker.connection for worker in workers]
    handles += [worker.process.sentinel for worker in workers]
    ready = set(wait(handles, timeout))
    news: list[tuple[W, list[Any], bool]] = []
    for worker in workers:
        messages: list[Any] = []
        closed = False
        if worker.connection in ready:
            messages, closed = receive_all(worker.connection)
        ended = closed or worker.process.sentinel in ready
        if worker.connection in ready or ended:
            news.append((worker, messages, ended))
    return news


def run_in_threads(
    run: RunContext, units: Sequence[Unit], threads: int, send: Callable[[Result], None]
) -> None:
    """Run ``units`` on up to ``threads`` threads of this process, sending each result."""
    if threads <= 1 or len(units) <= 1:
        for unit in units:
            send(run_unit(run, unit))
        return
    lock = threading.Lock()
    pending = list(reversed(units))

    def drain() -> None:
        while True:
            with lock:
                if not pending:
                    return
                unit = pending.pop()
            result = run_unit(run, unit)
            with lock:
                send(result)

    run_threads(drain, min(threads, len(units)))


def start_threads(target: Callable[[], None], count: int) -> list[threading.Thread]:
    """Start ``count`` daemon threads (``thread 1``...) running ``target``."""
    threads = [
        threading.Thread(target=target, name=f"thread {n}", daemon=True)
        for n in range(1, count + 1)
    ]
    for thread in threads:
        thread.start()
    return threads


def run_threads(target: Callable[[], None], count: int) -> None:
    """Run ``target`` on ``count`` daemon threads (``thread 1``...) and wait for them all."""
    for thread in start_threads(target, count):
        thread.join()


def unit_lines(
    plan: Plan, page_unit: str, file_unit: str, depth: int = 2, grouped: bool = False
) -> list[str]:
    """What each page and each download rule becomes, in a mode's own words, indented.

    ``grouped``: one unit holds all the files a page asks for under one rule (``process``),
    rather than one file.
    """
    pad = "  " * depth
    lines: list[str] = []
    for stage in plan.stages:
        lines.append(f"{pad}{page_unit}: a page of {stage.name} ({per(plan, stage)})")
        item = f"per {stage.as_}" if stage.as_ else "per page"
        for rule in stage.downloads:
            what = "all the files" if grouped else f"one file ({item})"
            lines.append(
                f"{pad}{file_unit}: {what} of download [{rule.index}] of a {stage.name} page"
                f" -> {rule.save_as}"
            )
    return lines


def worker_lines(plan: Plan, depth: int = 3) -> str:
    """What every worker process is, in every process mode."""
    threads = f"{plan.threads} threads" if plan.threads > 1 else "1 thread"
    method = plan.start_method or multiprocessing.get_start_method()
    return (
        f"{'  ' * depth}each: started by {method}, its own HTTP session, {threads},"
        " SIGINT ignored (the main process stops it)"
    )


def take_results(results: stdlib_queue.SimpleQueue[Result], timeout: float) -> list[Result]:
    """Wait up to ``timeout`` s for a first result, then take every other one waiting."""
    taken: list[Result] = []
    with contextlib.suppress(stdlib_queue.Empty):
        taken.append(results.get(timeout=timeout))
    while not results.empty():
        taken.append(results.get())
    return taken


def parent_alive(parent: int) -> bool:
    """False once the process that started this one has gone (its children are re-parented)."""
    return os.getppid() == parent
