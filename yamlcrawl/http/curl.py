"""Files through libcurl: one transfer engine per process, many transfers on one thread.

A file's attempt is handed to this process's :class:`Engine` (:func:`fetch_file`): one driver
thread runs pycurl's multi interface (`CurlMulti`, on the socket API with an epoll selector), so
the HTTP I/O, the parsing and the gzip decoding of every transfer of the process happen in C on
that thread, while any number of caller threads (the backends' units in flight) each wait for
the outcome of their own transfer. The engine is made on first use and keyed by the process id:
one inherited across a fork is never used (its thread did not survive the fork), nor closed.

One call is ONE attempt: `fetch.py` keeps the retries, their backoff, Retry-After and
politeness. What libcurl is asked for, and what stays ours:

- The body goes to the sink (`ByteSink`: `begin(content_type)`, then `write`s) from the driver
  thread; the sink hashes it. A sink holding part of the body from before (`RangeSink`) gets
  only the rest, if the server gives it (`Range`/`If-Range`: ranges.py). `on_bytes` reports
  each chunk there too; an exception from either (a full disk, a stopped run) aborts the
  transfer and is raised in the caller.
- Redirects are followed here, not by libcurl (FOLLOWLOCATION is off), so the crawl's rule holds
  on every hop: at most `max_redirects`, http and https only, and the private headers dropped
  off the origin (`transport.follow`, the same rule the page client keeps).
- The status is checked, and the size limited, with `attempt.py`'s words; Content-Length is
  held to (libcurl fails a body cut short); `max_bytes` refuses a declared size at the first
  byte and counts the decoded bytes as they arrive (a gzip bomb stops at the limit).
- Timeouts: CONNECTTIMEOUT for connecting; a server silent for `timeout` seconds (no header
  line, no body byte) is cut by the driver, as a socket read timeout cuts it (libcurl's
  LOW_SPEED_* average over seconds, too coarse for that); TIMEOUT for the attempt's whole
  deadline (`settings.attempt_deadline`), redirects included.
- Proxies are chosen by us, per hop, exactly as the page client chooses them: the crawl's
  `proxies` for the URL's scheme (or `all`) first, used for every host; else the environment's
  `http_proxy`/`https_proxy`/`all_proxy` (either case, as Python reads them), with the
  environment's `no_proxy` handed to libcurl as NOPROXY (host names, domain suffixes, `*`, and
  CIDR ranges). libcurl never reads the environment itself: PROXY is always set (to "" for a
  direct connection). SOCKS (socks4, socks5, socks5h) proxies are libcurl's own.
- TLS: `verify` true checks against the same bundle as the other clients (the environment's
  REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE, else certifi's), a path against that
  bundle; a client certificate (`cert`) goes to SSLCERT/SSLKEY.
- Files are stored as the server meant them: the page client's Accept-Encoding (gzip,
  deflate: `transport.DEFAULT_HEADERS`) is sent, and libcurl decodes those encodings.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import selectors
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pycurl
import urllib3

from yamlcrawl.http import attempt, ranges
from yamlcrawl.http.attempt import AttemptError
from yamlcrawl.http.session import resolve_user_agent
from yamlcrawl.http.transport import DEFAULT_HEADERS, RedirectError, ca_bundle, follow
from yamlcrawl.types import BodyStart, ByteSink, HeldPart, HttpSettings, RangeSink

__all__ = ["Engine", "Reply", "engine", "fetch_file"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_REDIRECT_BODY = 64 * 1024  # a redirect's body is read and dropped up to this, then cut
_IDLE_HANDLES = 64  # easy handles kept for reuse (their settings are reset on each use)
_MAX_WAIT = 1.0  # the driver looks at the world at least this often
_LOOK = 0.1  # seconds between two looks for stalled or stopped transfers
_SIZE_DOWNLOAD = pycurl.SIZE_DOWNLOAD_T  # libcurl's 64-bit size counter
# A transfer's socket. libcurl 8.22 (pycurl 7.48.0, the floor) names it while the transfer waits
# for its response too; before, it answered -1 until the first byte.
_SOCKET = pycurl.ACTIVESOCKET


@dataclass(frozen=True)
class Reply:
    """What one successful attempt brought.

    Attributes:
        status: The final response's status (2xx).
        url: The URL the body came from, after redirects.
        content_type: Its Content-Type header, or None.
        bytes: Bytes written to the sink (after content decoding).
    """

    status: int
    url: str
    content_type: str | None
    bytes: int


def fetch_file(
    settings: HttpSettings,
    url: str,
    sink: ByteSink,
    *,
    headers: Mapping[str, str] | None = None,
    private: Collection[str] = (),
    on_bytes: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> Reply:
    """Make ONE attempt at `url` through this process's engine, its body streamed to `sink`.

    On failure the sink has been discarded and `on_bytes` called with minus the bytes it was
    told of, so its running sum is 0.

    Args:
        settings: The crawl's HTTP settings.
        url: An http or https URL (the caller checked it).
        sink: Where the body goes (`begin`, then `write`s, from the engine's thread).
        headers: Headers sent over the defaults (User-Agent, Accept).
        private: Names of headers built from secrets, dropped off the origin by a redirect.
        on_bytes: Called (from the engine's thread) with the size of each chunk written.
        stop: Asked ten times a second (from the engine's thread): True cuts the transfer
            (the caller sees `TransferStoppedError`).

    Returns:
        The final status, URL, Content-Type and size.

    Raises:
        AttemptError: The attempt failed; `retryable` says whether another could help.
        TransferStoppedError: `stop` said so, or the caller was interrupted while waiting.
        BaseException: Whatever `sink` or `on_bytes` raised (OSError, a stopped run...).
    """
    ranged, held = ranges.held_by(sink)
    if held is not None:  # the rest of a part kept before, if the file is still the same
        headers = ranges.with_range(headers, held)
    transfer = _Transfer(settings, url, sink, headers or {}, private, on_bytes, stop)
    transfer.ranged, transfer.held = ranged, held
    return engine().run(transfer)


class TransferStoppedError(Exception):
    """The transfer was stopped before its end (by `stop`, or by closing the engine)."""


_engines: dict[int, Engine] = {}
_engines_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # A fork while another thread held the lock would leave the child's copy held for ever.
    global _engines_lock
    _engines_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def engine() -> Engine:
    """This process's engine, made on first use (never one made before a fork)."""
    pid = os.getpid()
    made = _engines.get(pid)
    if made is None or made.closed:
        with _engines_lock:
            made = _engines.get(pid)
            if made is None or made.closed:
                made = _engines[pid] = Engine()
    return made


# --- one transfer ---------------------------------------------------------------------------


class _Transfer:
    """One attempt's state. The driver thread alone touches it until `done` is released."""

    def __init__(
        self,
        settings: HttpSettings,
        url: str,
        sink: ByteSink,
        headers: Mapping[str, str],
        private: Collection[str],
        on_bytes: Callable[[int], None] | None,
        stop: Callable[[], bool] | None,
    ) -> None:
        self.settings = settings
        self.url = url
        self.sink = sink
        self.given = headers
        self.headers: urllib3.HTTPHeaderDict | None = None  # made when a redirect needs it
        self.private = private
        self.on_bytes = on_bytes
        self.stop = stop
        self.deadline_at = time.monotonic() + settings.attempt_deadline
        # Held until the driver is done with the transfer: a bare lock is the cheapest wait.
        self.done = threading.Lock()
        self.done.acquire()
        self.cancelled = False
        self.hops = 0
        self.failure: BaseException | None = None  # ours, or raised by the sink or on_bytes
        self.error: tuple[int, str] | None = None  # libcurl's, when it failed the transfer
        self.wire = 0  # bytes of the last response's body on the wire (before decoding)
        self.heard = time.monotonic()  # when the server last sent anything (the read timeout)
        self.seen = (0, 0.0)  # header lines and bytes at the last look (driver: `_stalled`)
        self.os_errno = 0  # the system's error behind libcurl's, if any
        self.lines: list[bytes] = []  # header lines as they come: libcurl appends, no parsing
        self.ranged: RangeSink | None = None  # the sink, if it can keep part of a body
        self.held: HeldPart | None = None  # the part it held: this transfer asks for the rest
        self._new_response()

    def _new_response(self) -> None:
        self.lines.clear()  # the same list: the handle appends to it
        self.status = 0
        self.reason = ""
        self.response_headers: dict[str, str] = {}
        self.settled = False  # the final headers are known and checked
        self.redirect_to = ""
        self.began = False
        self.start: BodyStart | None = None  # what the response said of its body (ranges.py)
        self.size = 0
        self.dropped = 0

    # libcurl's callback (driver thread): never raise into libcurl, keep the failure instead.

    def on_body(self, data: bytes) -> int | None:
        try:
            return self._body(data)
        except BaseException as exc:  # raised again in the caller's thread
            self.failure = exc
            return 0  # anything but the chunk's length aborts the transfer

    def stalled(self, now: float, heard: bool) -> bool:
        """Whether the server has sent nothing for `timeout` s; `heard`: its socket had
        something to read since the last look (a byte of a header line counts)."""
        seen = (len(self.lines), self.wire)
        if heard or seen != self.seen:
            self.seen, self.heard = seen, now
        return now >= self.heard + self.settings.timeout

    def parse_headers(self) -> None:
        """Read the last response's status line and headers from the lines libcurl gave (an
        interim 1xx, or a proxy's CONNECT answer, comes before the response that counts)."""
        lines = [line.decode("latin-1").rstrip("\r\n") for line in self.lines]
        start = max((n for n, line in enumerate(lines) if line.startswith("HTTP/")), default=0)
        parts = lines[start].split(None, 2) if lines else []
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        self.reason = parts[2].strip() if len(parts) > 2 else ""
        headers = self.response_headers
        for text in lines[start + 1 :]:
            if text[:1] in (" ", "\t") and headers:  # an obsolete folded line
                last = next(reversed(headers))
                headers[last] += " " + text.strip()
            elif ":" in text:
                name, _, value = text.partition(":")
                name, value = name.strip().lower(), value.strip()
                known = headers.get(name)
                headers[name] = value if known is None else f"{known}, {value}"

    def settle(self) -> None:
        """The final response's headers are in: a redirect to follow, or a status to check and
        a body to begin (at its first byte, or at the end of an empty body)."""
        if self.settled:
            return
        self.settled = True
        self.parse_headers()
        location = self.response_headers.get("location", "")
        if self.status in _REDIRECTS and location:
            self.redirect_to = location
            return
        header = self.response_headers.get
        ranges.refused(self.ranged, self.held, self.status)
        attempt.check_status(self.status, self.reason, header("retry-after", ""), self.settings)
        declared = attempt.content_length(header("content-length", ""))
        refused = attempt.declared_too_big(declared, self.settings.max_bytes)
        if refused is not None:
            raise refused
        self.start = ranges.begin(self.sink, self.ranged, self.held, self.status, header)
        self.began = True

    def _body(self, data: bytes) -> int | None:
        self.settle()
        if self.redirect_to:
            self.dropped += len(data)
            return 0 if self.dropped > _REDIRECT_BODY else None  # too long: cut, then follow
        limit = self.settings.max_bytes
        if limit is not None and self.size + len(data) > limit - self.kept():
            raise attempt.too_big(limit)
        self.sink.write(data)
        self.size += len(data)
        if self.on_bytes is not None:
            self.on_bytes(len(data))
        return None

    def kept(self) -> int:
        """Bytes of the file this body continues (0 unless a 206 continues a part held)."""
        return self.start.offset if self.start is not None else 0

    def sent_headers(self) -> urllib3.HTTPHeaderDict:
        """The headers this hop sends: the defaults, the caller's over them (by name, in any
        case: a crawl's `user-agent` wins), less those a redirect dropped."""
        if self.headers is None:
            self.headers = urllib3.HTTPHeaderDict(dict(_default_headers(self.settings)))
            self.headers.update(self.given)
        return self.headers

    def header_lines(self) -> list[str]:
        """The headers this hop sends, as libcurl takes them."""
        if self.headers is None and not self.given:
            return [f"{k}: {v}" for k, v in _default_headers(self.settings)]
        return [f"{k}: {v}" for k, v in self.sent_headers().items()]

    def next_hop(self) -> None:
        """Follow the redirect just answered (the crawl's rule: `transport.follow`)."""
        if self.hops >= self.settings.max_redirects:
            raise RedirectError(f"more than {self.settings.max_redirects} redirects")
        self.hops += 1
        headers = self.sent_headers()
        _, self.url = follow("GET", self.url, self.redirect_to, self.status, headers, self.private)
        self._new_response()


# --- the engine -----------------------------------------------------------------------------


class Engine:
    """A process's libcurl multi handle and the thread that drives it. Safe to share.

    `run` hands it a transfer and waits for the outcome; `close` ends the thread, fails what
    is still running, and frees every libcurl handle and the selector.
    """

    def __init__(self) -> None:
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._inbox: deque[_Transfer] = deque()
        self._active: dict[Any, _Transfer] = {}
        self._idle: list[Any] = []
        self._configured: dict[Any, HttpSettings] = {}  # the settings each handle was set up for
        self._timer_at: float | None = None
        self._next_look = 0.0
        self._readable: set[int] = set()  # sockets that had input since the last look
        self._closing = False
        self._door = threading.Lock()  # no transfer comes in once the engine is closing
        self.closed = False
        self._thread = threading.Thread(target=self._drive, name="yamlcrawl-curl", daemon=True)
        self._thread.start()

    def run(self, transfer: _Transfer) -> Reply:
        """Hand `transfer` to the driver and wait for it; see `fetch_file`."""
        with self._door:
            if self._closing:
                raise TransferStoppedError("the transfer engine is closed")
            self._inbox.append(transfer)
        self._wake()
        try:
            transfer.done.acquire()
        except BaseException:  # Ctrl-C in this thread: cut the transfer, then let it go on
            transfer.cancelled = True
            self._wake()
            transfer.done.acquire(timeout=_MAX_WAIT * 2)
            _rewind(transfer, progress=False)
            raise
        return _outcome(transfer)

    def close(self) -> None:
        """Stop the driver thread, fail the transfers in flight, free every handle."""
        if self.closed:
            return
        with self._door:
            self._closing = True
        self._wake()
        self._thread.join()
        self.closed = True

    # --- the driver thread ---

    def _wake(self) -> None:
        # A full pipe wakes the driver anyway; a closed one has no driver left to wake.
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"x")

    def _drive(self) -> None:
        try:
            while not self._closing:
                self._turn()
        finally:  # closed, or (a bug) an error escaped: either way no transfer is left waiting
            with self._door:
                self._closing = True
            self._release()
            self.closed = True  # `engine()` makes a new one for the next transfer

    def _turn(self) -> None:
        """One turn of the loop: wait for a socket, the timer or the wake pipe; act on it."""
        for key, mask in self._selector.select(self._wait()):
            if key.fd == self._wake_read:
                _drain(self._wake_read)
                continue
            if mask & selectors.EVENT_READ:
                self._readable.add(key.fd)
            action = (pycurl.CSELECT_IN if mask & selectors.EVENT_READ else 0) | (
                pycurl.CSELECT_OUT if mask & selectors.EVENT_WRITE else 0
            )
            self._multi.socket_action(key.fd, action)
        if self._timer_at is not None and time.monotonic() >= self._timer_at:
            self._timer_at = None
            self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        self._start_new()
        self._cut_stalled_or_cancelled()
        self._collect()

    def _wait(self) -> float:
        """Seconds until libcurl's timer, or the next look at the transfers in flight."""
        due = self._next_look if self._active else math.inf
        if self._timer_at is not None:
            due = min(due, self._timer_at)
        return min(max(due - time.monotonic(), 0.0), _MAX_WAIT)

    def _on_socket(self, what: int, fd: int, _multi: Any, _data: Any) -> None:
        events = {
            pycurl.POLL_IN: selectors.EVENT_READ,
            pycurl.POLL_OUT: selectors.EVENT_WRITE,
            pycurl.POLL_INOUT: selectors.EVENT_READ | selectors.EVENT_WRITE,
        }.get(what)
        registered = fd in self._selector.get_map()
        if events is None:  # POLL_REMOVE
            if registered:
                self._selector.unregister(fd)
        elif registered:
            self._selector.modify(fd, events)
        else:
            self._selector.register(fd, events)

    def _on_timer(self, milliseconds: int) -> None:
        self._timer_at = None if milliseconds < 0 else time.monotonic() + milliseconds / 1000

    def _start_new(self) -> None:
        while self._inbox:
            transfer = self._inbox.popleft()
            if transfer.cancelled:
                _finish(transfer)
                continue
            self._start(transfer, self._idle.pop() if self._idle else pycurl.Curl())

    def _start(self, transfer: _Transfer, handle: Any) -> None:
        remaining = transfer.deadline_at - time.monotonic()
        if remaining <= 0:
            transfer.failure = attempt.past_deadline(transfer.settings)
            self._let_go(handle)
            _finish(transfer)
            return
        try:
            _configure(handle, transfer, remaining, self._configured)
            self._multi.add_handle(handle)
        except (pycurl.error, ValueError) as exc:  # refused by libcurl: this transfer alone fails
            transfer.failure = AttemptError(f"libcurl refused the request ({exc})", retryable=False)
            self._close_handle(handle)
            _finish(transfer)
            return
        transfer.heard, transfer.seen = time.monotonic(), (0, 0.0)
        self._active[handle] = transfer

    def _cut_stalled_or_cancelled(self) -> None:
        """Every `_LOOK` s: cut the transfers whose caller gave up or whose `stop` says so, and
        those silent for `timeout` seconds."""
        now = time.monotonic()
        if now < self._next_look:
            return
        self._next_look = now + _LOOK
        readable, self._readable = self._readable, set()
        sockets = {handle: handle.getinfo(_SOCKET) for handle in self._active}
        # Where libcurl does not say which socket a transfer reads (-1: still connecting, or an
        # older libcurl than the floor's), input on any socket not known to be another's
        # counts: a drip may then be left to the deadline, never cut early.
        unclaimed = bool(readable - set(sockets.values()))
        for handle, transfer in list(self._active.items()):
            transfer.wire = int(handle.getinfo(_SIZE_DOWNLOAD))
            fd = sockets[handle]
            heard = fd in readable if fd >= 0 else unclaimed
            failure = _why_cut(transfer, now, heard)
            if failure is None:
                continue
            del self._active[handle]
            self._multi.remove_handle(handle)
            self._let_go(handle)
            transfer.failure = transfer.failure or failure
            _finish(transfer)

    def _collect(self) -> None:
        """Settle every transfer libcurl says is over: follow a redirect, or hand it back."""
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for handle in succeeded:
                self._over(handle, None)
            for handle, code, message in failed:
                self._over(handle, (code, message))
            if not queued:
                return

    def _over(self, handle: Any, error: tuple[int, str] | None) -> None:
        transfer = self._active.pop(handle)
        self._multi.remove_handle(handle)
        transfer.wire = int(handle.getinfo(_SIZE_DOWNLOAD))
        transfer.os_errno = int(handle.getinfo(pycurl.OS_ERRNO))
        cut_redirect = error is not None and transfer.redirect_to and transfer.failure is None
        if error is None or cut_redirect:
            try:
                transfer.settle()  # an empty body settles here
                if transfer.redirect_to:
                    transfer.next_hop()
                    self._start(transfer, handle)
                    return
            except BaseException as exc:  # raised again in the caller's thread
                transfer.failure = exc
        else:
            transfer.error = error
        self._let_go(handle)
        _finish(transfer)

    def _close_handle(self, handle: Any) -> None:
        self._configured.pop(handle, None)
        handle.close()

    def _let_go(self, handle: Any) -> None:
        if len(self._idle) < _IDLE_HANDLES:
            self._idle.append(handle)  # keeps its options: `_configure` sets what differs
        else:
            self._close_handle(handle)

    def _release(self) -> None:
        """On the driver thread, as it ends: fail what runs, free every handle."""
        for handle, transfer in list(self._active.items()):
            self._multi.remove_handle(handle)
            self._close_handle(handle)
            transfer.failure = TransferStoppedError("the transfer engine was closed")
            _finish(transfer)
        self._active.clear()
        while self._inbox:
            transfer = self._inbox.popleft()
            transfer.failure = TransferStoppedError("the transfer engine was closed")
            _finish(transfer)
        for handle in self._idle:
            self._close_handle(handle)
        self._idle.clear()
        self._multi.close()
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)


def _why_cut(transfer: _Transfer, now: float, heard: bool) -> BaseException | None:
    """Why the driver cuts a running transfer now, or None to let it run."""
    try:
        if transfer.cancelled or (transfer.stop is not None and transfer.stop()):
            return TransferStoppedError("stopped")
    except BaseException as exc:  # raised again in the caller's thread
        return exc
    if transfer.stalled(now, heard):
        return AttemptError(f"timed out after {transfer.settings.timeout:g} s", retryable=True)
    return None


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _finish(transfer: _Transfer) -> None:
    transfer.done.release()


# --- configuring a handle -------------------------------------------------------------------


def _configure(
    handle: Any, transfer: _Transfer, remaining: float, configured: dict[Any, HttpSettings]
) -> None:
    """Set up `handle` for the transfer's next hop, with `remaining` seconds of its deadline.

    A handle keeps the options its last transfer's settings gave it: only when the settings
    differ is it reset and given theirs (most crawls have one settings object for all files).
    """
    settings = transfer.settings
    if configured.get(handle) != settings:
        handle.reset()
        for option, value in _settings_options(settings):
            handle.setopt(option, value)
        configured[handle] = settings
    scheme = transfer.url.partition(":")[0].lower()
    proxy, no_proxy = _route(settings, scheme, os.getpid())
    handle.setopt(pycurl.URL, _wire_url(transfer.url))
    handle.setopt(pycurl.HTTPHEADER, [_wire_header(line) for line in transfer.header_lines()])
    handle.setopt(pycurl.TIMEOUT_MS, max(1, int(remaining * 1000)))
    handle.setopt(pycurl.HEADERFUNCTION, transfer.lines.append)
    handle.setopt(pycurl.WRITEFUNCTION, transfer.on_body)
    handle.setopt(pycurl.PROXY, proxy)
    handle.setopt(pycurl.NOPROXY, no_proxy)


def _wire_url(url: str) -> str:
    """The URL as sent: what is not ASCII, spaces too, percent-encoded as urllib3 encodes it
    (libcurl takes ASCII only)."""
    if url.isascii() and " " not in url:
        return url
    return str(urllib3.util.parse_url(url).url)


def _wire_header(line: str) -> bytes:
    """A header line as sent: Latin-1 as http.client sends it, else UTF-8."""
    try:
        return line.encode("latin-1")
    except UnicodeEncodeError:
        return line.encode("utf-8")


@functools.cache
def _settings_options(settings: HttpSettings) -> tuple[tuple[int, Any], ...]:
    """The options every transfer of these settings has, whatever its URL."""
    return (
        (pycurl.ACCEPT_ENCODING, DEFAULT_HEADERS["Accept-Encoding"]),  # sent, and decoded
        (pycurl.NOSIGNAL, 1),
        (pycurl.FOLLOWLOCATION, 0),
        (pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS),
        (pycurl.CONNECTTIMEOUT_MS, max(1, int(settings.timeout * 1000))),
        *_tls_options(settings),
    )


@functools.cache
def _default_headers(settings: HttpSettings) -> tuple[tuple[str, str], ...]:
    agent = resolve_user_agent(settings.user_agent)
    return (("User-Agent", agent), ("Accept", DEFAULT_HEADERS["Accept"]))


@functools.cache
def _route(settings: HttpSettings, scheme: str, pid: int) -> tuple[str, str]:
    """PROXY and NOPROXY for a URL of `scheme`: the crawl's proxy for it (or `all`), used for
    every host; else the environment's (read once per process), with its `no_proxy`; "" for
    none (so libcurl never reads the environment itself)."""
    explicit = dict(settings.proxies)
    chosen = explicit.get(scheme) or explicit.get("all")
    if chosen:
        return chosen, ""
    environment = urllib.request.getproxies_environment()
    return environment.get(scheme) or environment.get("all") or "", environment.get("no", "")


def _tls_options(settings: HttpSettings) -> list[tuple[int, Any]]:
    """Certificate checks and the client certificate, from `verify` and `cert`."""
    verify: bool | str = settings.verify
    if verify is False:
        options: list[tuple[int, Any]] = [(pycurl.SSL_VERIFYPEER, 0), (pycurl.SSL_VERIFYHOST, 0)]
    else:
        bundle = verify if isinstance(verify, str) else ca_bundle()
        options = [(pycurl.SSL_VERIFYPEER, 1), (pycurl.SSL_VERIFYHOST, 2), (pycurl.CAINFO, bundle)]
    cert = settings.cert
    if isinstance(cert, str):
        options.append((pycurl.SSLCERT, cert))
    elif cert is not None:
        options += [(pycurl.SSLCERT, cert[0]), (pycurl.SSLKEY, cert[1])]
    return options


# --- the outcome, in the caller's thread ----------------------------------------------------


def _outcome(transfer: _Transfer) -> Reply:
    """The reply of a finished transfer, or its failure raised (the sink discarded first)."""
    failure = transfer.failure
    if not transfer.settled:
        transfer.parse_headers()  # for the words of a failure: how far the response came
    if failure is None and transfer.error is not None:
        failure = _failure_from(transfer, *transfer.error)
    if failure is None and not transfer.began:
        failure = AttemptError("no response", retryable=True)  # cannot happen: a guard
    if failure is None and transfer.start is not None and transfer.start.offset:
        try:
            ranges.complete(transfer.start, transfer.size)
        except AttemptError as cut_short:
            failure = cut_short
    if failure is not None:
        # A network failure takes back the progress it reported (fetch.download_to's promise);
        # an exception from the caller's own callbacks leaves it as it is, as before.
        _rewind(transfer, progress=isinstance(failure, (AttemptError, RedirectError)))
        if isinstance(failure, RedirectError):
            raise AttemptError(str(failure), retryable=False) from failure
        raise failure
    content_type = transfer.response_headers.get("content-type")
    return Reply(transfer.status, transfer.url, content_type, transfer.size)


def _rewind(transfer: _Transfer, *, progress: bool) -> None:
    """Drop the partial body now (not after the backoff sleep), and (`progress`) the progress
    told of it."""
    if transfer.began:
        transfer.sink.discard()
    if progress and transfer.on_bytes is not None and transfer.size:
        transfer.on_bytes(-transfer.size)
        transfer.size = 0


# libcurl's codes for a connection that broke once it was made: worth another attempt.
_BROKE_OFF = {
    pycurl.E_PARTIAL_FILE,
    pycurl.E_RECV_ERROR,
    pycurl.E_SEND_ERROR,
    getattr(pycurl, "E_HTTP2", 16),
    getattr(pycurl, "E_HTTP2_STREAM", 92),
    getattr(pycurl, "E_WEIRD_SERVER_REPLY", 8),
}
_TLS = {pycurl.E_SSL_CONNECT_ERROR, pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CERTPROBLEM}
_NOT_RETRYABLE = {
    pycurl.E_URL_MALFORMAT,
    pycurl.E_UNSUPPORTED_PROTOCOL,
    pycurl.E_BAD_CONTENT_ENCODING,
    pycurl.E_PEER_FAILED_VERIFICATION,
    pycurl.E_SSL_CERTPROBLEM,
    pycurl.E_SSL_CACERT_BADFILE,
}


def _failure_from(transfer: _Transfer, code: int, message: str) -> AttemptError:
    """libcurl's error as the same short cause, and retry decision, fetch.py gives."""
    settings = transfer.settings
    if code == pycurl.E_OPERATION_TIMEDOUT:
        if time.monotonic() >= transfer.deadline_at - 0.05:
            return attempt.past_deadline(settings)
        return AttemptError(f"timed out after {settings.timeout:g} s", retryable=True)
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        return AttemptError(f"could not resolve the host name ({message})", retryable=True)
    if transfer.os_errno == errno.ECONNREFUSED:
        return AttemptError("connection refused", retryable=True)
    if code == pycurl.E_GOT_NOTHING:
        cause = "the server closed the connection without a response"
        return AttemptError(cause, retryable=True)
    if code in _TLS:
        return _tls_failure(code, message)
    if code == pycurl.E_BAD_CONTENT_ENCODING:
        return AttemptError(f"could not decode the compressed body ({message})", retryable=False)
    if code == pycurl.E_URL_MALFORMAT:
        return AttemptError(f"the URL is not valid ({message})", retryable=False)
    if code in _BROKE_OFF:
        return AttemptError(_broke_off_cause(transfer, message), retryable=True)
    return AttemptError(message or f"libcurl error {code}", retryable=code not in _NOT_RETRYABLE)


def _tls_failure(code: int, message: str) -> AttemptError:
    # A certificate that fails verification will fail again; a torn handshake may not.
    if code == pycurl.E_PEER_FAILED_VERIFICATION:
        return AttemptError(f"TLS error (certificate verify failed: {message})", retryable=False)
    return AttemptError(f"TLS error ({message})", retryable=code not in _NOT_RETRYABLE)


def _broke_off_cause(transfer: _Transfer, message: str) -> str:
    """Why a connection broke: before the response, or in its body (how far it came)."""
    reset = transfer.os_errno == errno.ECONNRESET or "reset" in message.lower()
    if not transfer.status:
        if reset:
            return "connection reset by the server"
        return "the server closed the connection without a response"
    headers = transfer.response_headers
    expected = attempt.content_length(headers.get("content-length", ""))
    if expected is not None and transfer.wire < expected:
        return f"body ended after {transfer.wire} of {expected} bytes"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "the chunked body broke off"
    if reset:
        return "connection reset by the server"
    return "the body broke off"
