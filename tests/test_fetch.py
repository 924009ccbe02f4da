"""Tests for yamlcrawl.http.fetch, against a deliberately misbehaving HTTP server on 127.0.0.1."""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import pickle
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeSession
from tests.support import MockTransport, download, response
from yamlcrawl.http import fetch
from yamlcrawl.http.fetch import FetchError, fetch_document
from yamlcrawl.http.session import Session, resolve_user_agent
from yamlcrawl.types import HttpSettings

FAST = HttpSettings(timeout=5.0, retries=3, backoff=0.5, user_agent="yamlcrawl-tests/1.0")


# --- the test server ----------------------------------------------------------------------


@dataclass
class Reply:
    """One canned response; `length` lies about Content-Length when set."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    length: int | None = None
    delay: float = 0.0  # before the status line: a slow first byte


Custom = Callable[[BaseHTTPRequestHandler], None]


class Site:
    """Routes and what the server saw; routes answer replies in turn, the last one repeating."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.routes: dict[str, list[Reply] | Custom] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[tuple[str, str, Message]] = []  # method, path with query, headers
        self.lock = threading.Lock()

    def serve(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.base + path

    def custom(self, path: str, handler: Custom) -> str:
        self.routes[path] = handler
        return self.base + path


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: the server closes every connection after its response, which is what lets a
    # short body end early. The chunked route writes its own HTTP/1.1 status line.
    server: _Server

    def _dispatch(self) -> None:
        site = self.server.site
        path = self.path.split("?", 1)[0]
        with site.lock:
            site.hits[path] += 1
            count = site.hits[path]
            site.requests.append((self.command, self.path, self.headers))
        route = site.routes.get(path)
        if route is None:
            _write(self, Reply(404, b"no such route", {"Content-Type": "text/plain"}))
        elif callable(route):
            route(self)
        else:
            _write(self, route[min(count, len(route)) - 1])

    do_GET = do_POST = do_HEAD = _dispatch  # noqa: N815 (names http.server looks up)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output clean


def _write(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    if reply.delay:
        time.sleep(reply.delay)
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    length = len(reply.body) if reply.length is None else reply.length
    handler.send_header("Content-Length", str(length))
    handler.end_headers()
    handler.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out leave broken pipes behind; that is the point


@pytest.fixture
def site() -> Iterator[Site]:
    yield from serve_site()


def serve_site() -> Iterator[Site]:
    """A test server on a port of its own, serving until the generator is closed."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = Site(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server.site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: Chinese arrives as \uXXXX, as in the API


JSON = {"Content-Type": "application/json"}
HERO = {"hero": {"heroId": "1", "name": "安妮"}, "skins": [{"name": "K/DA 阿狸", "mainImg": ""}]}


# --- documents ----------------------------------------------------------------------------


def test_json_document_with_unicode_escapes(site: Site, session: MakeSession) -> None:
    body = _json(HERO)
    assert b"\\u5b89\\u59ae" in body
    doc = fetch_document(session(FAST), site.serve("/hero/1.js", Reply(200, body, JSON)))
    assert doc.data == HERO
    assert (doc.status, doc.attempts, doc.bytes) == (200, 1, len(body))


@pytest.mark.parametrize(
    "body",
    [
        b'cb({"a": "\\u5b89"});',
        b'  cb ( {"a": "\\u5b89"} )  \n',
        b'/**/ jQuery1124_1700({"a": "\\u5b89"});',
        b'window.app.cb({"a": "\\u5b89"})',
        b'\xef\xbb\xbfcb({"a": "\\u5b89"});',
    ],
)
def test_jsonp_unwrapped(site: Site, body: bytes, session: MakeSession) -> None:
    url = site.serve("/p.js", Reply(200, body, {"Content-Type": "application/javascript"}))
    assert fetch_document(session(FAST), url, fmt="jsonp").data == {"a": "安"}


def test_bom_stripped(site: Site, session: MakeSession) -> None:
    url = site.serve("/bom.json", Reply(200, b"\xef\xbb\xbf" + _json(HERO), JSON))
    assert fetch_document(session(FAST), url).data == HERO


def test_declared_charset_is_the_fallback(site: Site, session: MakeSession) -> None:
    body = '{"name": "安妮"}'.encode("gbk")
    url = site.serve("/gbk.json", Reply(200, body, {"Content-Type": "text/plain; charset=GBK"}))
    assert fetch_document(session(FAST), url).data == {"name": "安妮"}


def test_params_method_and_headers_are_sent(site: Site, session: MakeSession) -> None:
    url = site.serve("/api", Reply(200, b"[]", JSON))
    doc = fetch_document(
        session(FAST),
        url,
        method="post",
        params={"v": "2", "q": "阿狸"},
        headers={"Referer": "r/1"},
    )
    assert doc.data == []
    method, path, headers = site.requests[-1]
    assert (method, path) == ("POST", "/api?v=2&q=%E9%98%BF%E7%8B%B8")
    assert headers["Referer"] == "r/1"
    assert headers["User-Agent"] == "yamlcrawl-tests/1.0"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            Reply(200, b"<!doctype html><title>Oops</title>", {"Content-Type": "text/html"}),
            "returned HTTP 200 text/html, not JSON (Expecting value: line 1 column 1): "
            "b'<!doctype html><title>Oops</title>'",
        ),
        (
            Reply(200, b"", JSON),
            "returned HTTP 200 application/json, not JSON (empty body): b''",
        ),
        (
            Reply(200, b'{"hero": [1, 2,\n', {"Content-Type": "application/json; charset=utf-8"}),
            "returned HTTP 200 application/json, not JSON "
            "(Expecting value: line 2 column 1): b'{\"hero\": [1, 2,\\n'",
        ),
        (
            Reply(200, b"OK " * 40, {"Content-Type": "text/plain"}),
            "returned HTTP 200 text/plain, not JSON (Expecting value: line 1 column 1): "
            f"b'{'OK ' * 26}OK...'",
        ),
        (
            Reply(200, b'"\xff"'),
            "returned HTTP 200 (no content type), not JSON (not UTF-8: bad byte at offset 1): "
            "b'\"\\xff\"'",
        ),
    ],
    ids=["html", "empty", "broken", "text", "not-utf8"],
)
def test_not_json_is_a_fetch_error_naming_everything(
    site: Site, reply: Reply, expected: str, session: MakeSession
) -> None:
    url = site.serve("/api.json", reply)
    with pytest.raises(FetchError) as caught:
        fetch_document(session(FAST), url)
    assert str(caught.value) == f"GET {url} {expected}"
    assert "\n" not in str(caught.value)
    assert (caught.value.url, caught.value.status, caught.value.attempts) == (url, 200, 1)
    assert site.hits["/api.json"] == 1  # an invalid document is not retried


def test_jsonp_without_a_callback(site: Site, session: MakeSession) -> None:
    url = site.serve("/p.js", Reply(200, b'{"a": 1}', {"Content-Type": "text/javascript"}))
    with pytest.raises(FetchError, match=r"not JSONP \(no callback\(\.\.\.\) around the JSON\)"):
        fetch_document(session(FAST), url, fmt="jsonp")


# --- statuses and retries -----------------------------------------------------------------


def test_404_is_not_retried(site: Site, sleeps: list[float], session: MakeSession) -> None:
    url = site.serve(
        "/missing.js", Reply(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
    )
    with pytest.raises(FetchError) as caught:
        fetch_document(session(FAST), url)
    assert str(caught.value) == f"GET {url} failed: HTTP 404 Not Found"
    assert (caught.value.status, caught.value.attempts) == (404, 1)
    assert site.hits["/missing.js"] == 1
    assert sleeps == []


def test_503_twice_then_200(site: Site, sleeps: list[float], session: MakeSession) -> None:
    url = site.serve("/flaky", Reply(503), Reply(503), Reply(200, b'{"ok": true}', JSON))
    doc = fetch_document(session(FAST), url)
    assert (doc.data, doc.attempts) == ({"ok": True}, 3)
    assert site.hits["/flaky"] == 3
    # backoff 0.5 then 1.0, each with at most 10% jitter on top
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 0.55
    assert 1.0 <= sleeps[1] <= 1.1


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        ("1", 1.0, 1.0),
        ("3600", 60.0, 60.0),  # capped
        ("HTTP-DATE in 30 s", 30.0, 30.0),  # by the session's clock
        ("garbage", 0.01, 0.011),  # ignored: our own backoff applies
    ],
    ids=["seconds", "capped", "http-date", "unparsable"],
)
def test_429_honours_retry_after(
    site: Site, sleeps: list[float], retry_after: str, low: float, high: float, session: MakeSession
) -> None:
    settings = HttpSettings(retries=1, backoff=0.01, user_agent="t")
    now = 1_700_000_000.0
    if retry_after == "HTTP-DATE in 30 s":
        retry_after = email.utils.formatdate(now + 30, usegmt=True)
    url = site.serve("/busy", Reply(429, headers={"Retry-After": retry_after}), Reply(200, b"1"))
    assert fetch_document(session(settings, clock=lambda: now), url).attempts == 2
    assert len(sleeps) == 1
    assert low <= sleeps[0] <= high


def test_retries_exhausted(site: Site, sleeps: list[float], session: MakeSession) -> None:
    url = site.serve("/down.js", Reply(503, b"busy"))
    with pytest.raises(FetchError) as caught:
        fetch_document(session(HttpSettings(retries=2, user_agent="t")), url)
    assert str(caught.value) == f"GET {url} failed after 3 attempts: HTTP 503 Service Unavailable"
    assert (caught.value.attempts, caught.value.status) == (3, 503)
    assert site.hits["/down.js"] == 3
    assert len(sleeps) == 2


def test_connection_refused(sleeps: list[float], session: MakeSession) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.js"
    with pytest.raises(FetchError) as caught:
        fetch_document(session(HttpSettings(retries=1, user_agent="t")), url)
    assert str(caught.value) == f"GET {url} failed after 2 attempts: connection refused"
    assert caught.value.status is None


def test_connection_closed_without_a_response(
    site: Site, sleeps: list[float], session: MakeSession
) -> None:
    url = site.custom("/hangup", lambda handler: None)
    with pytest.raises(FetchError) as caught:
        fetch_document(session(HttpSettings(retries=1, user_agent="t")), url)
    cause = "the server closed the connection without a response"
    assert str(caught.value) == f"GET {url} failed after 2 attempts: {cause}"
    assert site.hits["/hangup"] == 2


def test_slow_first_byte_times_out(site: Site, session: MakeSession) -> None:
    url = site.serve("/slow", Reply(200, b"{}", JSON, delay=1.0))
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch_document(session(HttpSettings(timeout=0.5, retries=0, user_agent="t")), url)
    assert str(caught.value) == f"GET {url} failed: timed out after 0.5 s"
    assert time.monotonic() - started < 0.95


def test_short_body_is_retried(site: Site, sleeps: list[float], session: MakeSession) -> None:
    full = _json({"skins": ["x" * 2000]})
    url = site.serve("/cut.js", Reply(200, full[:1200], JSON, length=len(full)), Reply(200, full))
    doc = fetch_document(session(FAST), url)
    assert (doc.attempts, doc.bytes) == (2, len(full))


def test_always_short_body_fails_naming_the_bytes(
    site: Site, sleeps: list[float], session: MakeSession
) -> None:
    url = site.serve("/cut.js", Reply(200, b"x" * 1200, JSON, length=5000))
    with pytest.raises(FetchError) as caught:
        fetch_document(session(HttpSettings(retries=1, user_agent="t")), url)
    assert (
        str(caught.value)
        == f"GET {url} failed after 2 attempts: body ended after 1200 of 5000 bytes"
    )


def test_short_body_caught_even_if_urllib3_does_not_enforce_length(
    tmp_path: Path, sleeps: list[float], session: MakeSession
) -> None:
    # Our own Content-Length check, for a urllib3 that hands over a short body without error.
    cut = MockTransport(lambda request: response(200, b"x" * 1200, length=5000))
    settings = HttpSettings(retries=1, user_agent="t")
    url = "http://example.invalid/cut.jpg"
    cause = "failed after 2 attempts: body ended after 1200 of 5000 bytes"
    with pytest.raises(FetchError, match=f"{cause}$"):
        fetch_document(session(settings, pages=cut.pages), url)
    progress: list[int] = []
    with pytest.raises(FetchError, match=f"{cause}$"):
        download(
            session(settings, transport=cut.factory),
            url,
            tmp_path / "a.jpg",
            on_bytes=progress.append,
        )
    assert progress == [1200, -1200, 1200, -1200]
    assert list(tmp_path.iterdir()) == []
    assert [(r.method, r.url) for r in cut.requests] == [("GET", url)] * 4
    assert len(sleeps) == 2  # one wait before each second attempt


def _broken_chunks(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"400\r\n" + b"x" * 100
    )


def test_broken_chunked_stream_is_retried(
    site: Site, tmp_path: Path, sleeps: list[float], session: MakeSession
) -> None:
    url = site.custom("/chunks.jpg", _broken_chunks)
    final = tmp_path / "a.jpg"
    with pytest.raises(FetchError, match=r"failed after 2 attempts: the chunked body broke off$"):
        download(session(HttpSettings(retries=1, user_agent="t")), url, final)
    assert site.hits["/chunks.jpg"] == 2
    assert list(tmp_path.iterdir()) == []


def _stalls_mid_body(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    handler.wfile.write(b"x" * 1000)
    handler.wfile.flush()
    time.sleep(1.0)


def test_stall_mid_body_times_out(site: Site, tmp_path: Path, session: MakeSession) -> None:
    url = site.custom("/stall.jpg", _stalls_mid_body)
    with pytest.raises(FetchError, match=r"failed: timed out after 0.5 s$"):
        download(session(HttpSettings(timeout=0.5, retries=0, user_agent="t")), url, tmp_path / "a")
    assert list(tmp_path.iterdir()) == []


def test_too_many_redirects(site: Site, session: MakeSession) -> None:
    url = site.serve("/loop", Reply(302, headers={"Location": "/loop"}))
    with pytest.raises(FetchError, match=r"failed: more than 2 redirects$"):
        fetch_document(session(HttpSettings(max_redirects=2, user_agent="t")), url)


def test_redirect_keeps_credentials_on_the_same_host_only(site: Site, session: MakeSession) -> None:
    other_host = site.base.replace("127.0.0.1", "localhost")
    site.serve("/end", Reply(200, b"{}", JSON))
    url = site.serve("/here", Reply(302, headers={"Location": "/end"}))
    away = site.serve("/away", Reply(302, headers={"Location": f"{other_host}/end"}))
    secret = {"Authorization": "Bearer s3cret", "Cookie": "id=1", "X-Trace": "t"}
    fetch_document(session(FAST), url, headers=secret)
    assert site.requests[-1][2]["Authorization"] == "Bearer s3cret"
    fetch_document(session(FAST), away, headers=secret)
    _, path, headers = site.requests[-1]
    assert path == "/end"
    assert (headers["Authorization"], headers["Cookie"], headers["X-Trace"]) == (None, None, "t")


def test_303_after_post_becomes_get(site: Site, session: MakeSession) -> None:
    site.serve("/done", Reply(200, b'{"ok": true}', JSON))
    url = site.serve("/submit", Reply(303, headers={"Location": "/done"}))
    assert fetch_document(session(FAST), url, method="POST").data == {"ok": True}
    assert [(m, p) for m, p, _ in site.requests] == [("POST", "/submit"), ("GET", "/done")]


def test_query_parameters_are_percent_encoded(site: Site, session: MakeSession) -> None:
    url = site.serve("/search", Reply(200, b"[]", JSON))
    fetch_document(session(FAST), url, params={"q": "K/DA 阿狸", "page": "2"})
    assert site.requests[-1][1] == "/search?q=K%2FDA+%E9%98%BF%E7%8B%B8&page=2"


# --- TLS ----------------------------------------------------------------------------------


@pytest.fixture
def tls_site(tls_server: tuple[Site, Path]) -> tuple[str, Path]:
    """An HTTPS server with a self-signed certificate for 127.0.0.1: (URL of /hero.js, cert)."""
    site, cert = tls_server
    return site.serve("/hero.js", Reply(200, _json(HERO), JSON)), cert


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Site, Path]]:
    """An HTTPS server with a self-signed certificate for 127.0.0.1, and that certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = _Server(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.site = Site(f"https://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.site, cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_tls_certificate_checked_unless_verify_is_off(
    tls_site: tuple[str, Path],
    sleeps: list[float],
    monkeypatch: pytest.MonkeyPatch,
    session: MakeSession,
) -> None:
    url, cert = tls_site
    with pytest.raises(FetchError, match=r"failed: TLS error \(.*certificate verify failed"):
        fetch_document(session(HttpSettings(user_agent="tls-1")), url)
    assert sleeps == []  # a certificate that fails will fail again: not retried
    assert fetch_document(session(HttpSettings(user_agent="tls-2", verify=False)), url).data == HERO
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the bundle a client trusts
    assert fetch_document(session(HttpSettings(user_agent="tls-3")), url).data == HERO


# --- proxies ------------------------------------------------------------------------------


def test_explicit_proxy_gets_the_absolute_url(site: Site, session: MakeSession) -> None:
    # The test server plays the proxy: a proxied request line carries the whole URL, and
    # the host in it is never looked up by us.
    site.routes["http://example.invalid/hero.js"] = [Reply(200, _json(HERO), JSON)]
    settings = HttpSettings(user_agent="t", proxies=(("http", site.base),))
    assert fetch_document(session(settings), "http://example.invalid/hero.js").data == HERO
    assert site.requests[-1][1] == "http://example.invalid/hero.js"


def test_environment_proxy_and_no_proxy(
    site: Site, monkeypatch: pytest.MonkeyPatch, session: MakeSession
) -> None:
    monkeypatch.setenv("http_proxy", site.base)
    monkeypatch.setenv("no_proxy", "localhost,.internal.invalid")
    site.routes["http://example.invalid/a.js"] = [Reply(200, b"1", JSON)]
    url = site.serve("/b.js", Reply(200, b"2", JSON))
    settings = HttpSettings(user_agent="env-proxy")  # a client made after the variables
    assert fetch_document(session(settings), "http://example.invalid/a.js").data == 1
    assert site.requests[-1][1] == "http://example.invalid/a.js"
    assert fetch_document(session(settings), url.replace("127.0.0.1", "localhost")).data == 2
    assert site.requests[-1][1] == "/b.js"  # not proxied: asked directly


# --- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://127.0.0.1/hero_list.js", "is not an http or https URL"),
        ("file:///etc/passwd", "is not an http or https URL"),
        ("127.0.0.1/hero_list.js", "is not an http or https URL"),
        ("http:///hero_list.js", "has no host"),
    ],
)
def test_only_http_urls(tmp_path: Path, url: str, problem: str, session: MakeSession) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_document(session(FAST), url)
    assert str(caught.value) == f"GET {url} refused: the URL {problem}"
    assert caught.value.attempts == 0
    with pytest.raises(FetchError, match="refused"):
        download(session(FAST), url, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_redirect_to_another_scheme_is_refused(
    site: Site, tmp_path: Path, session: MakeSession
) -> None:
    url = site.serve("/img.jpg", Reply(302, headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(FetchError, match=r"failed: redirected to a URL that is not http or https"):
        download(session(FAST), url, tmp_path / "img.jpg")
    assert site.hits["/img.jpg"] == 1
    assert list(tmp_path.iterdir()) == []


# --- downloads ----------------------------------------------------------------------------


def test_download_writes_bytes_and_sha256(site: Site, tmp_path: Path, session: MakeSession) -> None:
    body = os.urandom(300_000)  # several 64 KiB chunks
    url = site.serve("/big.jpg", Reply(200, body, {"Content-Type": "image/jpeg"}))
    final = tmp_path / "安妮" / "K／DA 阿狸电脑版.jpg"
    progress: list[int] = []
    saved = download(session(FAST), url, final, on_bytes=progress.append)
    assert final.read_bytes() == body
    assert (saved.bytes, saved.sha256, saved.attempts) == (
        len(body),
        hashlib.sha256(body).hexdigest(),
        1,
    )
    assert sum(progress) == len(body)
    assert len(progress) > 1
    assert [p.name for p in final.parent.iterdir()] == [final.name]


def test_download_retries_a_short_body_from_scratch(
    site: Site, tmp_path: Path, sleeps: list[float], session: MakeSession
) -> None:
    size = fetch._CHUNK * 4  # the first attempt brings two whole chunks, then breaks off
    body = os.urandom(size)
    cut = Reply(200, body[: fetch._CHUNK * 2 + 1000], length=size)
    url = site.serve("/cut.jpg", cut, Reply(200, body))
    progress: list[int] = []
    saved = download(session(FAST), url, tmp_path / "a.jpg", on_bytes=progress.append)
    assert (saved.attempts, saved.bytes) == (2, size)
    assert (tmp_path / "a.jpg").read_bytes() == body
    # the chunks of the failed attempt were reported, then taken back in one call
    back = next(n for n, amount in enumerate(progress) if amount < 0)
    assert sum(progress[:back]) == -progress[back] >= 2 * fetch._CHUNK
    assert sum(progress) == size


def test_download_always_short_leaves_nothing(
    site: Site, tmp_path: Path, sleeps: list[float], session: MakeSession
) -> None:
    url = site.serve("/cut.jpg", Reply(200, b"x" * 1200, length=5000))
    progress: list[int] = []
    with pytest.raises(FetchError) as caught:
        download(session(FAST), url, tmp_path / "d" / "a.jpg", on_bytes=progress.append)
    assert (
        str(caught.value)
        == f"GET {url} failed after 4 attempts: body ended after 1200 of 5000 bytes"
    )
    assert site.hits["/cut.jpg"] == 4
    assert list((tmp_path / "d").iterdir()) == []
    assert sum(progress) == 0


def test_download_non_2xx(site: Site, tmp_path: Path, session: MakeSession) -> None:
    url = site.serve("/gone.jpg", Reply(410, b"gone"))
    with pytest.raises(FetchError, match=r"failed: HTTP 410 Gone$"):
        download(session(FAST), url, tmp_path / "a.jpg")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_download_removes_the_part_file(
    site: Site, tmp_path: Path, session: MakeSession
) -> None:
    url = site.serve("/big.jpg", Reply(200, b"x" * 200_000))

    def interrupt(n: int) -> None:
        assert [p.suffix for p in tmp_path.iterdir()] == [".part"]  # its temporary file
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(session(FAST), url, tmp_path / "a.jpg", on_bytes=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_download_with_a_long_name(site: Site, tmp_path: Path, session: MakeSession) -> None:
    final = tmp_path / ("阿狸" * 40 + "电脑版.jpg")  # 253 bytes
    url = site.serve("/a.jpg", Reply(200, b"jpeg"))
    assert download(session(FAST), url, final).bytes == 4
    assert list(tmp_path.iterdir()) == [final]


# --- sessions and user agents -------------------------------------------------------------


def _fake_transport(settings: HttpSettings) -> MockTransport:
    """A transport a test hands a session (module level: a session carrying it pickles)."""
    return MockTransport(lambda request: response(200, b"fake"))


def test_a_session_makes_a_handed_transport_once_per_process() -> None:
    made: list[HttpSettings] = []

    def counted(asked: HttpSettings) -> MockTransport:
        made.append(asked)
        return _fake_transport(asked)

    session = Session(FAST, transport=counted)
    client = session.client()
    try:
        assert session.client() is client
        assert made == [FAST]
    finally:
        session.close()
    assert session.client() is not client  # closed, then made anew on the next use
    assert made == [FAST, FAST]
    session.close()


def test_without_a_handed_transport_files_go_to_libcurl_and_there_is_no_client(
    site: Site, tmp_path: Path, session: MakeSession
) -> None:
    url = site.serve("/a.bin", Reply(200, b"abc"))
    plain = session(FAST)
    assert download(plain, url, tmp_path / "a.bin").bytes == 3  # through curl.fetch_file
    with pytest.raises(LookupError) as caught:
        plain.client()
    assert str(caught.value) == "this session hands files to libcurl: it has no transport"


def test_a_session_crosses_to_another_process_without_its_clients() -> None:
    session = Session(FAST, throttle_dir="/somewhere", transport=_fake_transport)
    pages, files = session.page_client(), session.client()
    try:
        copy = pickle.loads(pickle.dumps(session))
        assert (copy.settings, copy.throttle_dir) == (FAST, "/somewhere")
        assert copy.page_client() is not pages
        assert copy.client() is not files
        copy.close()
    finally:
        session.close()


def test_threads_of_one_process_share_its_clients() -> None:
    session = Session(FAST, transport=_fake_transport)
    start = threading.Barrier(8)
    seen: list[tuple[object, object]] = []

    def first_use() -> None:
        start.wait()
        seen.append((session.page_client(), session.client()))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.close()
    assert len({id(pages) for pages, _ in seen}) == len({id(files) for _, files in seen}) == 1


def test_forked_child_gets_its_own_page_client(site: Site, session: MakeSession) -> None:
    url = site.serve("/hero.js", Reply(200, _json(HERO), JSON))
    shared = session(FAST)
    parent = shared.page_client()
    fetch_document(shared, url)  # the parent's pool now holds state a child must not touch
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads running
        pid = os.fork()
    if pid == 0:  # the child: report and leave without running any pytest machinery
        code = 1
        try:
            child = shared.page_client()
            report = {
                "pid": os.getpid(),
                "id": id(child),
                "same_as_parent": child is parent,
                "cached": shared.page_client() is child,
                "data": fetch_document(shared, url).data,
            }
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report["pid"] == pid != os.getpid()
    assert report["id"] != id(parent)
    assert report["same_as_parent"] is False
    assert report["cached"] is True
    assert report["data"] == HERO
    assert shared.page_client() is parent


# A fresh interpreter (nothing cached) whose every name lookup or connection fails the test.
OFFLINE = """
import json, sys

def no_network(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.connect"):
        raise AssertionError(f"fake-useragent went to the network ({event})")

sys.addaudithook(no_network)
from yamlcrawl.http.session import resolve_user_agent

names = ("chrome", "firefox", "safari", "edge", "random", "Chrome")
print(json.dumps({name: resolve_user_agent(name) for name in names}))
"""


def test_user_agent_families_offline() -> None:
    run = subprocess.run(
        [sys.executable, "-c", OFFLINE], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    agents = json.loads(run.stdout)
    families = [agents[name] for name in ("chrome", "firefox", "safari", "edge")]
    assert all(families)
    assert len(set(families)) == 4
    assert "Chrome/" in agents["chrome"] and "Edg" not in agents["chrome"]
    assert "Firefox/" in agents["firefox"]
    assert "Version/" in agents["safari"] and "Chrome/" not in agents["safari"]
    assert "Edg" in agents["edge"]  # "Edg/1xx" today, "Edge/18" in older strings
    assert agents["random"].startswith("Mozilla/")
    assert agents["Chrome"] == agents["chrome"]  # cached, any case


def test_literal_user_agent_passes_through(site: Site, session: MakeSession) -> None:
    literal = "yamlcrawl/0.1 (+https://example.invalid/bot)"
    assert resolve_user_agent(literal) == literal
    url = site.serve("/ua", Reply(200, b"{}", JSON))
    fetch_document(session(HttpSettings(user_agent=literal)), url)
    assert site.requests[-1][2]["User-Agent"] == literal


def test_fetch_error_survives_pickling() -> None:
    error = FetchError(
        "GET http://h/x failed: HTTP 404 Not Found", url="http://h/x", attempts=1, status=404
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.url, copy.attempts, copy.status) == (str(error), "http://h/x", 1, 404)
