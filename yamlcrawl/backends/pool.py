"""``pool``: ``multiprocessing.Pool(workers)``, ``apply_async`` per unit, ``close()``, ``join()``.

The run context (the plan with it) goes to each worker once, through the pool's
initializer. Pool itself never notices a
worker that dies mid-task (the task just never completes), so each worker writes the id of the
unit it is on to a small file named after its pid; the main process checks those pids, reports
a dead worker's unit lost (then retried), and replaces the pool. Workers of a pool that is
replaced or stopped (SIGTERM) leave without a traceback: an idle one at once, a busy one once
its download has removed its ``.part``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import tempfile
import threading
from functools import partial
from multiprocessing.pool import Pool
from multiprocessing.process import BaseProcess
from pathlib import Path

from yamlcrawl.backends import register
from yamlcrawl.backends.common import (
    STOP_GRACE,
    mp_context,
    stop_processes,
    take_results,
    unit_lines,
    worker_init,
    worker_lines,
)
from yamlcrawl.language.plan import Plan
from yamlcrawl.types import Lost, Result, Unit, UnitId, unit_id
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.run import run_unit

PREFETCH = 2  # tasks queued per worker beyond the one it is working on

_run: RunContext | None = None
_board: Path | None = None
_busy = False  # whether this worker is doing a unit (else it waits in the pool's loop)


def init_worker(run: RunContext, board: str) -> None:
    """Pool initializer: keep the run context, and sign in on the board (so even an idle death
    shows)."""
    global _run, _board
    try:
        worker_init(parent_death_signal=False)  # Pool starts workers from a thread of its own
        signal.signal(signal.SIGTERM, _stop)
    except KeyboardInterrupt:  # the pool was terminated while this worker was starting
        os._exit(0)
    _run, _board = run, Path(board)
    (_board / str(os.getpid())).write_text("null")


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (the pool is replaced, or the run stops): a unit at work is interrupted, so a
    download removes its ``.part`` on the way out; an idle worker, in the pool's own loop
    (where a KeyboardInterrupt would print a traceback), just leaves."""
    if _busy:
        raise KeyboardInterrupt
    os._exit(0)


def run_task(unit: Unit) -> Result:
    """One ``apply_async`` task: note the unit on the board, then do it."""
    global _busy
    assert _run is not None and _board is not None
    (_board / str(os.getpid())).write_text(json.dumps(unit_id(unit)))
    _busy = True
    try:
        return run_unit(_run, unit)
    except KeyboardInterrupt:  # stopped: what the unit leaves is cleaned up by now
        os._exit(1)
    finally:
        _busy = False


@register("pool")
class PoolBackend:
    """``Pool(workers)`` with ``apply_async`` for every unit.

    A worker that dies may take the pool's task-queue lock with it, after which no worker gets
    another task; so on any death the whole pool is replaced and the units still out are
    applied to the new one (the dead worker's own unit comes back as lost, to be retried).
    """

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.plan = plan = run.plan
        self.context = mp_context(plan)
        self._results: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self._outstanding: dict[UnitId, Unit] = {}
        self.board, self.pool = self._new_pool()

    def _new_pool(self) -> tuple[str, Pool]:
        board = tempfile.mkdtemp(prefix="yamlcrawl-pool-")
        pool = self.context.Pool(
            self.plan.workers, initializer=init_worker, initargs=(self.run, board)
        )
        return board, pool

    def capacity(self) -> int:
        """One task at work per worker and a few queued behind it."""
        return self.plan.workers * (1 + PREFETCH)

    def submit(self, unit: Unit) -> None:
        """``apply_async`` the unit; its result arrives through a callback."""
        self._outstanding[unit_id(unit)] = unit
        self._apply(unit)

    def _apply(self, unit: Unit) -> None:
        self.pool.apply_async(
            run_task,
            (unit,),
            callback=self._results.put,
            error_callback=partial(self._task_raised, unit),
        )

    def _task_raised(self, unit: Unit, exc: BaseException) -> None:
        self._results.put(Lost(unit, f"the pool task raised {type(exc).__name__}: {exc}"))

    def poll(self, timeout: float) -> list[Result]:
        """Results in by now, and units whose worker died."""
        results = take_results(self._results, timeout)
        for result in results:
            self._outstanding.pop(unit_id(result.unit), None)
        lost = self._lost_to_dead_workers()
        if lost is not None:
            self._replace_pool()
        return results + (lost or [])

    def _lost_to_dead_workers(self) -> list[Result] | None:
        """The units of workers that died, or None when every worker lives."""
        lost: list[Result] | None = None
        for note in Path(self.board).iterdir():
            pid = int(note.name)
            if _alive(pid):
                continue
            lost = lost or []
            with contextlib.suppress(OSError, ValueError, TypeError):
                kind, key = json.loads(note.read_text())
                uid = (kind, tuple(key))
                if uid in self._outstanding:
                    unit = self._outstanding.pop(uid)
                    lost.append(Lost(unit, f"pool worker process {pid} died"))
            note.unlink(missing_ok=True)
        return lost

    def _replace_pool(self) -> None:
        _stop_pool(self.pool, self.board)
        self.board, self.pool = self._new_pool()
        for unit in self._outstanding.values():
            self._apply(unit)

    def close(self) -> None:
        """``close()`` and ``join()``: every task has its result by now."""
        self.pool.close()
        self.pool.join()
        shutil.rmtree(self.board, ignore_errors=True)

    @classmethod
    def describe(cls, plan: Plan) -> list[str]:
        """Pool size, what is applied, how results come back."""
        outstanding = plan.workers * (1 + PREFETCH)
        return [
            f"pool: multiprocessing.Pool({plan.workers}), the plan handed to each worker once"
            " by its initializer",
            f"  main process: apply_async(run_task, (unit,)), at most {outstanding} outstanding;"
            " close() and join() at the end",
            *unit_lines(plan, "task", "task"),
            f"  {plan.workers} pool worker processes: one task at a time each",
            *(f"    pool worker {n}" for n in range(1, plan.workers + 1)),
            worker_lines(plan, depth=2).replace(f"{plan.threads} threads", "1 thread"),
            "  main process (coordinator): results through the pool's callback; names files,"
            " writes the manifest",
        ]

    def abort(self) -> None:
        """``terminate()`` the pool: its workers are stopped and reaped."""
        _stop_pool(self.pool, self.board)


def _stop_pool(pool: Pool, board: str) -> None:
    """``terminate()`` the pool, and make sure it ends even if a dead worker holds its lock.

    ``Pool.terminate`` first takes the task queue's lock, which a worker killed at the wrong
    moment holds forever: then the workers are stopped here directly.
    """
    stopper = threading.Thread(target=pool.terminate, name="pool-terminate", daemon=True)
    stopper.start()
    stopper.join(STOP_GRACE)
    if stopper.is_alive():
        stop_processes(_workers_of(pool))
    shutil.rmtree(board, ignore_errors=True)


def _workers_of(pool: Pool) -> list[BaseProcess]:
    # Pool keeps its worker processes in a private list; it has been there since Python 2.6.
    workers: list[BaseProcess] = getattr(pool, "_pool", [])
    return list(workers)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still exists (the pool reaps its dead workers within a moment)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
