"""What neither HTTP library does for us, shared by the page client and the file client.

Pages go through requests (pageclient.py) and files through libcurl (curl.py); both choose
proxies (with `no_proxy`, CIDR ranges and SOCKS), check TLS and pool connections themselves.
What is left here is each for a reason neither library covers:

- The crawl's rule for credentials on redirects (`follow`, `origin`, `keeps_credentials`,
  `PRIVATE_HEADERS`, `RedirectError`). Both libraries drop Authorization when a redirect leaves
  the host, but neither knows which other headers the crawl built from secrets (an API key
  header from a template, the crawl's cookies). So the file client follows redirects itself
  (libcurl's FOLLOWLOCATION is off) with `follow`, and the page client's `rebuild_auth` asks
  `keeps_credentials`: one rule, the same on both clients.
- The CA bundle `verify: true` trusts (`ca_bundle`): requests reads REQUESTS_CA_BUNDLE and
  CURL_CA_BUNDLE and falls back to certifi's; libcurl reads no variable and falls back to a
  path built into it, which a wheel's libcurl may not find on this system. One bundle for both.
- The headers every request starts from (`DEFAULT_HEADERS`): requests would offer br and zstd
  wherever those decoders happen to be installed, and libcurl whatever it was built with; pages
  and files ask alike on every machine.
- Connections that put themselves under the attempt's total deadline (`WatchedHTTPConnection`,
  `WatchedPool`, `WATCHED_POOLS`, `socks_pools`), for requests' adapter (pageclient.py). A
  timeout in requests bounds each socket operation, not a request, and requests has no hook for
  the socket an attempt uses; deadline.py needs that socket to cut it. (libcurl has a whole
  transfer timeout of its own: curl.py uses it.)

`fetch` owns everything above one request: retries, limits, parsing, writing files.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Collection
from functools import cache
from typing import Any

import certifi
import urllib3
import urllib3.connection

from yamlcrawl.http import deadline

__all__ = [
    "DEFAULT_HEADERS",
    "PRIVATE_HEADERS",
    "WATCHED_POOLS",
    "RedirectError",
    "WatchedHTTPConnection",
    "WatchedPool",
    "ca_bundle",
    "follow",
    "keeps_credentials",
    "origin",
    "socks_pools",
]

# Dropped when a redirect leaves the origin (scheme, host, port) that was asked for, with
# whatever headers the caller names as private (those built from secrets).
PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Only what every client decodes: a file is stored decoded, as the server meant it.
DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}


class RedirectError(Exception):
    """A redirect that cannot be followed: too many, or to a URL that is not http(s)."""


# --- redirects: the crawl's rule for credentials ------------------------------------------


def follow(
    method: str,
    url: str,
    location: str,
    status: int,
    headers: urllib3.HTTPHeaderDict,
    private: Collection[str] = (),
) -> tuple[str, str]:
    """The method and URL of the next request of a redirect chain (may drop headers)."""
    target = urllib.parse.urljoin(url, location)
    scheme = urllib.parse.urlsplit(target).scheme.lower()
    if scheme not in ("http", "https"):
        raise RedirectError(f"redirected to a URL that is not http or https ({target})")
    if not keeps_credentials(origin(url), origin(target)):
        for name in (*PRIVATE_HEADERS, *private):
            headers.discard(name)
    # 303 always, and 301/302 after a POST as every browser does, turn into a GET.
    if status == 303 or (status in (301, 302) and method == "POST"):
        method = "GET"
    return method, target


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, the port filled in from the scheme."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise RedirectError(f"redirected to a URL with a bad port ({url})") from exc
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS[scheme]


def keeps_credentials(source: tuple[str, str, int], target: tuple[str, str, int]) -> bool:
    """Whether a redirect from origin `source` to `target` may carry credentials along.

    Only to the same origin, or from http to https on the same host with the default ports
    (80 to 443), as requests allows: that hop only moves the site to TLS, and what it carries
    has already crossed the network in clear. Any other change of scheme, host or port drops
    them; https to http always does.
    """
    if source == target:
        return True
    return source == ("http", target[1], 80) and target == ("https", source[1], 443)


# --- the CA bundle ---------------------------------------------------------------------------


def ca_bundle() -> str:
    """The CA bundle `verify: true` trusts: the environment's, as curl and requests read it."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(name):
            return os.environ[name]
    return str(certifi.where())  # the same bundle on every system, as requests uses


# --- connections under the attempt's deadline (requests' adapter) ---------------------------


# Connections that put themselves under the deadline of the attempt using them (deadline.py),
# before every step that can block: connecting (and the TLS handshake), then each request.
# pageclient.py builds its SOCKS connections on this one too.
class WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """A connection that attaches itself to the current attempt's deadline before each step."""

    def connect(self) -> None:
        deadline.attach(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline.attach(self)
        super().request(*args, **kwargs)


# The same steps, before HTTPSConnection's own in the method order (connect does TLS too).
class _WatchedHTTPSConnection(WatchedHTTPConnection, urllib3.connection.HTTPSConnection):
    pass


class WatchedPool(urllib3.HTTPConnectionPool):
    """A pool that takes a connection handed back to it off the deadline first: from then on
    another thread may take it, and a deadline passing must not cut it under that thread."""

    def _put_conn(self, conn: Any) -> None:
        deadline.detach()
        super()._put_conn(conn)


class _WatchedHTTPPool(WatchedPool):
    ConnectionCls = WatchedHTTPConnection


class _WatchedHTTPSPool(WatchedPool, urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


WATCHED_POOLS: dict[str, Any] = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


@cache
def socks_pools() -> dict[str, Any]:
    """Watched pools for a SOCKS proxy (urllib3's SOCKS module needs PySocks: loaded on use)."""
    from urllib3.contrib import socks

    class Plain(WatchedHTTPConnection, socks.SOCKSConnection):
        pass

    class Tls(WatchedHTTPConnection, socks.SOCKSHTTPSConnection):
        pass

    class PlainPool(WatchedPool, socks.SOCKSHTTPConnectionPool):
        ConnectionCls = Plain

    class TlsPool(WatchedPool, socks.SOCKSHTTPSConnectionPool):
        ConnectionCls = Tls

    return {"http": PlainPool, "https": TlsPool}
