"""One file download on the wire: connection pools per process, proxies, TLS and redirects.

Files go through urllib3, the engine under requests, used directly: requests' own per-request
work (reading the environment for proxies and .netrc on every call, hooks, cookie merging,
runtime protocol checks) cost more CPU than all the rest of a small download (README,
"Figures"). Pages go through requests (pageclient.py), which shares from here what both
clients need alike: the connection classes that the attempt's deadline watches, the rule for
credentials on redirects, the CA bundle, the default headers. What this client does for files,
done once per process where it can be: environment proxies and `no_proxy` (CIDR ranges too),
SOCKS proxies (PySocks), a CA bundle path and client certificates, and redirects.

`fetch` owns everything above one request: retries, limits, parsing, writing files.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import urllib.parse
import urllib.request
from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

import certifi
import urllib3
import urllib3.connection
from urllib3.util import Timeout

from yamlcrawl.http import deadline

__all__ = ["DEFAULT_HEADERS", "HOSTS", "PRIVATE_HEADERS", "Client", "RedirectError"]

# Connections kept per host and process. A pool only opens what is asked of it at once, so a
# large bound costs nothing and keeps 32 threads in one process from churning connections.
_CONNECTIONS = 64
HOSTS = 32  # pools kept per process, one per (scheme, host, port); the least recent closes
# Dropped when a redirect leaves the origin (scheme, host, port) that was asked for, with
# whatever headers the caller names as private (those built from secrets).
PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}


class RedirectError(Exception):
    """A redirect that cannot be followed: too many, or to a URL that is not http(s)."""


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


class Client:
    """This process's connections for one crawl's HTTP settings. Safe to share between threads.

    Args:
        user_agent: The User-Agent header sent with every request.
        proxies: Proxy URL by URL scheme (`http`, `https`, or `all`); schemes not given fall
            back to the environment's `http_proxy`/`https_proxy`/`all_proxy`, skipping hosts in
            `no_proxy`, as curl and requests do.
        verify: Verify TLS certificates: True against `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE` or
            `SSL_CERT_FILE` when set, else certifi's bundle; a path: against that bundle.
        cert: A client certificate file (with its key in it), or (certificate, key).
    """

    def __init__(
        self,
        *,
        user_agent: str,
        proxies: Mapping[str, str],
        verify: bool | str,
        cert: str | tuple[str, str] | None = None,
    ) -> None:
        self.headers = {"User-Agent": user_agent, **DEFAULT_HEADERS}
        self.proxies = dict(proxies)
        self.verify = verify
        # Read once: requests read os.environ on every request, ~0.5 ms each (profiled).
        self._environment = urllib.request.getproxies_environment()
        tls = _tls_options(verify, cert)
        self._plain_options: dict[str, Any] = {"maxsize": _CONNECTIONS, "block": False}
        self._pool_options: dict[str, Any] = {**self._plain_options, **tls}
        # Direct hosts get their pools from here, not a PoolManager: it parses every URL a
        # second time and builds a pool key per request, ~10% of a worker's CPU (py-spy).
        self._direct: dict[tuple[str, str], urllib3.HTTPConnectionPool] = {}
        self._proxied: dict[str, urllib3.PoolManager] = {}
        self._routes: dict[tuple[str, str], urllib3.PoolManager | None] = {}
        self._lock = threading.Lock()

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
        """Send one request, following up to `max_redirects` redirects; the body is unread.

        The response's `url` is the URL it came from, after the redirects.

        The caller reads the body and then calls `release_conn()` (or `close()` if it stops
        early) on the response. A redirect to another origin (scheme, host or port) drops
        Authorization, Proxy-Authorization, Cookie and the headers named in `private`
        (case-insensitive), except on an upgrade from http to https on the default ports of
        the same host (see `keeps_credentials`).

        Raises:
            RedirectError: More than `max_redirects` redirects, or one to a non-http(s) URL.
            urllib3.exceptions.HTTPError: The request failed on the network or in TLS.
        """
        sent = urllib3.HTTPHeaderDict(self.headers)
        sent.update(headers)  # case-insensitively: a crawl's `user-agent` replaces ours
        limit = Timeout(connect=timeout, read=timeout)
        for _ in range(max_redirects + 1):
            response = self._open(method, url, sent, limit, body)
            location = response.get_redirect_location()
            if not location:
                response.url = url  # the final URL, where relative links resolve from
                return response
            response.close()  # its body is of no use, and may be large
            response.release_conn()
            deadline.detach()  # that connection is back in its pool: not ours to cut
            method, url = follow(method, url, location, response.status, sent, private)
            if method == "GET":  # a redirect that turned a POST into a GET drops its body
                body = None
                sent.discard("Content-Type")
        raise RedirectError(f"more than {max_redirects} redirects")

    def close(self) -> None:
        """Close every pooled connection (for tests and orderly shutdown)."""
        with self._lock:
            for pool in self._direct.values():
                pool.close()
            self._direct.clear()
            for manager in self._proxied.values():
                manager.clear()
            self._routes.clear()

    def _open(
        self,
        method: str,
        url: str,
        headers: urllib3.HTTPHeaderDict,
        timeout: Timeout,
        body: bytes | None,
    ) -> urllib3.BaseHTTPResponse:
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme.lower(), parts.netloc.lower())
        options: dict[str, Any] = {
            "headers": headers,
            "body": body,
            "redirect": False,
            "retries": False,
            "preload_content": False,
            "decode_content": True,
            "timeout": timeout,
        }
        proxy = self._route(key[0], (parts.hostname or "").lower())
        if proxy is not None:
            return proxy.urlopen(method, url, **options)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        return self._pool(key, url).urlopen(method, target, assert_same_host=False, **options)

    def _pool(self, key: tuple[str, str], url: str) -> urllib3.HTTPConnectionPool:
        pool = self._direct.get(key)
        if pool is None:
            with self._lock:
                pool = self._direct.get(key)
                if pool is None:
                    options = self._pool_options if key[0] == "https" else self._plain_options
                    where = urllib3.util.parse_url(url)
                    port = where.port or _DEFAULT_PORTS[key[0]]
                    pool = WATCHED_POOLS[key[0]](where.host, port=port, **options)
                    self._direct[key] = pool
                    if len(self._direct) > HOSTS:  # a crawl of many hosts: close the oldest
                        self._direct.pop(next(iter(self._direct))).close()
        return pool

    def _route(self, scheme: str, host: str) -> urllib3.PoolManager | None:
        """The proxy for this scheme and host, or None to connect directly; decided once."""
        key = (scheme, host)
        if key not in self._routes:
            with self._lock:
                proxy = self._proxy_for(scheme, host)
                self._routes[key] = None if proxy is None else self._proxy_manager(proxy)
        return self._routes[key]

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        explicit = self.proxies.get(scheme) or self.proxies.get("all")
        if explicit:
            return explicit
        environment = self._environment.get(scheme) or self._environment.get("all")
        if environment and not _bypassed(host, self._environment.get("no", "")):
            return environment
        return None

    def _proxy_manager(self, proxy: str) -> urllib3.PoolManager:
        manager = self._proxied.get(proxy)
        if manager is None and proxy.lower().startswith("socks"):
            from urllib3.contrib.socks import SOCKSProxyManager  # PySocks: loaded on use

            manager = SOCKSProxyManager(proxy, num_pools=HOSTS, **self._pool_options)
            manager.pool_classes_by_scheme = socks_pools()
            self._proxied[proxy] = manager
        elif manager is None:
            auth = urllib3.util.parse_url(proxy).auth
            headers = urllib3.make_headers(proxy_basic_auth=auth) if auth else None
            manager = urllib3.ProxyManager(
                proxy, HOSTS, proxy_headers=headers, **self._pool_options
            )
            manager.pool_classes_by_scheme = WATCHED_POOLS
            self._proxied[proxy] = manager
        return manager


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


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether `no_proxy` (`*`, or comma-separated hosts, domain suffixes and CIDR ranges of
    IP addresses) covers `host`."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*" or _in_range(host, entry):
            return True
        domain = entry.split(":", 1)[0].lstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def _in_range(host: str, entry: str) -> bool:
    """Whether `host` is an IP address in the CIDR range `entry` (such as 10.0.0.0/8)."""
    if "/" not in entry:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


def _tls_options(verify: bool | str, cert: str | tuple[str, str] | None) -> dict[str, Any]:
    """urllib3's pool options for the `verify` and `cert` settings."""
    if verify is False:
        options: dict[str, Any] = {"cert_reqs": "CERT_NONE"}
    else:
        bundle = verify if isinstance(verify, str) else ca_bundle()
        options = {"cert_reqs": "CERT_REQUIRED", "ca_certs": bundle}
    if isinstance(cert, str):
        options["cert_file"] = cert
    elif cert is not None:
        options["cert_file"], options["key_file"] = cert
    return options


def ca_bundle() -> str:
    """The CA bundle `verify: true` trusts: the environment's, as curl and requests read it."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(name):
            return os.environ[name]
    return str(certifi.where())  # the same bundle on every system, as requests uses
