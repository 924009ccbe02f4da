"""The HTTP layer: requests through the run's session, our own retries, JSON documents and files.

Everything that talks to the network goes through `fetch_document` (a JSON or JSONP value)
or `download_to` (a file's body, streamed to a sink it is handed: it knows no paths). Both retry
transient failures with exponential backoff and raise `FetchError`, whose message is one
sentence naming the URL and the cause, when a request fails for good.
"""

from __future__ import annotations

import codecs
import contextlib
import email.message
import email.utils
import hashlib
import http.client
import json
import math
import re
import socket
import ssl
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from functools import partial
from itertools import accumulate
from typing import Any, Literal, TypeVar

import requests.cookies
import urllib3
import urllib3.exceptions

from yamlcrawl.http import attempt as attempts
from yamlcrawl.http import curl, deadline, pageclient, ranges
from yamlcrawl.http.attempt import AttemptError as _AttemptError
from yamlcrawl.http.conditional import conditional_headers, kept_body, to_keep
from yamlcrawl.http.cookies import jar_of, rows_of
from yamlcrawl.http.politeness import polite
from yamlcrawl.http.session import Session, resolve_user_agent
from yamlcrawl.http.transport import RedirectError
from yamlcrawl.types import ByteSink, Cookies, HeldPart, HttpSettings, RangeSink, StoredPage

__all__ = [
    "MAX_DEPTH",
    "Document",
    "FetchError",
    "Session",
    "download_to",
    "fetch_document",
    "resolve_user_agent",
    "with_query",
]

_T = TypeVar("_T")

_MAX_RETRY_AFTER = 60.0
_JITTER = 0.1  # up to 10% on top of each backoff, so forked workers do not retry in lockstep
_CHUNK = 256 * 1024  # most images arrive in one read; a huge file still never sits in memory
_PREVIEW = 80
# Deeper JSON is refused as it is parsed: no API nests this deep, and deeper values break
# pickling (process, queue, pool) and Dask's serialisation in different ways.
MAX_DEPTH = 200
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_JSONP = re.compile(
    r"\A\s*(?:/\*.*?\*/\s*)?"  # `/**/` is prepended by many servers against content sniffing
    r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*\s*"
    r"\((?P<json>.*)\)\s*;?\s*\Z",
    re.DOTALL,
)


