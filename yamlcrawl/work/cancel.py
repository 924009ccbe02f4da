"""Stopping downloads in progress, which look here between chunks.

Threads cannot be killed: a backend that must stop them sets ``STOP``, and downloads in progress
give up at their next chunk (processes are stopped with a signal instead). A Dask worker serves
whichever runs use its cluster: a task notes its run in ``RUN.name``, and a stopped run is named
in ``STOPPED_RUNS``, so only that run's downloads give up.
"""

from __future__ import annotations

import threading

STOP = threading.Event()
RUN = threading.local()
STOPPED_RUNS: set[str] = set()


class StoppedError(Exception):
    """A download noticed it was stopped and gave up; its temporary file is already removed."""


def stop_if_asked(_: int) -> None:
    """Raise StoppedError if this download's run was asked to stop (called with each chunk)."""
    if STOP.is_set() or (STOPPED_RUNS and getattr(RUN, "name", None) in STOPPED_RUNS):
        raise StoppedError("stopped: the run was interrupted")
