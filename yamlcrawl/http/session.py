"""How one run talks HTTP: its settings, its clients, its clock and sleep, its throttle folder.

A `Session` is plain, picklable data that crosses to every worker process (and Dask task) in
the run context. What cannot cross, the clients with their pooled connections (a
`requests.Session` for pages, and a transport for files when a test hands one), it makes in
each process from the settings on first use: a client inherited across a fork is never used
again, since parent and child reading the same socket get each other's bytes (it is left
untouched, not closed, because closing it could disturb the parent's connections). Files
otherwise go through this process's libcurl engine, which curl.py keeps per process the same
way. Tests hand it clients of their own (ones that answer requests without a network, as
httpx's MockTransport does), a sleep that only records, a fixed clock.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import requests
import urllib3

from yamlcrawl.http.pageclient import new_page_session
from yamlcrawl.http.useragent import resolve_user_agent
from yamlcrawl.types import HttpSettings

__all__ = [
    "PagesFactory",
    "Session",
    "Transport",
    "TransportFactory",
    "new_page_session",
    "resolve_user_agent",
]


class Transport(Protocol):
    """Sends one request (following redirects) and hands back the response, its body unread.

    What a test hands a session in place of libcurl for files (tests/support.py's
    MockTransport): `fetch` reads the body, checks the status and the size as it does for
    pages, then calls `release_conn()` on the response (or `close()` if it stopped early).
    """

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        timeout: float,
        max_redirects: int,
        body: bytes | None = None,
        private: Collection[str] = (),
    ) -> urllib3.BaseHTTPResponse:
        """Send one request; the caller reads the body, then releases or closes the response."""
        ...

    def close(self) -> None:
        """Close every pooled connection."""
        ...


TransportFactory = Callable[[HttpSettings], Transport]
# Makes a process's `requests.Session` for pages (pageclient.py); tests mount adapters of theirs.
PagesFactory = Callable[[HttpSettings], requests.Session]


def _jitter() -> float:
    # Not `random.random` itself: pickled, that would carry one generator's state to every
    # worker, which would then all draw the same jitter.
    return random.random()


@dataclass(frozen=True)
class Session:
    """How a run's requests are made, in whichever process a unit runs.

    Attributes:
        settings: The crawl's HTTP settings.
        throttle_dir: Where `http.rate` and `http.per_host` are kept across the run's
            processes (politeness.py); None: no limits held.
        transport: None (the default): files go through this process's libcurl engine
            (curl.py). Else a factory of this process's transport for files, made from the
            settings once per process: how a test hands the session a fake one (as
            tests/support.py's MockTransport, answering without a network).
        pages: Makes this process's `requests.Session` for pages (once per process).
        sleep: Waits before a retry.
        jitter: A number in [0, 1) that spreads retries (up to 10% on top of each backoff).
        clock: Seconds since the epoch, for Retry-After dates.
    """

    settings: HttpSettings
    throttle_dir: str | None = None
    transport: TransportFactory | None = None
    pages: PagesFactory = new_page_session
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = _jitter
    clock: Callable[[], float] = time.time
    _made: dict[int, Transport] = field(default_factory=dict, init=False, repr=False, compare=False)
    _pages: dict[int, requests.Session] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def client(self) -> Transport:
        """This process's transport for files, made by `transport` on first use (never one
        made before a fork).

        Raises:
            LookupError: No transport was handed: files go through libcurl (curl.py), which
                keeps its engine per process itself; there is no transport to give.
        """
        make = self.transport
        if make is None:
            raise LookupError("this session hands files to libcurl: it has no transport")
        return _per_process(self._made, lambda: make(self.settings))

    def page_client(self) -> requests.Session:
        """This process's `requests.Session` for pages, made on first use (never one made
        before a fork)."""
        return _per_process(self._pages, lambda: self.pages(self.settings))

    def close(self) -> None:
        """Close this process's clients, if it made them (tests and orderly shutdown)."""
        made = self._made.pop(os.getpid(), None)
        if made is not None:
            made.close()
        pages = self._pages.pop(os.getpid(), None)
        if pages is not None:
            pages.close()

    def __getstate__(self) -> dict[str, Any]:
        # Clients never cross: the other process makes its own.
        return {**self.__dict__, "_made": {}, "_pages": {}}


class _Closable(Protocol):
    def close(self) -> None: ...


_C = TypeVar("_C", bound=_Closable)


def _per_process(made: dict[int, _C], make: Callable[[], _C]) -> _C:
    """The one in `made` for this process, made on first use; two threads keep the same one."""
    pid = os.getpid()
    mine = made.get(pid)
    if mine is None:
        fresh = make()
        mine = made.setdefault(pid, fresh)  # atomic: the thread that came second closes its own
        if mine is not fresh:
            fresh.close()
    return mine
