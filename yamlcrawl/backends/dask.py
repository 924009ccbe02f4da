"""``dask``: the same units as Dask tasks on a ``distributed`` cluster (``yamlcrawl[dask]``).

The main process is a Dask client: it submits the units as tasks (``run_unit`` over the run
context and the units, plain data as in every mode; a page a task, downloads in batches) and
takes results back as futures finish; the coordinator names files and keeps the manifest and
resume state there, as in every mode.
Without ``run.scheduler`` the run starts a local cluster of ``workers`` processes with
``threads`` threads each, started by ``run.start_method``, else by Dask's default, spawn
(fork and forkserver are faster, but each hung a local cluster in the test suite);
with it, the run joins that cluster, whose workers must see the output folder at the same path
(checked at start). The scheduler runs a task again elsewhere when its
worker dies; a task that has killed several workers comes back as lost (retried once more).
A worker that falls silent (a partition) is dropped after 5 s without a heartbeat when the
scheduler runs with ``FAST_FAILOVER``'s settings, and its tasks run elsewhere. Losing the
scheduler stops the run as an interrupt would (exit 130), with one line; a rerun resumes.
Progress events travel as Dask events on a topic of the run, which the client relays to the
display.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
import uuid
from asyncio import CancelledError
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yamlcrawl.backends import BackendError, register
from yamlcrawl.backends.common import STOP_GRACE, unit_lines
from yamlcrawl.language.plan import Plan
from yamlcrawl.shown import shown
from yamlcrawl.storage.outdir import private_path
from yamlcrawl.types import ClusterShape, Lost, PageUnit, Result, Unit, unit_id
from yamlcrawl.work.cancel import stop_run
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.events import EventSender, event_from_topic
from yamlcrawl.work.run import run_unit

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

PREFETCH = 2  # tasks handed out per worker thread beyond the one it is working on
# Downloads per task, at most. A Dask task costs several ms of CPU between client, scheduler
# and worker (a file costs ~1.3 ms), so files travel in batches; a page is always a task of its
# own, run first, as it leads to more work.
BATCH = 32
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler
WORKERS_TIMEOUT = 30  # seconds a scheduler gets to have at least one worker
CAPACITY_EVERY = 5.0  # seconds between two looks at how many threads the cluster has
PROBE_TIMEOUT = 10.0  # seconds each worker gets to answer the start check
GATHER_WAIT = 10.0  # seconds a gather waits before the workers it may need are looked for
PLAN_TIMEOUT = 3  # seconds `yamlcrawl plan` waits for a scheduler to answer
INSTALL = "pip install 'yamlcrawl[dask]'"
# Dask's settings for a cluster whose machines can drop off the network. With Dask's defaults a
# partitioned worker holds its tasks for 30 s or more (a worker is dropped after 5 minutes of
# silence, a dead connection noticed after 30 s); with these, the scheduler drops a worker that
# has not sent a heartbeat (every 0.5 s on a small cluster) for 5 s and runs its tasks elsewhere.
# The client uses them for its own connections; a cluster's scheduler and workers need them in
# their configuration (`DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL=5s` and so on).
FAST_FAILOVER = {
    "distributed.scheduler.worker-ttl": "5s",
    "distributed.comm.timeouts.connect": "5s",
    "distributed.comm.timeouts.tcp": "11s",  # the least Dask accepts
}


def run_task(run: RunContext, units: list[Unit]) -> list[Result]:
    """One Dask task: its units one after another. Unpickled here, the run's cancel token is
    this worker's token for the run, which ``stop_run`` stops."""
    return [run_unit(run, unit) for unit in units]


def probe_output(folder: str, token: str) -> tuple[bool, str]:
    """On a worker: does it see the client's probe file, and can it leave one of its own?

    Returns (True, the name of its file) or (False, what went wrong).
    """
    state = private_path(folder)
    theirs = state / f"probe-{token}"
    try:
        if theirs.read_text("utf-8") != token:
            return False, f"{theirs} there holds something else"
    except OSError as exc:
        return False, f"it cannot read {theirs}, which the client wrote ({exc.strerror or exc})"
    mine = state / f"probe-{token}-{socket.gethostname()}-{os.getpid()}"
    try:
        mine.write_text(token, "utf-8")
    except OSError as exc:
        return False, f"it cannot write in {state} ({exc.strerror or exc})"
    return True, mine.name


