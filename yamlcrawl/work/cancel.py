"""A run's cancel token: the one place that says a run was asked to stop.

The CLI's signal handler and a backend's ``abort`` stop the token; the coordinator's loop looks
at it (a KeyboardInterrupt raised inside an at-fork hook is dropped by Python, the token is
not), and downloads in progress look at it between chunks and give up (threads cannot be
killed; processes are stopped with a signal instead).

A token crosses to other processes with the run context. Unpickled, it is that process's token
for the run, the same object for every unit of the run there: so ``stop_run`` on a Dask worker,
which serves whichever runs use its cluster, stops that run's downloads and no other's.
"""

from __future__ import annotations

import os
import threading
import uuid
import weakref


class StoppedError(Exception):
    """A download noticed it was stopped and gave up; its temporary file is already removed."""


class CancelToken:
    """Whether run ``run`` was asked to stop. Set once, never cleared: a new run has a new one.

    Attributes:
        run: The run's id (unique per run; a new one unless given).
        stopped: True once ``stop`` was called (a plain attribute: read once per chunk).
    """

    def __init__(self, run: str | None = None) -> None:
        self.run = run or f"yamlcrawl-{uuid.uuid4().hex[:12]}"
        self.stopped = False

    def stop(self) -> None:
        """Ask the run to stop (from any thread)."""
        self.stopped = True

    def check(self) -> None:
        """Raise StoppedError if the run was asked to stop (called with each chunk)."""
        if self.stopped:
            raise StoppedError("stopped: the run was interrupted")

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return _joined, (self.run,)


class _Tokens:
    """This process's tokens of runs whose units came from another process, by run id.

    A token lives as long as a unit of its run holds it (weakly kept), and for good once
    stopped, so a unit of a stopped run that arrives late stops too (a stopped run's id is
    never reused). Its lock is made anew in a forked child: one held at the fork would be held
    there forever.
    """

    def __init__(self) -> None:
        self._live: weakref.WeakValueDictionary[str, CancelToken] = weakref.WeakValueDictionary()
        self._stopped: dict[str, CancelToken] = {}
        self._lock = threading.Lock()

    def joined(self, run: str) -> CancelToken:
        """This process's token for ``run``, made on first use."""
        with self._lock:
            token = self._live.get(run)
            if token is None:
                token = self._live[run] = CancelToken(run)
            return token

    def stop(self, run: str) -> None:
        """Stop ``run``'s units in this process, those at work and any still to come."""
        token = self.joined(run)
        token.stop()
        with self._lock:
            self._stopped[run] = token

    def after_fork(self) -> None:
        self._lock = threading.Lock()


_TOKENS = _Tokens()
os.register_at_fork(after_in_child=_TOKENS.after_fork)


def _joined(run: str) -> CancelToken:
    """Unpickling a token: this process's token for the run."""
    return _TOKENS.joined(run)


def stop_run(run: str) -> None:
    """In this process (a Dask worker): downloads of ``run`` give up at their next chunk."""
    _TOKENS.stop(run)