class FetchError(Exception):
    """A request that failed for good. str() is one clear sentence naming the URL and the cause.

    Attributes:
        url: The URL asked for (with its query parameters).
        attempts: Requests made; 0 when the URL was refused before any request.
        status: The last HTTP status received, or None if no response arrived.
    """

    url: str
    attempts: int
    status: int | None

    # Keyword arguments have defaults so the default exception pickling (cls(*args), then the
    # instance __dict__) works: a FetchError raised in a pool worker reaches the parent intact.
    def __init__(
        self, message: str, *, url: str = "", attempts: int = 0, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts
        self.status = status


@dataclass(frozen=True)
class Document:
    """A parsed JSON response.

    Attributes:
        data: The parsed JSON value.
        status: The HTTP status of the response.
        attempts: 1 + retries used.
        bytes: Size of the body (after content decoding).
        url: The URL the body came from, after redirects (the URL requested, query included,
            if the transport does not say): where relative links resolve from, as a browser
            resolves them.
        link: The response's Link header ("" if none), for `paginate: {by: link}`.
        digest: SHA-1 of the body: the same page twice has the same digest.
        cookies: The cookies sent, with those the response (and its redirects) set.
    """

    data: Any
    status: int
    attempts: int
    bytes: int
    url: str = ""
    link: str = ""
    digest: str = ""
    cookies: Cookies = ()
    not_modified: bool = False  # a 304: `data` is the body an earlier run kept
    kept: StoredPage | None = None  # what to keep of this 2xx response, if asked and it can be


class _BadDocumentError(Exception):
    """A 2xx body that is not the JSON (or JSONP) expected; the argument says why."""


class _TooDeepError(_BadDocumentError):
    """JSON nested deeper than `MAX_DEPTH`."""


# --- public fetch functions ---------------------------------------------------------------


def fetch_document(
    session: Session,
    url: str,
    *,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    fmt: Literal["json", "jsonp"] = "json",
    on_retry: Callable[[str], None] | None = None,
    body: tuple[str, bytes] | None = None,
    private: Collection[str] = (),
    digest: tuple[str, str] | None = None,
    cookies: Cookies = (),
    cached: StoredPage | None = None,
    keep: bool = False,
) -> Document:
    """Request `url` and parse the body as JSON, retrying transient failures.

    Args:
        session: How the run makes requests (settings, transport, sleep between retries).
        url: An http or https URL.
        method: The HTTP method.
        params: Query parameters added to the URL.
        headers: Headers sent over the session's.
        fmt: `json`, or `jsonp` to unwrap `callback(...)` first.
        on_retry: Called with the reason before each retry.
        body: (content type, bytes) to send, sent again as it is on each retry.
        private: Names of headers built from secrets: dropped, as Authorization and Cookie
            are, by a redirect to another origin (pageclient.py).
        digest: (user, password) for HTTP Digest authentication.
        cookies: The cookies the request sends where they apply (cookies.py).
        cached: What an earlier run kept of this request's response: the request is made
            conditional, and a 304 is answered with its body (conditional.py); a kept body
            that is damaged is asked for again, unconditionally.
        keep: Hand back what to keep of a 2xx response (`Document.kept`).

    Returns:
        The parsed document with its status, attempts and size, and the cookies after it.

    Raises:
        FetchError: The URL is not http(s), the request failed for good (after retries where
            retrying could help), the status is not 2xx, or the body is not the JSON expected.
    """
    method = method.upper()
    shown = _with_params(url, params)
    _check_url(method, url, shown)
    target = with_query(url, params)
    jar = jar_of(cookies)
    content = None
    if body is not None:
        headers = {"Content-Type": body[0], **(headers or {})}
        content = body[1]
    request = _PageRequest(method, target, headers or {}, content, private, digest)
    answer, attempts = _page_answer(session, request, jar, cached, (shown, on_retry))
    data = _document_data(
        answer.body, answer.content_type, fmt, (method, shown), (answer.status, attempts)
    )
    kept = None
    if keep and answer.status != 304:
        kept = to_keep(target, answer.validators, answer.body, answer.content_type, answer.link)
    return Document(
        data=data,
        status=answer.status,
        attempts=attempts,
        bytes=len(answer.body),
        url=answer.final,
        link=answer.link,
        digest=hashlib.sha1(answer.body, usedforsecurity=False).hexdigest(),
        cookies=rows_of(jar),
        not_modified=answer.status == 304,
        kept=kept,
    )


@dataclass(frozen=True)
class _PageRequest:
    """A page request as every attempt sends it: (method, URL with query), headers, body,
    the headers a redirect to another origin drops, Digest credentials."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes | None
    private: Collection[str]
    digest: tuple[str, str] | None


@dataclass(frozen=True)
class _Answer:
    """A page response read whole: a 304's body is the one kept from an earlier run."""

    status: int
    content_type: str
    body: bytes
    link: str
    final: str
    validators: tuple[str, str]  # its ETag and Last-Modified headers ("" if none)


def _page_answer(
    session: Session,
    request: _PageRequest,
    jar: requests.cookies.RequestsCookieJar,
    cached: StoredPage | None,
    shown: tuple[str, Callable[[str], None] | None],
) -> tuple[_Answer, int]:
    """The response to ``request`` (conditional if ``cached``) and the attempts it took. A 304
    stands for the kept body; if that is damaged, the page is asked for again unconditionally
    (that second request is not counted as a retry: nothing failed)."""
    url, on_retry = shown
    attempt = partial(_page_attempt, session, request, jar, cached)
    answer, attempts = _with_retries(session, request.method, url, attempt, on_retry)
    if answer.status != 304 or cached is None:
        return answer, attempts
    kept = kept_body(cached, session.settings.max_page_bytes)
    if kept is not None:
        content_type, link = cached.content_type, cached.link
        return replace(answer, body=kept, content_type=content_type, link=link), attempts
    attempt = partial(_page_attempt, session, request, jar, None)
    answer, again = _with_retries(session, request.method, url, attempt, on_retry)
    return answer, attempts - 1 + again


def _page_attempt(
    session: Session,
    request: _PageRequest,
    jar: requests.cookies.RequestsCookieJar,
    cached: StoredPage | None,
) -> _Answer:
    """One attempt of a page request; a 304 is an answer when the request was conditional."""
    headers = {**request.headers, **conditional_headers(cached)}
    settings = session.settings

    def open_page() -> urllib3.BaseHTTPResponse:
        return pageclient.send(
            session.page_client(),
            settings,
            (request.method, request.target),
            headers=headers,
            body=request.body,
            private=request.private,
            digest=request.digest,
            jar=jar,
        )

    with _send(open_page, settings) as resp:
        if resp.status != 304 or cached is None:
            _check_status(resp, settings)
        received = _read_all(resp, settings)
        return _Answer(
            resp.status,
            resp.headers.get("Content-Type", ""),
            received,
            resp.headers.get("Link", ""),
            _final_url(resp, request.target),
            (resp.headers.get("ETag", ""), resp.headers.get("Last-Modified", "")),
        )


def download_to(
    session: Session,
    url: str,
    sink: ByteSink,
    *,
    headers: Mapping[str, str] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    on_retry: Callable[[str], None] | None = None,
    private: Collection[str] = (),
) -> int:
    """Stream `url` into `sink`, retrying transient failures; return the attempts made.

    The body is never held in memory. Each attempt begins the sink over (`sink.begin`, with
    the response's Content-Type) and writes the body to it chunk by chunk; a failed attempt is
    discarded at once (not after the backoff sleep), and on any failure, KeyboardInterrupt
    included, the sink is discarded before the exception propagates. Where the bytes go, and
    what the whole file is called, is the sink's business (storage/files.py). A sink that
    keeps part of a large body when discarded (`types.RangeSink`) is asked only for the rest
    on the next attempt, if the server still has the same file (ranges.py).

    Args:
        session: How the run makes requests (settings, transport, sleep between retries).
        url: An http or https URL.
        sink: Where the body goes.
        headers: Headers sent over the session's.
        on_bytes: Called with the size of each chunk written. When an attempt fails on the
            network after writing, it is called once with minus the bytes that attempt
            reported, so the running sum matches what the sink holds: the body's size on
            success, 0 when a FetchError is raised.
        on_retry: Called with the reason before each retry.
        private: Names of headers built from secrets, dropped by a redirect to another origin.

    Returns:
        1 + the retries used.

    Raises:
        FetchError: The URL is not http(s), the request failed for good, or the status is not
            2xx.
        OSError: The sink could not take the body.
    """
    _check_url("GET", url, url)
    if session.transport is None:  # this process's libcurl engine (curl.py)

        def attempt() -> None:
            curl.fetch_file(
                session.settings, url, sink, headers=headers, private=private, on_bytes=on_bytes
            )

    else:
        attempt = _transport_attempt(session, url, sink, (headers, private, on_bytes))
    try:
        return _with_retries(session, "GET", url, attempt, on_retry)[1]
    except BaseException:
        sink.discard()
        raise


def _transport_attempt(
    session: Session,
    url: str,
    sink: ByteSink,
    options: tuple[Mapping[str, str] | None, Collection[str], Callable[[int], None] | None],
) -> Callable[[], None]:
    """One attempt of a download through the transport a test handed the session (a fake
    one that answers without a network), read as a page's response is read."""
    headers, private, on_bytes = options
    settings = session.settings
    client = session.client()

    def attempt() -> None:
        ranged, held = ranges.held_by(sink)
        sent = headers if held is None else ranges.with_range(headers, held)

        def open_file() -> urllib3.BaseHTTPResponse:
            return client.request(
                "GET",
                url,
                headers=sent or {},
                timeout=settings.timeout,
                max_redirects=settings.max_redirects,
                private=private,
            )

        with _send(open_file, settings) as resp:
            ranges.refused(ranged, held, resp.status)
            _check_status(resp, settings)
            _stream_to(resp, (sink, ranged, held), settings, on_bytes)

    return attempt


# --- one attempt --------------------------------------------------------------------------


@contextlib.contextmanager
def _send(
    send: Callable[[], urllib3.BaseHTTPResponse], settings: HttpSettings
) -> Iterator[urllib3.BaseHTTPResponse]:
    """Send one request (`send` does); yield the response with its body unread, let go after.

    A body read to its end hands the connection back to the pool for the next request; one
    left unread (an error status, a failure mid-body) closes it. The whole attempt, body
    included, runs under `settings.attempt_deadline` (deadline.py): past it, the connection
    is cut and the attempt fails, not retried, with the deadline as its cause.
    """
    with deadline.watch(settings.attempt_deadline) as limit:
        try:
            try:
                resp = send()
            except (urllib3.exceptions.HTTPError, RedirectError) as exc:
                raise _failure_from(exc, settings) from exc
            read_through = False
            try:
                yield resp
                read_through = True  # every caller reads the body to its end before returning
            finally:
                if not read_through:
                    resp.close()
                limit.finish()  # before the connection goes back to its pool
                resp.release_conn()
        except _AttemptError as failure:
            if limit.expired:
                raise attempts.past_deadline(settings) from failure
            raise


def _check_in_time(settings: HttpSettings) -> None:
    """Between two reads of a body: stop if the attempt's deadline has passed."""
    if deadline.expired():
        raise attempts.past_deadline(settings)


def _check_status(resp: urllib3.BaseHTTPResponse, settings: HttpSettings) -> None:
    """Raise an `_AttemptError` for a non-2xx status (attempt.py's rule, shared with curl.py)."""
    retry_after = resp.headers.get("Retry-After", "")
    attempts.check_status(resp.status, resp.reason or "", retry_after, settings)


def _read_all(resp: urllib3.BaseHTTPResponse, settings: HttpSettings) -> bytes:
    """Read a whole (document-sized) body, turning transfer failures into `_AttemptError`s."""
    limit = settings.max_page_bytes
    _refuse_declared_size(resp, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in resp.stream(_CHUNK, decode_content=True):
            _check_in_time(settings)
            size += len(chunk)
            if limit is not None and size > limit:
                raise attempts.too_big(limit)
            chunks.append(chunk)
    except urllib3.exceptions.HTTPError as exc:
        raise _failure_from(exc, settings, resp) from exc
    _check_in_time(settings)  # a body without a length ends where the deadline cut it
    _check_length(resp)
    return b"".join(chunks)


def _refuse_declared_size(resp: urllib3.BaseHTTPResponse, limit: int | None) -> None:
    refused = attempts.declared_too_big(_content_length(resp), limit)
    if refused is not None:
        raise refused


def _stream_to(
    resp: urllib3.BaseHTTPResponse,
    sinks: tuple[ByteSink, RangeSink | None, HeldPart | None],
    settings: HttpSettings,
    on_bytes: Callable[[int], None] | None,
) -> None:
    """Write the body to the sink chunk by chunk, within the size limit and the deadline (on
    the part it holds, if the response continues it: ranges.py)."""
    sink, ranged, held = sinks
    size = 0
    limit = settings.max_bytes
    try:
        _refuse_declared_size(resp, limit)
        start = ranges.begin(sink, ranged, held, resp.status, resp.headers.get)
        for chunk in resp.stream(_CHUNK):
            _check_in_time(settings)
            if limit is not None and size + len(chunk) > limit:
                raise attempts.too_big(limit)
            sink.write(chunk)
            size += len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
        _check_in_time(settings)
        _check_length(resp)
        ranges.complete(start, size)
    except (urllib3.exceptions.HTTPError, _AttemptError) as exc:
        # Drop the partial body now, not after the backoff sleep, and rewind the progress.
        sink.discard()
        if on_bytes is not None and size:
            on_bytes(-size)
        if isinstance(exc, _AttemptError):
            raise
        raise _failure_from(exc, settings, resp) from exc


def _check_length(resp: urllib3.BaseHTTPResponse) -> None:
    """Raise a retryable `_AttemptError` if fewer bytes arrived than Content-Length announced.

    urllib3 2 normally raises IncompleteRead itself; this is the check that does not depend
    on its settings. Bytes are counted on the wire (before gzip decoding), as Content-Length is.
    """
    if resp.status in (204, 304):
        return
    expected = _content_length(resp)
    if expected is None:
        return
    received = resp.tell()
    if received < expected:
        raise _AttemptError(f"body ended after {received} of {expected} bytes", retryable=True)


def _content_length(resp: urllib3.BaseHTTPResponse) -> int | None:
    return attempts.content_length(resp.headers.get("Content-Length", ""))


# --- retries ------------------------------------------------------------------------------


def _with_retries(
    session: Session,
    method: str,
    url: str,
    attempt: Callable[[], _T],
    on_retry: Callable[[str], None] | None = None,
) -> tuple[_T, int]:
    """Call `attempt` until it succeeds or fails for good; return its result and attempts."""
    settings = session.settings
    attempts = 0
    while True:
        attempts += 1
        try:
            with polite(session.throttle_dir, url, settings.rate, settings.per_host):
                return attempt(), attempts
        except _AttemptError as failure:
            if not failure.retryable or attempts > settings.retries:
                tries = "" if attempts == 1 else f" after {attempts} attempts"
                raise FetchError(
                    f"{method} {url} failed{tries}: {failure.cause}",
                    url=url,
                    attempts=attempts,
                    status=failure.status,
                ) from (failure.__cause__ or failure)
            floor = _retry_after(failure.retry_after, session.clock)
            delay = _delay(settings, attempts - 1, floor, session.jitter)
            if on_retry is not None:
                on_retry(
                    f"{failure.cause}; retry {attempts} of {settings.retries} in {delay:.1f} s"
                )
            session.sleep(delay)


def _delay(settings: HttpSettings, retry: int, floor: float, jitter: Callable[[], float]) -> float:
    """Seconds before retry number `retry` (0-based): exponential, jittered, >= `floor`."""
    base = settings.backoff * 2.0**retry
    return max(base * (1 + _JITTER * jitter()), floor)


def _retry_after(value: str, clock: Callable[[], float]) -> float:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), in [0, 60];
    `clock` says what time it is now (seconds since the epoch)."""
    if not value:
        return 0.0
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 0.0  # unparsable: fall back to our own backoff
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - clock()
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


# --- turning exceptions into causes -------------------------------------------------------


def _failure_from(
    exc: BaseException, settings: HttpSettings, resp: urllib3.BaseHTTPResponse | None = None
) -> _AttemptError:
    """Classify a urllib3 (or redirect) exception: a short cause and whether to retry."""
    chain = _exception_chain(exc)
    if isinstance(exc, RedirectError):
        return _AttemptError(str(exc), retryable=False)
    if isinstance(exc, urllib3.exceptions.SSLError):
        # A certificate that fails verification will fail again; a torn handshake may not.
        verify_failed = any(isinstance(e, ssl.SSLCertVerificationError) for e in chain)
        return _AttemptError(f"TLS error ({_innermost(chain)})", retryable=not verify_failed)
    if isinstance(exc, urllib3.exceptions.DecodeError):
        problem = f"could not decode the compressed body ({_innermost(chain)})"
        return _AttemptError(problem, retryable=False)
    if isinstance(exc, urllib3.exceptions.LocationValueError):
        return _AttemptError(f"the URL is not valid ({_innermost(chain)})", retryable=False)
    cause = _transient_cause(chain, settings, resp)
    if cause is not None:
        return _AttemptError(cause, retryable=True)
    network = (urllib3.exceptions.ProtocolError, urllib3.exceptions.ProxyError, OSError)
    retryable = any(isinstance(e, network) for e in chain)
    return _AttemptError(_innermost(chain), retryable=retryable)


def _transient_cause(
    chain: list[BaseException], settings: HttpSettings, resp: urllib3.BaseHTTPResponse | None
) -> str | None:
    """A short cause for a network failure worth another attempt, or None if it is not one."""
    # Order matters: RemoteDisconnected subclasses ConnectionResetError, and urllib3's
    # NewConnectionError (connection refused, unreachable...) its ConnectTimeoutError.
    for exc in chain:
        if isinstance(exc, http.client.RemoteDisconnected):
            return "the server closed the connection without a response"
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, ConnectionResetError):
            return "connection reset by the server"
        if isinstance(exc, socket.gaierror):
            return f"could not resolve the host name ({exc.strerror or exc})"
    for exc in chain:
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            continue
        if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)):
            return f"timed out after {settings.timeout:g} s"
    for exc in chain:
        if isinstance(exc, http.client.IncompleteRead):
            return _short_body_cause(exc, resp)
        if isinstance(exc, urllib3.exceptions.InvalidChunkLength):
            return "the chunked body broke off"
    if resp is not None and any(isinstance(e, urllib3.exceptions.ProtocolError) for e in chain):
        return "the body broke off"
    return None


def _short_body_cause(
    exc: http.client.IncompleteRead, resp: urllib3.BaseHTTPResponse | None
) -> str:
    expected = _content_length(resp) if resp is not None else None
    if resp is not None and expected is not None:
        return f"body ended after {resp.tell()} of {expected} bytes"
    if isinstance(exc.partial, int) and isinstance(exc.expected, int):
        # urllib3's IncompleteRead: bytes read so far and bytes still expected.
        return f"body ended after {exc.partial} of {exc.partial + exc.expected} bytes"
    if resp is not None and resp.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return "the chunked body broke off"
    return "the body ended early"


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception it wraps (cause, context, args, urllib3's `reason`)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None))
        todo.extend(e for e in (*linked, *current.args) if isinstance(e, BaseException))
    return seen


def _innermost(chain: list[BaseException]) -> str:
    """A one-line description of the deepest exception that has something to say."""
    for exc in reversed(chain):
        text = " ".join(str(exc).split())
        if text:
            return text
    return type(chain[0]).__name__


# --- URLs and documents -------------------------------------------------------------------


def _check_url(method: str, url: str, shown: str) -> None:
    """Refuse anything but an absolute http(s) URL before any request is made."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        problem = f"is not a valid URL ({exc})"
    else:
        if parts.scheme.lower() not in ("http", "https"):
            problem = "is not an http or https URL"
        elif not parts.hostname:
            problem = "has no host"
        else:
            return
    raise FetchError(f"{method} {shown} refused: the URL {problem}", url=shown, attempts=0)


def _final_url(resp: urllib3.BaseHTTPResponse, requested: str) -> str:
    """The absolute URL a response came from (after redirects), else the one requested."""
    try:
        final = resp.url
    except NotImplementedError:
        return requested
    if final and urllib.parse.urlsplit(final).scheme.lower() in ("http", "https"):
        return final
    return requested


def with_query(url: str, params: Mapping[str, str] | None) -> str:
    """The URL sent: query parameters percent-encoded and appended.

    Args:
        url: The URL, perhaps with a query of its own.
        params: Query parameters to append.

    Returns:
        The URL with ``params`` encoded after ``?`` (or ``&``).
    """
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params)}"


