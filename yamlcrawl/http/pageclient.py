"""Page requests (the conversation with APIs) through a `requests.Session`, one per process.

requests brings what users of a crawler expect and urllib3 alone does not: proxies of every
kind (SOCKS too, with PySocks), `no_proxy` with CIDR ranges, a CA bundle path, client
certificates, `.netrc` when no credentials are given, Digest authentication. It costs more CPU
per request than bare urllib3 (docs/benchmarks.md), which matters for thousands of files but not
for pages; files go through libcurl (curl.py).

What is ours on top of requests, each for a reason:
- the adapter's connections put themselves under the attempt's deadline (deadline.py);
- a redirect to another origin drops our private headers, the crawl's cookies and Digest's
  answer too, not only Authorization (`_PageSession.rebuild_auth`);
- the body of a response requests would read and throw away (a redirect, a 401) is not read:
  its size is not bounded there;
- cookies a server sets do not stay in the process's session: each request starts from the
  jar its unit carries (cookies.py), so every mode sees the same, and what the responses set
  goes back into that jar (a redirect chain sends those set along it);
- errors come out as the urllib3 exceptions underneath, which `fetch` classifies.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import threading
import urllib.parse
import warnings
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import requests.adapters
import requests.auth
import requests.cookies
import urllib3
import urllib3.exceptions

from yamlcrawl.http import transport
from yamlcrawl.http.cookies import header_from
from yamlcrawl.http.transport import (
    PRIVATE_HEADERS,
    RedirectError,
    ca_bundle,
    keeps_credentials,
    origin,
    socks_pools,
)
from yamlcrawl.http.useragent import resolve_user_agent
from yamlcrawl.types import HttpSettings

__all__ = ["new_page_session", "send"]

# Connections kept per host: as many as a process has threads (run.threads is at most 64).
_CONNECTIONS = 64
_HOSTS = 32  # pools kept per process, one per (scheme, host, port); the least recent closes


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, its pools (direct, through a proxy, through SOCKS) watched."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = transport.WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        socks = proxy.lower().startswith("socks")
        manager.pool_classes_by_scheme = socks_pools() if socks else transport.WATCHED_POOLS
        return manager


@dataclass(frozen=True)
class _Call:
    """What the redirects of the request being made in this thread must know about it."""

    private: Collection[str] = ()  # headers built from secrets (lowercase)
    cookie: str = ""  # the crawl's Cookie header, sent within the origin only
    has_auth: bool = False  # credentials were given: .netrc is not consulted


_calls = threading.local()


def _current() -> _Call:
    call: _Call | None = getattr(_calls, "current", None)
    return call if call is not None else _Call()


class _AsGiven(requests.auth.AuthBase):
    """Credentials already in the headers: keeps requests from adding .netrc's over them."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


class _KeepNone(http.cookiejar.DefaultCookiePolicy):
    """The process's session keeps no cookie between requests (module docstring)."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class _PageSession(requests.Session):
    """A `requests.Session` that holds redirects to the crawl's rule for credentials."""

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        """Keep or drop credentials for the next hop of a redirect chain.

        requests drops only Authorization off-host (and re-adds .netrc's for the new host);
        the crawl's rule (transport.keeps_credentials, the same on both clients) also drops
        Proxy-Authorization, the crawl's cookies, the headers built from secrets, and Digest's
        hook, which would otherwise answer the new host's challenge with our password.
        requests drops the Cookie header on every hop; within the origin ours comes back.
        """
        target = str(prepared_request.url)
        if urllib.parse.urlsplit(target).scheme.lower() not in ("http", "https"):
            raise RedirectError(f"redirected to a URL that is not http or https ({target})")
        call = _current()
        headers = prepared_request.headers
        if keeps_credentials(origin(str(response.request.url)), origin(target)):
            if call.cookie:
                found = headers.get("Cookie")
                headers["Cookie"] = call.cookie + (f"; {found}" if found else "")
            return
        for name in (*PRIVATE_HEADERS, *call.private):
            headers.pop(name, None)
        prepared_request.hooks["response"] = [_unread_if_dropped]
        jar = prepared_request._cookies  # type: ignore[attr-defined]  # those set on the way
        prepared_request.prepare_cookies(jar)
        if self.trust_env and not call.has_auth:
            netrc = requests.utils.get_netrc_auth(target)
            if netrc is not None:
                prepared_request.prepare_auth(netrc)


