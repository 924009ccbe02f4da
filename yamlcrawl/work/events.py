"""Small progress events from wherever a unit runs to the main process, which alone draws.

Workers say what they are doing: a unit started, bytes received (batched, at most every
``BYTES_EVERY`` seconds per download), a retry. Every mode sends them the same way, to a socket
only this run can reach: an ``AF_UNIX`` ``SOCK_SEQPACKET`` socket the main process binds in a
folder of its own (mode 0700) inside the output folder's ``.yamlcrawl/`` (or a private temporary
folder when that path is too long for a socket), and it accepts only peers of its own user.
Each worker process connects once; a message is whole or not at all, has a connection (and a
buffer) of its own, needs no lock shared between processes (a killed worker cannot block the
others) and is never waited for: events are advice for the display, and the results, which
count, travel apart. A message is JSON, never pickle, and is checked on receipt (its kind, the
types and sizes of its fields); anything else is dropped. Dask workers may be on other
machines: they log events on a Dask event topic instead, in the same form, which the client
relays to that same socket (``backends/dask.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import stat
import struct
import tempfile
import threading
import time
from pathlib import Path

from yamlcrawl.storage.outdir import private_path
from yamlcrawl.types import Channel, UnitId
from yamlcrawl.types import Event as Event  # the shared vocabulary's; sent from here
from yamlcrawl.types import EventKind as EventKind

KINDS = ("start", "bytes", "retry")
UNIT_KINDS = ("page", "file")
BYTES_EVERY = 0.1  # seconds between two byte reports of one download
MAX_MESSAGE = 65536  # bytes: a longer message is dropped
MAX_TEXT = 2000  # characters of a worker's name or an event's detail (senders cut longer ones)
MAX_KEY = 4096  # indices in a unit's key (one per stage of depth)
MAX_NUMBER = 2**53  # an index or an amount of bytes past this is not one
SUN_PATH = 107  # bytes a socket's path may take (108 with its final NUL, on Linux)


Address = Channel | str | None  # the main process's socket, a Dask event topic, or nowhere


def to_wire(event: Event) -> list[object]:
    """The event as plain JSON data (also what Dask workers log on their topic)."""
    kind, key = event.unit
    worker, detail = event.worker[:MAX_TEXT], event.detail[:MAX_TEXT]
    return [event.kind, worker, kind, list(key), detail, event.amount]


def from_wire(message: object) -> Event | None:
    """The event ``message`` holds (see ``to_wire``), or None for anything else at all."""
    if not isinstance(message, list) or len(message) != 6:
        return None
    kind, worker, unit_kind, key, detail, amount = message
    if kind not in KINDS or unit_kind not in UNIT_KINDS:
        return None
    if not (_is_text(worker) and _is_text(detail) and _is_number(amount)):
        return None
    if not isinstance(key, list) or len(key) > MAX_KEY or not all(map(_is_number, key)):
        return None
    return Event(kind, worker, (unit_kind, tuple(key)), detail, amount)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _is_number(value: object) -> bool:
    return type(value) is int and 0 <= value < MAX_NUMBER


def decode(data: bytes) -> Event | None:
    """The event in one message as received, or None (not JSON, not an event, too long)."""
    if len(data) > MAX_MESSAGE:
        return None
    try:
        message = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        return None
    return from_wire(message)


class EventSink:
    """The main process's end: a socket in a private folder, read without blocking.

    ``folder`` is the output folder: the socket goes in a folder of its own (0700) inside its
    ``.yamlcrawl/``; when that path is too long for a socket, in a private temporary folder.
    """

    def __init__(self, folder: Path) -> None:
        self._home = _private_folder(folder)
        path = Path(self._home) / "sock"
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._listener.bind(str(path))
            path.chmod(0o600)
            self._listener.listen(256)
            self._listener.setblocking(False)
        except BaseException:
            self.close()
            raise
        self.address = Channel(str(path))
        self._peers: list[socket.socket] = []

    def drain(self) -> list[Event]:
        """Every event that has arrived (from peers of this user; the rest is dropped)."""
        self._accept()
        events: list[Event] = []
        for peer in list(self._peers):
            if not _read(peer, events):
                self._peers.remove(peer)
                peer.close()
        return events

    def _accept(self) -> None:
        while True:
            try:
                peer, _ = self._listener.accept()
            except OSError:  # BlockingIOError: none waiting
                return
            if _peer_uid(peer) != os.getuid():
                peer.close()  # only this user's processes may talk to the display
                continue
            peer.setblocking(False)
            self._peers.append(peer)

    def close(self) -> None:
        """Stop listening and remove the socket and its folder."""
        for peer in getattr(self, "_peers", []):
            peer.close()
        self._listener.close()
        shutil.rmtree(self._home, ignore_errors=True)


class NoSink:
    """Where no private socket can be made (a system without ``AF_UNIX`` ``SOCK_SEQPACKET``,
    such as macOS): workers send no events, and the display follows results alone."""

    address: Channel | None = None

    def drain(self) -> list[Event]:
        """Nothing ever arrives."""
        return []

    def close(self) -> None:
        """Nothing to close."""


def open_sink(folder: Path) -> EventSink | NoSink:
    """The run's private event socket under ``folder``, or no events where none can be made."""
    try:
        return EventSink(folder)
    except OSError:
        return NoSink()


