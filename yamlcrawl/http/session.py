"""How one run talks HTTP: its settings, its transport, its clock and sleep, its throttle folder.

A `Session` is plain, picklable data that crosses to every worker process (and Dask task) in
the run context. What cannot cross, the transport with its pooled connections, it makes in each
process from the settings on first use: a transport inherited across a fork is never used
again, since parent and child reading the same socket get each other's bytes (it is left
untouched, not closed, because closing it could disturb the parent's connections). Tests hand
it a transport of their own (one that answers requests without a network, as httpx's
MockTransport does), a sleep that only records, a fixed clock.
"""

from __future__ import annotations

import os
import random
import time
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3
import urllib3.exceptions

from yamlcrawl.http.transport import Client
from yamlcrawl.types import HttpSettings

__all__ = ["Session", "Transport", "TransportFactory", "new_client", "resolve_user_agent"]

_UA_FAMILIES = {"chrome": "Chrome", "firefox": "Firefox", "safari": "Safari", "edge": "Edge"}


class Transport(Protocol):
    """Sends one request (following redirects) and hands back the response, its body unread.

    `transport.Client` is the real one; see `Client.request` for the contract.
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


def new_client(settings: HttpSettings) -> Transport:
    """The real transport: a `Client` carrying the User-Agent, proxies and TLS verification."""
    if not settings.verify:
        # The crawl asked for this explicitly; a warning per request would flood the output.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    return Client(
        user_agent=resolve_user_agent(settings.user_agent),
        proxies=dict(settings.proxies),
        verify=settings.verify,
    )


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
        transport: Makes this process's transport from the settings (once per process).
        sleep: Waits before a retry.
        jitter: A number in [0, 1) that spreads retries (up to 10% on top of each backoff).
        clock: Seconds since the epoch, for Retry-After dates.
    """

    settings: HttpSettings
    throttle_dir: str | None = None
    transport: TransportFactory = new_client
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = _jitter
    clock: Callable[[], float] = time.time
    _made: dict[int, Transport] = field(default_factory=dict, init=False, repr=False, compare=False)

    def client(self) -> Transport:
        """This process's transport, made on first use (never one made before a fork)."""
        pid = os.getpid()
        made = self._made.get(pid)
        if made is None:
            fresh = self.transport(self.settings)
            made = self._made.setdefault(pid, fresh)  # atomic: two threads keep the same one
            if made is not fresh:
                fresh.close()
        return made

    def close(self) -> None:
        """Close this process's transport, if it made one (tests and orderly shutdown)."""
        made = self._made.pop(os.getpid(), None)
        if made is not None:
            made.close()

    def __getstate__(self) -> dict[str, Any]:
        # Transports never cross: the other process makes its own.
        return {**self.__dict__, "_made": {}}


_user_agents: dict[tuple[int, str], str] = {}


def resolve_user_agent(spec: str) -> str:
    """Turn a `user_agent` setting into the header value to send.

    Args:
        spec: `chrome`, `firefox`, `safari` or `edge` (any case) for a desktop UA string of
            that browser from fake-useragent's bundled data, `random` for any UA it knows,
            anything else to be sent literally.

    Returns:
        The User-Agent string; the same one for a given spec for the life of the process.
    """
    family = spec.strip().lower()
    if family not in _UA_FAMILIES and family != "random":
        return spec
    key = (os.getpid(), family)
    if key not in _user_agents:
        # Imported here: loading its data costs ~0.1 s that `yamlcrawl plan` need not pay.
        from fake_useragent import UserAgent

        if family == "random":
            agent = UserAgent()
        else:
            agent = UserAgent(browsers=[_UA_FAMILIES[family]], platforms=["desktop"])
        _user_agents[key] = str(agent.random)
    return _user_agents[key]
