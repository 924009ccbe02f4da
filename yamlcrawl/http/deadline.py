"""A total deadline for one attempt of a request, enforced from outside the reading thread.

A socket timeout bounds each read, not a request: a server that drips its headers or body one
byte a second, or sends `100 Continue` lines without end, never lets one read time out. So each
attempt runs under a :class:`Deadline`, and one watchdog thread per process shuts down the
socket of any attempt still running when its deadline passes; the blocked read then returns at
once, and the caller, seeing :attr:`Deadline.expired`, names the deadline as the cause.

The connection an attempt is using is attached to it (:func:`attach`) by the connection classes
of `transport` (the page client's), from the thread making the request: every call to `connect`
or `request` moves the deadline to the connection now in use (a redirect may change it). Files
go through libcurl, which is given the deadline as its whole-transfer timeout (curl.py).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["Deadline", "DeadlinePassedError", "attach", "detach", "expired", "watch"]


class DeadlinePassedError(TimeoutError):
    """An attempt was about to start another step after its deadline had passed."""


class Deadline:
    """When one attempt must be over, and the connection to cut if it is not.

    Attributes:
        seconds: The time the attempt was given.
        at: The `time.monotonic()` by which it must be done.
        expired: The deadline passed while the attempt was still running.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.finished = False
        self._connection: Any = None
        self._lock = threading.Lock()

    def attach(self, connection: Any) -> None:
        """Make `connection` the one to cut; refuse to go on if the time is already up."""
        with self._lock:
            self._connection = connection
        if time.monotonic() >= self.at:
            self.expire()
            raise DeadlinePassedError(f"the deadline of {self.seconds:g} s passed")

    def detach(self) -> None:
        """Forget the connection (it went back to its pool between two redirects)."""
        with self._lock:
            self._connection = None

    def expire(self) -> None:
        """Mark the attempt as too late and shut down its socket, unless it is finished.

        Done under the lock that :meth:`finish` takes, so a connection already handed back to
        its pool (and perhaps to another thread) is never touched.
        """
        with self._lock:
            if self.finished:
                return
            self.expired = True
            if self._connection is not None:
                _shut_down(self._connection)

    def finish(self) -> None:
        """The attempt is over: its connection must not be cut from now on."""
        with self._lock:
            self.finished = True
            self._connection = None


def _shut_down(connection: Any) -> None:
    """Shut down the socket under `connection` both ways: a blocked read sees the end at once.

    The plain socket's own method is used on a TLS socket too: `SSLSocket.shutdown` would also
    drop its TLS state under the feet of the thread reading it.
    """
    sock = getattr(connection, "sock", None)
    while sock is not None and not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)  # TLS in TLS (an https proxy): the outer socket
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One thread per process that expires deadlines as they pass."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # ties never compare two Deadlines
        self._stale = 0  # finished deadlines still in the heap
        self._wake = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="yamlcrawl-deadlines", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is deadline:  # sooner than what the thread is waiting for
                self._wake.notify()

    def forget(self, deadline: Deadline) -> None:
        """Note that `deadline` finished; compact the heap when half of it is stale.

        Without this a busy crawl would keep every finished attempt's deadline alive until its
        time (minutes of requests).
        """
        with self._wake:
            self._stale += 1
            if self._stale > 64 and 2 * self._stale > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].finished]
                heapq.heapify(self._heap)
                self._stale = 0

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].finished or self._heap[0][0] <= now):
                    deadline = heapq.heappop(self._heap)[2]
                    if deadline.finished:
                        self._stale = max(self._stale - 1, 0)
                    else:
                        deadline.expire()
                self._wake.wait(self._heap[0][0] - now if self._heap else None)


_watchdog = _Watchdog()
_local = threading.local()


def _new_watchdog_in_child() -> None:
    # The watchdog thread does not survive a fork, and its lock may have been held.
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_new_watchdog_in_child)


@contextlib.contextmanager
def watch(seconds: float) -> Iterator[Deadline]:
    """Run the block (one attempt) under a deadline `seconds` from now, in this thread."""
    deadline = Deadline(seconds)
    outer = getattr(_local, "current", None)
    _local.current = deadline
    _watchdog.add(deadline)
    try:
        yield deadline
    finally:
        deadline.finish()
        _local.current = outer
        _watchdog.forget(deadline)


def attach(connection: Any) -> None:
    """Put `connection` under this thread's current deadline, if it has one."""
    deadline: Deadline | None = getattr(_local, "current", None)
    if deadline is not None:
        deadline.attach(connection)


def detach() -> None:
    """Take this thread's current deadline off its connection (handed back to its pool)."""
    deadline: Deadline | None = getattr(_local, "current", None)
    if deadline is not None:
        deadline.detach()


def expired() -> bool:
    """Whether this thread's current deadline has passed (checked between reads)."""
    deadline: Deadline | None = getattr(_local, "current", None)
    if deadline is None:
        return False
    if not deadline.expired and time.monotonic() >= deadline.at:
        deadline.expire()
    return deadline.expired