@dataclass(frozen=True)
class Task:
    """Units submitted together, under one key, and their future."""

    name: str
    units: list[Unit]
    future: Future[list[Result]]


@register("dask")
class DaskBackend:
    """A Dask client: a task per page, downloads in batches, results gathered as futures finish."""

    def __init__(self, run: RunContext) -> None:
        distributed = _import_distributed()
        import dask

        self._settings: dask.config.set | None = dask.config.set(FAST_FAILOVER)  # to _shut_down
        self.plan = plan = run.plan
        self.run = run.run
        self.cluster: LocalCluster | None = None
        self._config: Any = None  # the Dask config a local cluster's workers start under
        self.client = self._connect(distributed, plan)
        try:
            # Workers that did not answer the start check get no task (None: every worker);
            # when all that did are gone, the workers there then are checked (_check_again).
            # A dry run's workers write nothing in the output folder: it is not even looked at;
            # nor do they with an object store (output.store): they upload to it.
            self._silent: set[str] = set()  # workers already warned about
            shared = run.writes and plan.output.store is None
            self.allowed = (
                check_shared_output(self.client, plan.output.dir, self._silent) if shared else None
            )
            topic = None
            if run.events.address is not None:  # someone watches: relay the workers' events
                topic = self.run
                self.client.subscribe_topic(topic, partial(_relay, run.events))
        except BaseException:
            self._shut_down()
            raise
        self.worker_run = replace(run, events=EventSender(topic))  # workers log on the topic
        self._done: queue.SimpleQueue[Task] = queue.SimpleQueue()
        self._tasks: dict[str, Task] = {}
        self._files: list[Unit] = []  # downloads waiting to fill a batch
        self._numbers = itertools.count()
        self._threads, self._counted = self._cluster_threads(), time.monotonic()

    def _connect(self, distributed: Any, plan: Plan) -> Client:
        """Join the scheduler named in the plan, or start a local cluster and join that."""
        address = plan.scheduler
        if address is None:
            self._config = _start_method_config(plan)
            try:
                self.cluster = _local_cluster(distributed, plan)
            except BaseException:
                self._shut_down()
                raise
            address = self.cluster.scheduler_address
        try:
            client: Client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self._shut_down()
            raise BackendError(
                f"dask mode cannot reach the scheduler at {address} ({exc}) — expected a"
                f" running `dask scheduler` there, or no run.scheduler for a local cluster"
            ) from None
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except (OSError, TimeoutError):
            client.close()
            self._shut_down()
            raise BackendError(
                f"dask mode: no worker joined the scheduler at {address} within"
                f" {WORKERS_TIMEOUT} s — expected `dask worker {address}` on each machine"
            ) from None
        return client

    def cluster_shape(self) -> ClusterShape | None:
        """The cluster as it is now: its scheduler, and the workers this run may use (None:
        the scheduler did not answer; the run finds out soon enough)."""
        try:
            shape = cluster_shape(self.client.scheduler_info(), self.cluster is not None)
        except Exception:  # a closed connection, a timeout: whatever it is, no shape
            return None
        if self.allowed is None:
            return shape
        kept = tuple(worker for worker in shape.workers if worker[0] in self.allowed)
        return replace(shape, workers=kept)

    def _cluster_threads(self) -> int:
        threads: dict[str, int] = self.client.nthreads()
        if threads and self._checked_all_gone(threads):
            self._check_again()
        if self.allowed is not None:
            threads = {worker: n for worker, n in threads.items() if worker in self.allowed}
        return max(sum(threads.values()), 1)

    def _checked_all_gone(self, workers: Iterable[str]) -> bool:
        """Whether some workers failed the start check and none that passed it is among
        ``workers`` (the cluster's now)."""
        return self.allowed is not None and not set(self.allowed) & set(workers)

    def _check_again(self) -> None:
        """Every worker that passed the start check is gone (a restarted one comes back under
        a new address), and the tasks restricted to them would wait forever: check the
        workers there now, and send the waiting tasks again, to those that answer. If none
        does, the tasks wait, and the next look at the cluster checks again."""
        try:
            allowed = check_shared_output(self.client, self.plan.output.dir, self._silent)
        except BackendError:
            return
        self.allowed = allowed
        for task in list(self._tasks.values()):
            del self._tasks[task.name]  # its cancellation is not a loss (see poll)
            task.future.cancel()
            self._send(task.units, priority=1 if isinstance(task.units[0], PageUnit) else 0)

    def capacity(self) -> int:
        """Batches at work on every worker thread of the cluster and a few waiting."""
        if time.monotonic() - self._counted >= CAPACITY_EVERY:  # workers come and go
            self._threads, self._counted = self._cluster_threads(), time.monotonic()
        return self._threads * BATCH * (1 + PREFETCH)

    def submit(self, unit: Unit) -> None:
        """A page goes out at once; downloads wait for the next poll, to go in batches."""
        if isinstance(unit, PageUnit):
            self._send([unit], priority=1)
        else:
            self._files.append(unit)

    def _send_files(self) -> None:
        """The waiting downloads, in batches as large as keep every free task slot busy (full
        ones once there is work enough: a few files still spread over the threads)."""
        if not self._files:
            return
        free = max(self._threads * (1 + PREFETCH) - len(self._tasks), 1)
        size = min(BATCH, -(-len(self._files) // free))
        for start in range(0, len(self._files), size):
            self._send(self._files[start : start + size])
        self._files = []

    def _send(self, units: list[Unit], priority: int = 0) -> None:
        """Submit one task with a key of its own (a retried unit goes out under a new one)."""
        kind, key = unit_id(units[0])
        name = f"{self.run}-{kind}-{'.'.join(map(str, key))}-{next(self._numbers)}"
        future = self.client.submit(
            run_task,
            self.worker_run,
            units,
            key=name,
            pure=False,
            priority=priority,
            workers=self.allowed,
        )
        task = Task(name, units, future)
        self._tasks[name] = task
        future.add_done_callback(lambda _: self._done.put(task))

    def poll(self, timeout: float) -> list[Result]:
        """Results of the tasks finished by now, fetched together."""
        self._send_files()
        finished: list[Task] = []
        with contextlib.suppress(queue.Empty):
            finished.append(self._done.get(timeout=timeout))
        while not self._done.empty():
            finished.append(self._done.get())
        # Tasks cancelled that the run did not cancel: Dask cancels a client's tasks when it loses
        # the scheduler, sometimes a moment before the client's status says so.
        cancelled = any(task.future.status == "cancelled" for task in finished)
        self._check_scheduler(wait=LOSS_WAIT if cancelled else 0.0)
        finished = [task for task in finished if self._tasks.pop(task.name, None) is not None]
        done = [task.future for task in finished if task.future.status == "finished"]
        watch = self._watch_gather(done)
        try:
            with _quiet("distributed.client"):  # "Couldn't gather ... rescheduling": no news
                gathered = self.client.gather(done)
        except (OSError, CancelledError, FutureCancelled):  # Dask's, by version
            self._check_scheduler(wait=LOSS_WAIT)  # gone while gathering: one line, exit 130
            return [lost for task in finished for lost in _lost(task)]  # else: tried again
        finally:
            if watch is not None:
                watch.cancel()
        results: list[Result] = [r for batch in gathered for r in batch]
        for task in finished:
            if task.future.status != "finished":
                results += _lost(task)
        return results

    def _watch_gather(self, gathering: list[Future[list[Result]]]) -> threading.Timer | None:
        """When tasks are held to the workers that passed the start check: a timer that, after
        GATHER_WAIT, cancels the gather if none of those is left. A result lost with its worker
        is computed again only where its task may run, which is then nowhere, and the gather
        would wait forever; cancelled, its tasks count as lost and go out again to the workers
        checked then."""
        if self.allowed is None or not gathering:
            return None
        watch = threading.Timer(GATHER_WAIT, self._cancel_if_all_gone, (gathering,))
        watch.daemon = True
        watch.start()
        return watch

    def _cancel_if_all_gone(self, gathering: list[Future[list[Result]]]) -> None:
        with contextlib.suppress(Exception):  # the scheduler gone: the gather says so
            if self._checked_all_gone(self.client.nthreads()):
                self.client.cancel(gathering)

    def _check_scheduler(self, wait: float = 0.0) -> None:
        """Stop the run as an interrupt (exit 130), with one line, when the connection to the
        scheduler is lost (looking for up to ``wait`` seconds): Dask cancels every task of a
        client that lost it, and a scheduler that comes back knows none of them. What was
        saved stays; a rerun resumes."""
        deadline = time.monotonic() + wait
        while self.client.status == "running":
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)
        address = self.client.scheduler.address if self.client.scheduler is not None else "?"
        line = (
            f"the dask scheduler at {address} was lost mid-run; the run stops here as if"
            " interrupted — the files saved are kept, and a rerun with a running scheduler"
            " fetches the rest"
        )
        # Dask logs its lost connections (and their tracebacks) as the client winds down: the
        # run is ending, and this line says all there is to say.
        logging.disable(logging.CRITICAL)
        print(f"yamlcrawl: {shown(line)}", file=sys.stderr)
        raise KeyboardInterrupt

    def close(self) -> None:
        """Every task has its result: leave the cluster (a local one is shut down)."""
        self._shut_down()

    def abort(self) -> None:
        """Cancel what is queued and stop what runs, then leave.

        A local cluster's workers are killed outright (shutting them down politely waits for
        their tasks, and the ones Ctrl-C reached answer nothing more); a shared cluster's are
        told to stop this run's downloads, which give up at their next chunk.
        """
        if self.client.status != "running":  # the scheduler is gone, and the tasks with it
            self._shut_down()
            return
        with contextlib.suppress(Exception):
            self.client.cancel([task.future for task in self._tasks.values()], force=True)
        if self.cluster is not None:
            from distributed.core import Status

            nannies = list(self.cluster.workers.values())
            for nanny in nannies:  # so that a worker's death closes its nanny, not restarts it
                nanny.status = Status.closing_gracefully
            _kill(nanny.pid for nanny in nannies if nanny.pid)
        else:
            with contextlib.suppress(Exception):
                self.client.run(stop_run, self.run, on_error="ignore", callback_timeout=STOP_GRACE)
        self._shut_down()

    def _shut_down(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception), _quiet("distributed.client"):
                client.close()  # which logs a traceback when the scheduler is gone
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()
            self.cluster = None
        if self._config is not None:  # Dask's config as it was before the local cluster
            self._config.__exit__(None, None, None)
            self._config = None
        settings = getattr(self, "_settings", None)
        if settings is not None:
            self._settings = None
            settings.__exit__(None, None, None)  # the process's Dask settings as they were

    @classmethod
    def describe(cls, plan: Plan) -> list[str]:
        """Scheduler, workers, and how units flow between them."""
        if plan.scheduler is None:
            threads = "1 thread" if plan.threads == 1 else f"{plan.threads} threads"
            method = local_start_method(plan)
            where = (
                f"a local cluster started for the run: {plan.workers} worker processes"
                f" × {threads}, started by {method}, each under a nanny that restarts it if"
                " it dies"
            )
        else:
            where = _found_cluster(plan.scheduler)
        return [
            f"dask: {where}",
            "  main process (Dask client + coordinator): client.submit(run_task, run, units),"
            f" a task per page, downloads in batches of up to {BATCH}, at most"
            f" {BATCH * (1 + PREFETCH)} units per worker thread outstanding; results gathered"
            " as futures finish; names files, writes the manifest and resume state",
            "  scheduler: hands tasks to workers; a task whose worker dies runs again on"
            " another (after several deaths it comes back as lost, and is tried once more)",
            *unit_lines(plan, "task", "task"),
            "  workers: run tasks on their threads, each with its own HTTP connections;"
            " write files straight into the output folder (a shared file system on a cluster,"
            " checked at start)",
            "    progress: Dask events on the run's topic, relayed by the client to the display",
        ]


def cluster_shape(info: dict[str, Any], local: bool) -> ClusterShape:
    """A cluster's shape from what its scheduler says of itself (``scheduler_info()``)."""
    workers = tuple(
        (address, int(worker.get("nthreads", 0)))
        for address, worker in sorted(info.get("workers", {}).items())
    )
    return ClusterShape(str(info.get("address", "?")), workers, local)


def _found_cluster(address: str) -> str:
    """`plan`'s line for a scheduler: its cluster as it answers now, or why it did not."""
    try:
        distributed = _import_distributed()
    except BackendError:
        return f"the cluster of the scheduler at {address} (not asked: {INSTALL})"
    try:
        with distributed.Client(address, timeout=PLAN_TIMEOUT) as client:
            shape = cluster_shape(client.scheduler_info(), local=False)
    except (OSError, TimeoutError) as exc:
        return (
            f"the cluster of the scheduler at {address}: could not reach it within"
            f" {PLAN_TIMEOUT} s ({type(exc).__name__})"
        )
    return f"the cluster of {shape.text()}"


def check_shared_output(
    client: Client, folder: str, warned: set[str] | None = None
) -> list[str] | None:
    """Make sure every worker sees ``folder`` as the client does and can write there.

    Each worker is asked on its own, and gets ``PROBE_TIMEOUT`` seconds to answer. Workers that
    do not (stopped, or unreachable from here) are left out with a one-line warning on stderr
    (once: ``warned`` keeps the workers warned about).

    Returns:
        The workers that answered, or None when every worker did (then any worker may run
        tasks, including those that join later).

    Raises:
        BackendError: a worker does not see the client's probe file, or cannot write; or no
            worker answered at all.
    """
    token = uuid.uuid4().hex
    state = private_path(folder)
    state.mkdir(parents=True, exist_ok=True)
    probe = state / f"probe-{token}"
    probe.write_text(token, "utf-8")
    try:
        answers, silent = _probe_each(client, folder, token)
        for address, (ok, said) in sorted(answers.items()):
            if ok and not (state / said).is_file():
                ok, said = False, f"the file it wrote there ({said}) is not in the client's"
            if not ok:
                raise BackendError(
                    f"dask mode: the worker at {address} does not share the output folder"
                    f" {folder}: {said} — on a cluster, the output folder must be on a file"
                    " system every worker mounts at the same path, writable by the workers"
                )
    finally:
        for leftover in state.glob(f"probe-{token}*"):
            leftover.unlink(missing_ok=True)
    return _answered(client, answers, silent, set() if warned is None else warned)


def _answered(
    client: Client, answers: dict[str, Any], silent: dict[str, str], warned: set[str]
) -> list[str] | None:
    """The workers to use, after a warning for each silent one; stop if none answered."""
    within = f"within {PROBE_TIMEOUT:g} s"
    if not answers:
        scheduler = client.scheduler.address if client.scheduler is not None else "?"
        why = "; ".join(f"{w}: {reason or 'no answer'}" for w, reason in sorted(silent.items()))
        raise BackendError(
            f"dask mode: no worker of the scheduler at {scheduler} answered {within} ({why})"
            " — expected its workers running and reachable from here"
        )
    if not silent:
        return None
    others = f"{len(answers)} other{'s' if len(answers) > 1 else ''}"
    for worker, reason in sorted(silent.items()):
        if worker in warned:
            continue
        warned.add(worker)
        line = f"the dask worker at {worker} did not answer {within}"
        line += f" ({reason})" if reason else ""
        print(f"yamlcrawl: warning: {shown(line)}; going on with the {others}", file=sys.stderr)
    return sorted(answers)


def _probe_each(
    client: Client, folder: str, token: str
) -> tuple[dict[str, tuple[bool, str]], dict[str, str]]:
    """Every worker's answer to the start check, asked all at once: (answers, the workers that
    gave none, with why)."""
    workers = sorted(client.scheduler_info()["workers"])
    with ThreadPoolExecutor(max_workers=max(min(len(workers), 32), 1)) as asking:
        asked = {w: asking.submit(_probe_one, client, w, folder, token) for w in workers}
    answers: dict[str, tuple[bool, str]] = {}
    silent: dict[str, str] = {}
    for worker, future in asked.items():
        answer = future.result()
        if isinstance(answer, str):
            silent[worker] = answer
        else:
            answers[worker] = answer
    return answers, silent


def _probe_one(client: Client, worker: str, folder: str, token: str) -> tuple[bool, str] | str:
    """One worker's answer, or why it gave none: the exception's name and message ("" when it
    was only slow to answer)."""
    try:
        answer = client.run(
            probe_output,
            folder,
            token,
            workers=[worker],
            on_error="return",
            callback_timeout=PROBE_TIMEOUT,
        ).get(worker)
    except TimeoutError:
        return ""
    except Exception as exc:  # a closed connection, a refused one: whatever it is, no answer
        answer = exc
    if isinstance(answer, BaseException):
        return f"{type(answer).__name__}: {answer}".rstrip(": ")
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return "no answer"
    return bool(answer[0]), str(answer[1])


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """``logger`` says nothing (below CRITICAL) for a while."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _relay(sender: EventSender, logged: tuple[float, object]) -> None:
    """A worker's event, from the run's Dask topic to the display's socket."""
    event = event_from_topic(logged[1])
    if event is not None:
        sender.emit(event)


LOSS_WAIT = (
    2.0  # seconds a cancelled task waits for the client to say whether it lost its scheduler
)


def _lost(task: Task) -> list[Lost]:
    """A task that did not finish (its worker died too often, or it was cancelled): each of its
    units is lost."""
    if task.future.status == "cancelled":
        reason = "the Dask task was cancelled"
    else:
        try:
            error = task.future.exception(timeout=CONNECT_TIMEOUT)
        except Exception as exc:
            error = exc
        reason = f"the Dask task failed: {type(error).__name__}: {error}"
    return [Lost(unit, reason) for unit in task.units]


def _kill(pids: Iterable[int]) -> None:
    """SIGKILL local worker processes and wait (a moment) until they are gone; their nannies
    reap them. A killed download leaves its ``.part``, which the coordinator removes."""
    pids = [pid for pid in pids if pid != os.getpid()]
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + STOP_GRACE
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if _exists(pid)]
        time.sleep(0.02)