def _unread_if_dropped(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Close a redirect's or a 401's body unread: requests would read all of it into memory,
    however large, only to throw it away (the connection is not reused)."""
    if response.is_redirect or response.status_code == 401:
        response.raw.close()
        response._content = b""
        response._content_consumed = True  # type: ignore[attr-defined]


def new_page_session(settings: HttpSettings) -> requests.Session:
    """This process's `requests.Session` for pages, from the crawl's HTTP settings."""
    session = _PageSession()
    session.trust_env = True  # environment proxies and no_proxy, .netrc, CA bundle variables
    session.max_redirects = settings.max_redirects
    session.headers = requests.structures.CaseInsensitiveDict(
        {"User-Agent": resolve_user_agent(settings.user_agent), **transport.DEFAULT_HEADERS}
    )
    session.cookies.set_policy(_KeepNone())
    session.hooks["response"] = [_unread_if_dropped]
    if settings.cert:
        session.cert = settings.cert
    adapter = _WatchedAdapter(pool_connections=_HOSTS, pool_maxsize=_CONNECTIONS)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if settings.verify is False:
        # The crawl asked for this explicitly; a warning per request would flood the output.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    return session


def send(
    session: requests.Session,
    settings: HttpSettings,
    request: tuple[str, str],
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
    private: Collection[str] = (),
    digest: tuple[str, str] | None = None,
    jar: requests.cookies.RequestsCookieJar | None = None,
) -> urllib3.BaseHTTPResponse:
    """Send one page request (method, URL), following redirects; the body is left unread.

    Args:
        session: This process's page session (`new_page_session`).
        settings: The crawl's HTTP settings (timeout, proxies, verify).
        request: The method and URL.
        headers: Headers sent over the session's.
        body: The request body, if any.
        private: Headers built from secrets, dropped by a redirect to another origin.
        digest: (user, password) for Digest authentication.
        jar: The cookies to send where they apply; what every response sets is added to it.

    Returns:
        The last response, as urllib3 hands it over, its `url` the final one: the caller
        reads its body and releases its connection.

    Raises:
        RedirectError: Too many redirects, or one to a URL that is not http(s).
        urllib3.exceptions.HTTPError: The request failed on the network or in TLS.
    """
    method, url = request
    # Whitespace around a value is not part of it (RFC 9110, 5.5); requests refuses it.
    given = {name: value.strip(" \t") for name, value in headers.items()}
    cookie = next((given.pop(k) for k in list(given) if k.lower() == "cookie"), "")
    has_auth = digest is not None or any(k.lower() == "authorization" for k in given)
    if cookie:  # requests sends the jar's only without one: both go
        found = None if jar is None else header_from(jar, url)
        given["Cookie"] = f"{cookie}; {found}" if found else cookie
    auth: requests.auth.AuthBase | None = None
    if digest is not None:
        auth = requests.auth.HTTPDigestAuth(*digest)
    elif has_auth:
        auth = _AsGiven()
    with _calling(_Call(tuple(private), cookie, has_auth)):
        failure = None
        try:
            response = session.request(
                method,
                url,
                headers=given,
                data=body,
                auth=auth,
                timeout=(settings.timeout, settings.timeout),
                proxies=dict(settings.proxies),  # before the environment's (requests: after)
                verify=_verify(settings),
                stream=True,
                cookies=jar,
            )
            if jar is not None:
                for each in (*response.history, response):
                    requests.cookies.extract_cookies_to_jar(jar, each.request, each.raw)  # type: ignore[no-untyped-call]
        except requests.RequestException as exc:
            failure = _underlying(exc, settings)
        except OSError as exc:  # requests' own: a CA bundle or certificate file not found
            failure = urllib3.exceptions.HTTPError(str(exc))
    if failure is not None:
        raise failure  # outside the handler: the chain is the one urllib3 raised
    raw: urllib3.BaseHTTPResponse = response.raw
    raw.url = response.url  # the final URL, after redirects: where relative links resolve from
    return raw


@contextlib.contextmanager
def _calling(call: _Call) -> Iterator[None]:
    _calls.current = call
    try:
        yield
    finally:
        _calls.current = None


def _verify(settings: HttpSettings) -> bool | str:
    """What requests verifies against, given per request: requests would let the environment's
    REQUESTS_CA_BUNDLE override even `verify: false` set on the session."""
    if isinstance(settings.verify, str):
        return settings.verify
    return ca_bundle() if settings.verify else False


def _underlying(exc: requests.RequestException, settings: HttpSettings) -> Exception:
    """The urllib3 exception under one of requests' (what `fetch` classifies), or ours."""
    if isinstance(exc, requests.TooManyRedirects):
        return RedirectError(f"more than {settings.max_redirects} redirects")
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    if isinstance(inner, urllib3.exceptions.MaxRetryError) and inner.reason is not None:
        inner = inner.reason
    if isinstance(inner, urllib3.exceptions.HTTPError | RedirectError):
        return inner
    if isinstance(exc, requests.exceptions.InvalidHeader):  # its message shows the value
        return urllib3.exceptions.HTTPError("a header has a line break or a reserved character")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
        return urllib3.exceptions.LocationValueError(str(exc))
    return urllib3.exceptions.HTTPError(str(inner or exc))
