"""Small progress events from wherever a unit runs to the main process, which alone draws.

Workers say what they are doing: a unit started, bytes received (batched, at most every
``BYTES_EVERY`` seconds per download), a retry. Every mode sends them the same way: a UDP
datagram to a socket the main process opened on 127.0.0.1. A datagram is whole or not at all,
needs no lock shared between processes (a killed worker cannot block the others) and is never
waited for; events are advice for the display, and the results, which count, travel apart.
Dask workers may be on other machines: they log events on a Dask event topic instead, which
the client relays to that same socket (``backends/dask.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import socket
import threading
import time
from dataclasses import dataclass
from typing import Literal

EventKind = Literal["start", "bytes", "retry"]
BYTES_EVERY = 0.1  # seconds between two byte reports of one download


@dataclass(frozen=True)
class Event:
    """One thing a worker did: ``start`` (detail: what), ``bytes`` (amount), ``retry`` (why)."""

    kind: EventKind
    worker: str
    unit: tuple[str, tuple[int, ...]]
    detail: str = ""
    amount: int = 0


class EventSink:
    """The main process's end: a UDP socket on 127.0.0.1, read without blocking."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._socket.setblocking(False)
        self.address: tuple[str, int] = self._socket.getsockname()

    def drain(self) -> list[Event]:
        """Every event that has arrived."""
        events: list[Event] = []
        while True:
            try:
                data = self._socket.recv(65536)
            except (BlockingIOError, InterruptedError):
                return events
            except OSError:
                return events
            try:
                event = pickle.loads(data)
            except Exception:  # a stray datagram on our port is not an event
                continue
            if isinstance(event, Event):
                events.append(event)

    def close(self) -> None:
        """Stop listening."""
        self._socket.close()


_sender: tuple[int, socket.socket] | None = None
_lock = threading.Lock()


Address = tuple[str, int] | str | None  # a UDP address, a Dask event topic, or nowhere


def emit(address: Address, event: Event) -> None:
    """Send ``event`` to the main process; never blocks, never raises, may be dropped."""
    if address is None:
        return
    if isinstance(address, str):
        _log_on_topic(address, event)
        return
    with _lock:
        sock = _sending_socket()
    # A full buffer drops the event: the display is advice, and results travel elsewhere.
    with contextlib.suppress(OSError):
        sock.sendto(pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL), address)


def _sending_socket() -> socket.socket:
    """This process's socket for events: made on first use, never the one a fork inherited."""
    global _sender
    if _sender is not None and _sender[0] == os.getpid():
        return _sender[1]
    if _sender is not None:
        _sender[1].close()  # this process's copy of its parent's socket
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    _sender = (os.getpid(), sock)
    atexit.register(sock.close)
    return sock


def _log_on_topic(topic: str, event: Event) -> None:
    """Log ``event`` on the Dask worker running this task, as plain data for msgpack."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not inside a Dask task
        return
    thread = threading.current_thread().name.rsplit("-", 1)[-1]
    label = f"dask worker {worker.name} thread {thread}"
    kind, key = event.unit
    with contextlib.suppress(Exception):
        worker.log_event(topic, [event.kind, label, kind, list(key), event.detail, event.amount])


def event_from_topic(message: object) -> Event | None:
    """The event a Dask worker logged (see ``_log_on_topic``), or None for anything else."""
    if not isinstance(message, list | tuple) or len(message) != 6:
        return None
    kind, label, unit_kind, key, detail, amount = message
    if kind not in ("start", "bytes", "retry") or not isinstance(key, list | tuple):
        return None
    try:
        return Event(kind, str(label), (str(unit_kind), tuple(key)), str(detail), int(amount))
    except (TypeError, ValueError):
        return None


def worker_name() -> str:
    """``pid 1234``, or ``pid 1234 thread 3`` for a worker thread (they are named so)."""
    thread = threading.current_thread()
    if thread is threading.main_thread():
        return f"pid {os.getpid()}"
    return f"pid {os.getpid()} {thread.name}"


class ByteCounter:
    """Collects a download's chunks and reports them at most every ``BYTES_EVERY`` seconds."""

    def __init__(self, address: Address, unit: tuple[str, tuple[int, ...]]) -> None:
        self.address = address
        self.unit = unit
        self.pending = 0
        self.last = time.monotonic()

    def add(self, amount: int) -> None:
        """Count a chunk; report if it is time."""
        self.pending += amount
        now = time.monotonic()
        if now - self.last >= BYTES_EVERY:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        """Report what is counted and not yet reported."""
        if self.pending:
            emit(self.address, Event("bytes", worker_name(), self.unit, amount=self.pending))
            self.pending = 0
        self.last = time.monotonic() if now is None else now