def _exists(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def local_start_method(plan: Plan) -> str:
    """How a local cluster's worker processes start: ``run.start_method``, else Dask's own
    default, spawn. Spawn makes each worker import yamlcrawl again (seconds on a small machine,
    benchmarks/dask_startup.py), but fork and forkserver each hung a local cluster made inside
    a busy test process (fork: the client runs threads by then, Dask's loop among them;
    forkserver: at the lowest distributed version), so they are for ``--start-method`` only.
    """
    return plan.start_method or "spawn"


def _start_method_config(plan: Plan) -> Any:
    """Dask's config set so that a local cluster's workers start by `local_start_method`. Set
    for the cluster's life: a nanny reads it at each restart. Returns what puts the config
    back (its ``__exit__``)."""
    import dask

    method = local_start_method(plan)
    return dask.config.set({"distributed.worker.multiprocessing-method": method})


def _local_cluster(distributed: Any, plan: Plan) -> LocalCluster:
    """A cluster of ``workers`` processes on this machine, started for one run."""
    cluster: LocalCluster = distributed.LocalCluster(
        n_workers=plan.workers,
        threads_per_worker=plan.threads,
        processes=True,
        # Its HTTP server (health, metrics; the dashboard if bokeh is installed) on a free
        # port: the default, 8787, may be taken, and None does not turn it off.
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL,  # failures come back as results
    )
    return cluster


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise BackendError(
            f"mode dask needs the distributed package, which is not installed — {INSTALL}"
        ) from None
    return distributed