def _with_params(url: str, params: Mapping[str, str] | None) -> str:
    """The URL as requested, for messages: query parameters appended, not percent-encoded."""
    if not params:
        return url
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _document_data(
    received: bytes,
    content_type: str,
    fmt: Literal["json", "jsonp"],
    request: tuple[str, str],
    outcome: tuple[int, int],
) -> Any:
    """The body's JSON value; else a FetchError for the request (method, URL as shown).

    ``outcome``: the response's status and the attempts made, for the error.
    """
    method, shown = request
    status, attempts = outcome
    try:
        return _parse_document(received, content_type, fmt)
    except _TooDeepError as deep:
        raise FetchError(
            f"{method} {shown} refused: the JSON is {deep}",
            url=shown,
            attempts=attempts,
            status=status,
        ) from deep
    except _BadDocumentError as bad:
        kind = "JSONP" if fmt == "jsonp" else "JSON"
        media = content_type.split(";", 1)[0].strip() or "(no content type)"
        message = f"{method} {shown} returned HTTP {status} {media}, not {kind} ({bad})"
        raise FetchError(
            f"{message}: {_preview(received)}", url=shown, attempts=attempts, status=status
        ) from bad


def _parse_document(body: bytes, content_type: str, fmt: Literal["json", "jsonp"]) -> Any:
    """Decode and parse a body; `_BadDocumentError` says why if it is not the JSON expected."""
    if not body.strip():
        raise _BadDocumentError("empty body")
    text = _decode(body, content_type)
    if fmt == "jsonp":
        match = _JSONP.match(text)
        if match is None:
            raise _BadDocumentError("no callback(...) around the JSON")
        text = match["json"]
    _check_depth(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadDocumentError(f"{exc.msg}: line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise _TooDeepError(_TOO_DEEP) from exc


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def _check_depth(text: str) -> None:
    """Refuse JSON nested deeper than `MAX_DEPTH`, without recursion and at C speed.

    Escaped backslashes, then escaped quotes, are dropped (pairing them from the left, as JSON
    does), then every byte but quotes and brackets. Two quotes side by side can go then (an
    empty string, or nothing between two strings): the rest keeps its place inside or outside
    strings, and only strings with brackets in them are left to cut out. The depth is the
    highest running sum of +1 for `[` or `{`, -1 for `]` or `}`.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot nest deeper than it has brackets: most pages stop here
    data = text.encode("utf-8", "surrogatepass")
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = data.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = b"".join(structure.split(b'"')[::2])
    if max(accumulate(map(_DEPTH_STEP.__getitem__, structure)), default=0) > MAX_DEPTH:
        raise _TooDeepError(_TOO_DEEP)


def _decode(body: bytes, content_type: str) -> str:
    """UTF-8 (BOM dropped) first; the declared charset only if the body is not UTF-8."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        charset = _declared_charset(content_type)
        if charset is None or _codec_name(charset) in (None, "utf-8"):
            raise _BadDocumentError(f"not UTF-8: bad byte at offset {exc.start}") from exc
        try:
            return body.decode(charset).removeprefix("\ufeff")
        except UnicodeDecodeError as exc2:
            raise _BadDocumentError(f"neither UTF-8 nor {charset}") from exc2


def _declared_charset(content_type: str) -> str | None:
    if not content_type:
        return None
    header = email.message.Message()
    header["Content-Type"] = content_type
    charset = header.get_content_charset()
    return str(charset) if charset else None


def _codec_name(charset: str) -> str | None:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def _preview(body: bytes) -> str:
    """The first bytes of a body as a one-line repr, `...` inside the quotes if cut."""
    text = repr(body[:_PREVIEW])
    if len(body) > _PREVIEW:
        text = text[:-1] + "..." + text[-1]
    return text
