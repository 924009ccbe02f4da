"""Tests for yamlcrawl.http.curl: one attempt of a file through this process's libcurl engine,
against local servers on 127.0.0.1 (test_fetch's misbehaving site and its TLS server)."""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pycurl
import pytest

from tests.test_fetch import Reply, Site, _broken_chunks, _stalls_mid_body, serve_site
from tests.test_fetch import tls_server as tls_server  # a fixture: pytest finds it here
from tests.test_hostile_server import Hostile, drip_headers
from yamlcrawl.http import curl
from yamlcrawl.http.attempt import AttemptError
from yamlcrawl.http.curl import TransferStoppedError, fetch_file
from yamlcrawl.types import HttpSettings

FAST = HttpSettings(timeout=5.0, retries=0, user_agent="curl-tests/1.0")


class Sink:
    """A ByteSink that keeps the body in memory and records what was asked of it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.body = bytearray()
        self.content_type: str | None = None

    def begin(self, content_type: str | None) -> None:
        self.calls.append("begin")
        self.content_type = content_type
        self.body = bytearray()

    def write(self, chunk: bytes) -> None:
        self.body += chunk

    def discard(self) -> None:
        self.calls.append("discard")
        self.body = bytearray()


@pytest.fixture
def site() -> Iterator[Site]:
    yield from serve_site()


def _body(n: int, seed: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (n // 32) + bytes(n % 32)


# --- bodies -------------------------------------------------------------------------------


def test_many_transfers_at_once_from_many_threads_are_byte_exact(site: Site) -> None:
    bodies = {f"/f{i}.bin": _body(1000 + 7919 * i, i) for i in range(40)}
    for path, body in bodies.items():
        site.serve(path, Reply(200, body, {"Content-Type": "image/png"}))

    def one(path: str) -> tuple[str, str, int]:
        sink = Sink()
        reply = fetch_file(FAST, site.base + path, sink)
        assert (reply.status, reply.content_type, sink.calls) == (200, "image/png", ["begin"])
        return path, hashlib.sha256(sink.body).hexdigest(), reply.bytes

    with ThreadPoolExecutor(8) as pool:
        got = sorted(pool.map(one, bodies))
    want = sorted((p, hashlib.sha256(b).hexdigest(), len(b)) for p, b in bodies.items())
    assert got == want


def test_on_bytes_adds_up_to_the_body_and_headers_are_sent(site: Site) -> None:
    body = _body(300_000, 1)
    url = site.serve("/big.bin", Reply(200, body))
    seen: list[int] = []
    sink = Sink()
    fetch_file(
        FAST, url, sink, headers={"X-Trace": "t", "user-agent": "mine"}, on_bytes=seen.append
    )
    assert sum(seen) == len(body) and bytes(sink.body) == body
    _, _, headers = site.requests[-1]
    assert (headers["X-Trace"], headers["User-Agent"]) == ("t", "mine")
    assert headers["Accept-Encoding"] == "gzip, deflate"
    fetch_file(FAST, url, Sink())
    _, _, headers = site.requests[-1]
    assert (headers["User-Agent"], headers["Accept"]) == ("curl-tests/1.0", "*/*")


def test_urls_and_headers_beyond_ascii_are_sent_encoded(site: Site) -> None:
    site.serve("/skins/K%2FDA%20%E9%98%BF%E7%8B%B8.jpg", Reply(200, b"jpeg"))
    sink = Sink()
    reply = fetch_file(FAST, site.base + "/skins/K%2FDA 阿狸.jpg", sink, headers={"X-N": "é"})
    assert bytes(sink.body) == b"jpeg" and reply.url == site.base + "/skins/K%2FDA 阿狸.jpg"
    assert site.requests[-1][2]["X-N"] == "é"  # Latin-1 on the wire, as http.client sends it


def test_a_request_libcurl_refuses_fails_alone(site: Site) -> None:
    url = site.serve("/a.bin", Reply(200, b"abc"))
    with pytest.raises(AttemptError) as caught:
        fetch_file(FAST, url, Sink(), headers={"X-Bad": "a\x00b"})
    assert caught.value.cause == "libcurl refused the request (embedded null byte)"
    assert not caught.value.retryable
    sink = Sink()
    fetch_file(FAST, url, sink)  # the engine goes on
    assert bytes(sink.body) == b"abc"


def test_gzip_is_stored_decoded(site: Site) -> None:
    body = _body(50_000, 2)
    url = site.serve("/z.bin", Reply(200, gzip.compress(body), {"Content-Encoding": "gzip"}))
    sink = Sink()
    assert fetch_file(FAST, url, sink).bytes == len(body)
    assert bytes(sink.body) == body


# --- statuses, redirects ------------------------------------------------------------------

STATUS_CASES = [
    (Reply(404, b"nope"), "HTTP 404 Not Found", False, ""),
    (Reply(503, b"", {"Retry-After": "7"}), "HTTP 503 Service Unavailable", True, "7"),
    (Reply(429, b"slow down", {"Retry-After": "3"}), "HTTP 429 Too Many Requests", True, "3"),
    (Reply(500, b"x", {"Retry-After": "3"}), "HTTP 500 Internal Server Error", True, ""),
]


@pytest.mark.parametrize(("reply", "cause", "retryable", "retry_after"), STATUS_CASES)
def test_error_statuses(
    site: Site, reply: Reply, cause: str, retryable: bool, retry_after: str
) -> None:
    sink = Sink()
    with pytest.raises(AttemptError) as caught:
        fetch_file(FAST, site.serve("/s", reply), sink)
    failure = caught.value
    assert (failure.cause, failure.retryable, failure.status) == (cause, retryable, reply.status)
    assert failure.retry_after == retry_after
    assert sink.calls == []  # an error's body never reaches the sink


def test_redirects_drop_credentials_off_the_origin_and_give_the_final_url(site: Site) -> None:
    other = site.base.replace("127.0.0.1", "localhost")
    site.serve("/end.jpg", Reply(200, b"jpeg", {"Content-Type": "image/jpeg"}))
    here = site.serve("/here", Reply(302, b"moved", {"Location": "/end.jpg"}))
    away = site.serve("/away", Reply(301, headers={"Location": f"{other}/end.jpg"}))
    secret = {"Authorization": "Bearer s3cret", "Cookie": "id=1", "X-Key": "k", "X-Trace": "t"}
    reply = fetch_file(FAST, here, Sink(), headers=secret, private=("x-key",))
    assert reply.url == site.base + "/end.jpg"
    assert site.requests[-1][2]["Authorization"] == "Bearer s3cret"
    reply = fetch_file(FAST, away, Sink(), headers=secret, private=("x-key",))
    assert reply.url == f"{other}/end.jpg"
    headers = site.requests[-1][2]
    kept = [headers[name] for name in ("Authorization", "Cookie", "X-Key", "X-Trace")]
    assert kept == [None, None, None, "t"]


REDIRECT_FAILURES = [
    ("/loop", "more than 2 redirects"),
    ("/ftp", "redirected to a URL that is not http or https (ftp://127.0.0.1/a)"),
]


@pytest.mark.parametrize(("path", "cause"), REDIRECT_FAILURES)
def test_redirects_that_cannot_be_followed(site: Site, path: str, cause: str) -> None:
    site.serve("/loop", Reply(302, headers={"Location": "/loop"}))
    site.serve("/ftp", Reply(302, headers={"Location": "ftp://127.0.0.1/a"}))
    with pytest.raises(AttemptError) as caught:
        fetch_file(HttpSettings(max_redirects=2, user_agent="t"), site.base + path, Sink())
    assert (caught.value.cause, caught.value.retryable) == (cause, False)


# --- bodies that go wrong -----------------------------------------------------------------


def test_a_body_cut_short_is_retryable_and_discarded(site: Site) -> None:
    url = site.serve("/short.jpg", Reply(200, b"x" * 1200, length=5000))
    sink, seen = Sink(), []
    with pytest.raises(AttemptError) as caught:
        fetch_file(FAST, url, sink, on_bytes=seen.append)
    assert (caught.value.cause, caught.value.retryable) == (
        "body ended after 1200 of 5000 bytes",
        True,
    )
    assert sink.calls == ["begin", "discard"] and sum(seen) == 0


def test_a_broken_chunked_body_is_retryable(site: Site) -> None:
    with pytest.raises(AttemptError) as caught:
        fetch_file(FAST, site.custom("/c", _broken_chunks), Sink())
    assert (caught.value.cause, caught.value.retryable) == ("the chunked body broke off", True)


def test_max_bytes_refuses_a_declared_size_and_counts_while_streaming(site: Site) -> None:
    declared = site.serve("/d", Reply(200, b"x" * 5000))
    bomb = site.serve("/b", Reply(200, gzip.compress(b"x" * 500_000), {"Content-Encoding": "gzip"}))
    small = HttpSettings(max_bytes=4000, user_agent="t")
    sink = Sink()
    with pytest.raises(AttemptError) as caught:
        fetch_file(small, declared, sink)
    assert caught.value.cause == "the body would be 5,000 bytes, over the limit of 4,000"
    assert sink.calls == []
    with pytest.raises(AttemptError) as caught:
        fetch_file(small, bomb, sink)
    assert (caught.value.cause, caught.value.retryable) == (
        "the body passes the limit of 4,000 bytes",
        False,
    )
    assert sink.calls == ["begin", "discard"]


def _drips(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100")
    handler.end_headers()
    for _ in range(100):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.25)


def test_the_deadline_stops_a_server_that_drips(site: Site) -> None:
    settings = HttpSettings(timeout=5.0, deadline=1.5, user_agent="t")
    started = time.monotonic()
    with pytest.raises(AttemptError) as caught:
        fetch_file(settings, site.custom("/drip", _drips), Sink())
    cause = "no complete response within the deadline of 1.5 s (http.deadline)"
    assert (caught.value.cause, caught.value.retryable) == (cause, False)
    assert time.monotonic() - started < 10  # not the 25 s the body would take


def test_a_server_that_drips_its_headers_meets_the_deadline_not_the_timeout() -> None:
    settings = HttpSettings(timeout=1.0, deadline=2.5, user_agent="t")
    with Hostile() as server:
        server.routes["/x"] = drip_headers  # a byte every 0.2 s: never a whole header line
        with pytest.raises(AttemptError) as caught:
            fetch_file(settings, f"{server.base}/x", Sink())
    cause = "no complete response within the deadline of 2.5 s (http.deadline)"
    assert (caught.value.cause, caught.value.retryable) == (cause, False)


def test_a_silent_server_times_out(site: Site) -> None:
    with pytest.raises(AttemptError) as caught:
        fetch_file(
            HttpSettings(timeout=0.5, user_agent="t"), site.custom("/s", _stalls_mid_body), Sink()
        )
    assert (caught.value.cause, caught.value.retryable) == ("timed out after 0.5 s", True)


def test_network_failures_are_named_as_fetch_names_them() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(AttemptError) as caught:
        fetch_file(FAST, f"http://127.0.0.1:{port}/a", Sink())
    assert (caught.value.cause, caught.value.retryable) == ("connection refused", True)


def _closes(handler: BaseHTTPRequestHandler) -> None:
    handler.close_connection = True


def test_a_server_that_closes_without_a_response(site: Site) -> None:
    with pytest.raises(AttemptError) as caught:
        fetch_file(FAST, site.custom("/x", _closes), Sink())
    cause = "the server closed the connection without a response"
    assert (caught.value.cause, caught.value.retryable) == (cause, True)


def test_tls_checked_against_the_bundle_given(request: pytest.FixtureRequest) -> None:
    tls, cert = request.getfixturevalue("tls_server")
    url = tls.serve("/a.png", Reply(200, b"png"))
    with pytest.raises(AttemptError) as caught:
        fetch_file(FAST, url, Sink())
    assert caught.value.cause.startswith("TLS error (certificate verify failed")
    assert not caught.value.retryable
    sink = Sink()
    fetch_file(HttpSettings(verify=False, user_agent="t"), url, sink)
    assert bytes(sink.body) == b"png"
    sink = Sink()
    fetch_file(HttpSettings(verify=str(cert), user_agent="t"), url, sink)  # type: ignore[arg-type]
    assert bytes(sink.body) == b"png"


def test_proxies_come_from_the_settings_first_then_the_environment(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.serve("/a.png", Reply(200, b"png"))
    # The test site stands in for the proxy of an unknown host: it is asked for absolute URLs.
    site.serve("http://images.invalid/a.png", Reply(200, b"png"))
    proxied = HttpSettings(proxies=(("http", site.base),), user_agent="t")
    fetch_file(proxied, "http://images.invalid/a.png", Sink())
    assert site.requests[-1][1] == "http://images.invalid/a.png"
    monkeypatch.setenv("HTTP_PROXY", site.base)
    monkeypatch.setenv("NO_PROXY", "127.0.0.0/8")
    curl._route.cache_clear()  # the environment is read once per process: read it again
    fetch_file(FAST, "http://images.invalid/a.png", Sink())
    assert site.requests[-1][1] == "http://images.invalid/a.png"
    fetch_file(FAST, site.base + "/a.png", Sink())  # in the CIDR range: direct
    assert site.requests[-1][1] == "/a.png"
    monkeypatch.delenv("HTTP_PROXY")
    curl._route.cache_clear()


class _Tunnel(BaseHTTPRequestHandler):
    """A proxy that opens every CONNECT tunnel asked of it, then answers what comes through
    the tunnel itself ("proxy"): it never connects anywhere."""

    protocol_version = "HTTP/1.1"  # the tunnelled request comes on the same connection
    server: _TunnelProxy

    def do_CONNECT(self) -> None:
        self.server.asked.append(self.path)
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"proxy")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _TunnelProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.asked: list[str] = []


# (host asked for, the environment's no_proxy, whether libcurl connects directly)
NO_PROXY_CASES = [
    ("a.example.com", "example.com", True),  # a domain covers its subdomains
    ("example.com", ".example.com", True),
    ("notexample.com", "example.com", False),
    ("anything", "*", True),
    ("10.1.2.3", "example.com,10.0.0.0/8", True),  # a CIDR range
    ("11.1.2.3", "10.0.0.0/8", False),
    ("10.example.com", "10.0.0.0/8", False),  # a name is not an address in the range
    ("[::1]", "::/120", True),  # IPv6 ranges too
    ("10.0.0.1", "10.0.0.1:8080, other", False),  # libcurl matches no entry with a port
    ("example.com", "", False),
]


@pytest.mark.parametrize(("host", "no_proxy", "direct"), NO_PROXY_CASES)
def test_the_environments_no_proxy_is_libcurls(
    host: str, no_proxy: str, direct: bool, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing leaves this machine: every direct connection, whatever the host, is made to the
    # test site (libcurl's CONNECT_TO), and the proxy answers through its tunnels itself.
    site.serve("/x", Reply(200, b"direct"))
    port = site.base.rsplit(":", 1)[1]
    settings = HttpSettings(timeout=5, retries=0, user_agent=f"no-proxy/{port}")
    plain = curl._settings_options
    redirected = ((pycurl.CONNECT_TO, [f"::127.0.0.1:{port}"]),)
    monkeypatch.setattr(curl, "_settings_options", lambda asked: plain(asked) + redirected)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    proxy = _TunnelProxy()
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.setenv("no_proxy", no_proxy)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        sink = Sink()
        fetch_file(settings, f"http://{host}/x", sink)
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()
    assert bytes(sink.body) == (b"direct" if direct else b"proxy")
    assert len(proxy.asked) == (0 if direct else 1)  # a tunnel (to where CONNECT_TO says)


# --- stopping, processes, closing ---------------------------------------------------------


def test_stop_cuts_a_transfer_mid_body_within_two_seconds(site: Site) -> None:
    url = site.custom("/slow", _drips)
    asked = threading.Event()
    sink = Sink()

    def on_bytes(_: int) -> None:
        asked.set()

    started = [0.0]

    def stop() -> bool:
        return asked.is_set() and time.monotonic() - started[0] > 0.3

    started[0] = time.monotonic()
    with pytest.raises(TransferStoppedError):
        fetch_file(FAST, url, sink, on_bytes=on_bytes, stop=stop)
    assert time.monotonic() - started[0] < 2.5
    assert sink.calls == ["begin", "discard"]


def test_an_exception_from_on_bytes_cuts_the_transfer_and_reaches_the_caller(site: Site) -> None:
    url = site.custom("/slow", _drips)

    def on_bytes(amount: int) -> None:
        if amount > 0:
            raise KeyError("stopped by the run")

    sink = Sink()
    started = time.monotonic()
    with pytest.raises(KeyError, match="stopped by the run"):
        fetch_file(FAST, url, sink, on_bytes=on_bytes)
    assert time.monotonic() - started < 2.5
    assert sink.calls == ["begin", "discard"]


def test_a_forked_child_makes_its_own_engine(site: Site) -> None:
    url = site.serve("/a.bin", Reply(200, b"abc"))
    fetch_file(FAST, url, Sink())
    parent = curl.engine()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh engine that works; the parent's is not touched
        try:
            sink = Sink()
            fetch_file(FAST, url, sink)
            ok = curl.engine() is not parent and bytes(sink.body) == b"abc"
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 2) == b"ok"
    os.waitpid(pid, 0)
    os.close(read)
    assert curl.engine() is parent and not parent.closed
    fetch_file(FAST, url, Sink())  # the parent's still works


def test_threads_of_one_process_share_its_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(curl, "_engines", {})  # none made yet: the threads race to make it
    start = threading.Barrier(8)

    def first_use(_: int) -> curl.Engine:
        start.wait()
        return curl.engine()

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(first_use, range(8)))
    seen[0].close()
    assert len({id(engine) for engine in seen}) == 1


def _open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_a_closed_engine_releases_its_handles(site: Site) -> None:
    url = site.serve("/a.bin", Reply(200, b"abc"))
    before = _open_fds()
    engine = curl.Engine()
    sink = Sink()
    engine.run(curl._Transfer(FAST, url, sink, {}, (), None, None))
    assert bytes(sink.body) == b"abc"
    engine.close()
    assert engine.closed and not engine._thread.is_alive()
    assert _open_fds() <= before
    with pytest.raises(TransferStoppedError):
        engine.run(curl._Transfer(FAST, url, Sink(), {}, (), None, None))