def _private_folder(folder: Path) -> str:
    """A new folder only this user can enter, for the socket: in ``.yamlcrawl/`` if its path
    fits in a socket address, else in the system's temporary folder."""
    state = private_path(folder)
    room = SUN_PATH - len(os.fsencode(state.absolute())) - len("/events-1234567-12345678/sock")
    if room >= 0:
        with contextlib.suppress(OSError):
            state.mkdir(parents=True, exist_ok=True)
            if _ours(state):
                return tempfile.mkdtemp(prefix=f"events-{os.getpid()}-", dir=state.absolute())
    return tempfile.mkdtemp(prefix="yamlcrawl-events-")


def _ours(folder: Path) -> bool:
    """A real folder (not a link) owned by this user and writable by no one else, so no one
    else can swap what is in it."""
    info = folder.lstat()
    mine = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    return mine and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _peer_uid(peer: socket.socket) -> int:
    """The user id of the process at the other end (-1 if unknown)."""
    try:
        creds = peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (OSError, AttributeError):
        return -1
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _read(peer: socket.socket, events: list[Event]) -> bool:
    """Add what ``peer`` sent to ``events``; False once it has hung up."""
    while True:
        try:
            data = peer.recv(MAX_MESSAGE + 1)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not data:
            return False
        event = decode(data)
        if event is not None:
            events.append(event)


class EventSender:
    """Where a run's workers send events: the main process's socket, a Dask topic, or nowhere.

    It crosses to other processes (in the run context) as its address alone: the connection is
    made in each process on first use, never one a fork inherited (parent and child would
    share it), and tried again with the next event when the main process cannot be reached.
    """

    def __init__(self, address: Address = None) -> None:
        self.address = address
        self._sockets: dict[int, socket.socket] = {}  # by process id

    def emit(self, event: Event) -> None:
        """Send ``event`` to the main process; never blocks, never raises, may be dropped."""
        address = self.address
        if address is None:
            return
        if isinstance(address, str):
            _log_on_topic(address, event)
            return
        data = json.dumps(to_wire(event), ensure_ascii=False).encode("utf-8")
        sock = self._socket(address.path)
        if sock is None:
            return
        # A full buffer drops the event: the display is advice, and results travel elsewhere.
        with contextlib.suppress(OSError):
            sock.send(data, socket.MSG_NOSIGNAL)

    def _socket(self, path: str) -> socket.socket | None:
        """This process's connection to ``path`` (None if the main process cannot be reached:
        that event is dropped)."""
        pid = os.getpid()
        sock = self._sockets.get(pid)
        if sock is None:
            fresh = _connected(path)
            if fresh is None:
                return None
            sock = self._sockets.setdefault(pid, fresh)  # atomic: two threads keep one
            if sock is not fresh:
                _close(fresh)
        return sock

    def close(self) -> None:
        """Close this process's connection, if it made one (the end of a run)."""
        sock = self._sockets.pop(os.getpid(), None)
        if sock is not None:
            _close(sock)

    def __getstate__(self) -> dict[str, object]:
        return {"address": self.address, "_sockets": {}}


def _close(sock: socket.socket) -> None:
    atexit.unregister(sock.close)
    sock.close()


def _connected(path: str) -> socket.socket | None:
    """A new connection to the socket at ``path``, or None (gone, or too many waiting to be
    accepted: the next event tries again)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.setblocking(False)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
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
    labelled = Event(event.kind, label, event.unit, event.detail, event.amount)
    with contextlib.suppress(Exception):
        worker.log_event(topic, to_wire(labelled))


def event_from_topic(message: object) -> Event | None:
    """The event a Dask worker logged (see ``_log_on_topic``), or None for anything else."""
    if isinstance(message, tuple):  # msgpack may hand lists back as tuples
        message = list(message)
    if isinstance(message, list) and len(message) == 6 and isinstance(message[3], tuple):
        message[3] = list(message[3])
    return from_wire(message)


def worker_name() -> str:
    """``pid 1234``, or ``pid 1234 thread 3`` for a worker thread (they are named so)."""
    thread = threading.current_thread()
    if thread is threading.main_thread():
        return f"pid {os.getpid()}"
    return f"pid {os.getpid()} {thread.name}"


class ByteCounter:
    """Collects a download's chunks and reports them at most every ``BYTES_EVERY`` seconds."""

    def __init__(self, sender: EventSender, unit: tuple[str, tuple[int, ...]]) -> None:
        self.sender = sender
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
            self.sender.emit(Event("bytes", worker_name(), self.unit, amount=self.pending))
            self.pending = 0
        self.last = time.monotonic() if now is None else now


def report_retry(sender: EventSender, uid: UnitId, reason: str) -> None:
    """Tell the display that ``uid`` is being tried again, and why."""
    sender.emit(Event("retry", worker_name(), uid, reason))
