"""A hostile server: redirects that fish for credentials, drips, endless bodies, bombs, deep JSON,
and data that tries to inject headers. Each one fails alone, clearly, and within bounds."""

from __future__ import annotations

import contextlib
import gzip
import json
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from textwrap import dedent
from typing import Any, BinaryIO

import pytest

from tests.apiserver import Api
from tests.conftest import MakeSession, RunCli
from tests.support import download, saved_files
from tests.test_extraction import lol_plan
from tests.test_fetch import JSON, Reply, Site, serve_site
from tests.test_fetch import site as site
from tests.test_fetch import tls_server as tls_server
from yamlcrawl.http import fetch
from yamlcrawl.http.fetch import FetchError, fetch_document
from yamlcrawl.http.session import Session
from yamlcrawl.http.transport import keeps_credentials, origin
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan
from yamlcrawl.language.problems import ConfigError
from yamlcrawl.types import DEFAULT_MAX_BYTES, HttpSettings, PageUnit
from yamlcrawl.work.cancel import CancelToken
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.pages import fetch_page, file_request

MODES = ["serial", "process", "queue", "pool", "thread", "dask"]


# --- credentials and redirects --------------------------------------------------------------


@pytest.fixture
def other() -> Iterator[Site]:
    """A second plain HTTP server: another port on the same host."""
    yield from serve_site()


SENT = {
    "Authorization": "Bearer s3cret",
    "Cookie": "id=1",
    "X-Api-Key": "k3y",  # built from a secret: named private by the caller
    "X-Trace": "t",  # nothing secret: goes everywhere
}
PRIVATE = ("Authorization", "Cookie", "X-Api-Key")


@pytest.mark.parametrize(
    ("start", "end", "keeps"),
    [
        ("site", "site", True),  # same origin
        ("tls", "tls", True),  # same origin, https
        ("site", "other", False),  # another port
        ("site", "localhost", False),  # another host name, same port
        ("tls", "site", False),  # https -> http: never in clear
        ("site", "tls", False),  # http -> https on another port (80 -> 443 keeps: below)
    ],
)
def test_a_redirect_to_another_origin_drops_every_credential(
    start: str,
    end: str,
    keeps: bool,
    site: Site,
    other: Site,
    tls_server: tuple[Site, Path],
    session: MakeSession,
) -> None:
    servers = {"site": site, "other": other, "tls": tls_server[0], "localhost": site}
    target = servers[end]
    base = site.base.replace("127.0.0.1", "localhost") if end == "localhost" else target.base
    target.serve("/end", Reply(200, b"{}", JSON))
    url = servers[start].serve("/start", Reply(302, headers={"Location": f"{base}/end"}))
    settings = HttpSettings(timeout=5, retries=0, user_agent="t", verify=False)
    fetch_document(session(settings), url, headers=SENT, private=("x-api-key",))
    _, path, headers = target.requests[-1]
    assert path == "/end"
    assert headers["X-Trace"] == "t"
    got = {name: headers[name] for name in PRIVATE}
    assert got == ({name: SENT[name] for name in PRIVATE} if keeps else dict.fromkeys(PRIVATE))


@pytest.mark.parametrize(
    ("source", "target", "keeps"),
    [
        ("http://a.test/x", "http://a.test:80/y", True),  # the default port, spelled out
        ("https://a.test/x", "https://A.TEST:443/y", True),
        ("http://a.test/x", "https://a.test/y", True),  # an upgrade to TLS, default ports
        ("http://a.test:8080/x", "https://a.test/y", False),
        ("http://a.test/x", "https://a.test:8443/y", False),
        ("https://a.test/x", "http://a.test/y", False),  # a downgrade, ever
        ("https://a.test:8443/x", "http://a.test:8443/y", False),  # only the scheme changes
        ("http://a.test/x", "http://b.test/y", False),
        ("http://a.test/x", "http://a.test:81/y", False),
        ("http://a.test/x", "http://sub.a.test/y", False),
    ],
)
def test_which_redirects_keep_credentials(source: str, target: str, keeps: bool) -> None:
    assert keeps_credentials(origin(source), origin(target)) is keeps


def test_a_crawl_keeps_headers_built_from_secrets_on_its_own_origin(
    site: Site, other: Site, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page and a file that redirect to another port get no header built from ${ENV}."""
    monkeypatch.setenv("API_KEY", "k3y-from-the-environment")
    other.serve("/list.json", Reply(200, b'{"items": ["a"]}', JSON))
    other.serve("/a.bin", Reply(200, b"file", {"Content-Type": "application/octet-stream"}))
    site.serve("/list.json", Reply(302, headers={"Location": f"{other.base}/list.json"}))
    site.serve("/a.bin", Reply(302, headers={"Location": f"{other.base}/a.bin"}))
    config = tmp_path / "crawl.yaml"
    config.write_text(
        dedent(f"""
        vars: {{base: "{site.base}", key: "${{API_KEY}}", wrapped: "Key ${{API_KEY}}"}}
        http:
          timeout: 5
          headers: {{X-Api-Key: "{{key}}", X-Shout: "{{key|upper}}", X-Plain: "hello"}}
          auth: {{bearer: "{{wrapped}}"}}
        stages:
          list:
            url: "{{base}}/list.json"
            headers: {{X-Stage: "{{wrapped}}"}}
            each: "$.items[*]"
            as: item
            downloads:
              - url: "{{base}}/{{item}}.bin"
                save_as: "{{item}}.bin"
                headers: {{X-File-Key: "{{key|lower}}"}}
        """),
        "utf-8",
    )
    run = run_cli(config, "--output", tmp_path / "out", "-q")
    assert run.code == 0, run.out + run.err
    assert saved_files(tmp_path / "out") == {"a.bin": b"file"}
    first = {path: headers for _, path, headers in site.requests}
    assert first["/list.json"]["X-Api-Key"] == "k3y-from-the-environment"  # asked: sent
    assert first["/list.json"]["Authorization"] == "Bearer Key k3y-from-the-environment"
    assert first["/a.bin"]["X-File-Key"] == "k3y-from-the-environment"
    secret_headers = ("X-Api-Key", "X-Shout", "X-Stage", "X-File-Key", "Authorization")
    for _, path, headers in other.requests:
        assert headers["X-Plain"] == "hello", path
        assert {name: headers[name] for name in secret_headers} == dict.fromkeys(secret_headers)
    assert [path for _, path, _ in other.requests] == ["/list.json", "/a.bin"]


# --- a server that never finishes -----------------------------------------------------------

Behaviour = Callable[[BinaryIO], None]


class Hostile:
    """A raw TCP (or TLS) server on 127.0.0.1: each path answers with bytes written by hand."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Behaviour] = {}
        hostile = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                if tls is not None:
                    self.request = tls.wrap_socket(self.request, server_side=True)
                super().setup()

            def finish(self) -> None:
                super().finish()
                self.request.close()  # the TLS socket too (the server closes only the plain one)

            def handle(self) -> None:
                line = self.rfile.readline().decode("latin-1").split()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # the request's headers: of no interest
                path = line[1].split("?", 1)[0] if len(line) > 1 else "/"
                with contextlib.suppress(
                    OSError
                ):  # the client cut us off: the point of most routes
                    hostile.routes[path](self.wfile)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "https" if tls is not None else "http"
        self.base = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Hostile:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _drip(out: BinaryIO, data: bytes, pause: float = 0.2) -> None:
    """One byte at a time, each well inside any read timeout."""
    for i in range(len(data)):
        out.write(data[i : i + 1])
        out.flush()
        time.sleep(pause)


def drip_headers(out: BinaryIO) -> None:
    _drip(out, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"z" * 300)


def drip_body(out: BinaryIO) -> None:
    out.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n")
    _drip(out, b"[" + b" " * 298 + b"]")


def endless_continue(out: BinaryIO) -> None:
    for _ in range(100_000):
        out.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        out.flush()
        time.sleep(0.001)


def answer(data: Any, content_type: str = "application/json") -> Behaviour:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()

    def write(out: BinaryIO) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
        out.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)

    return write


DEADLINE = HttpSettings(timeout=1, deadline=2, retries=3, backoff=0.05, user_agent="t")
PAST = "failed: no complete response within the deadline of 2 s (http.deadline)"


@pytest.mark.parametrize("behaviour", [drip_headers, drip_body, endless_continue])
def test_a_dripping_server_fails_at_the_deadline_and_is_not_retried(
    behaviour: Behaviour, tmp_path: Path, session: MakeSession
) -> None:
    with Hostile() as server:
        server.routes["/x"] = behaviour
        start = time.monotonic()
        with pytest.raises(FetchError) as page:
            fetch_document(session(DEADLINE), f"{server.base}/x")
        assert time.monotonic() - start < 10  # 2 s of deadline; a drip alone would take 60+
        start = time.monotonic()
        with pytest.raises(FetchError) as file:
            download(session(DEADLINE), f"{server.base}/x", tmp_path / "x.bin")
        assert time.monotonic() - start < 10
    assert str(page.value) == f"GET {server.base}/x {PAST}"
    assert str(file.value) == f"GET {server.base}/x {PAST}"
    assert page.value.attempts == file.value.attempts == 1  # as slow again: not retried
    assert list(tmp_path.iterdir()) == []


def test_a_tls_server_dripping_its_headers_is_cut_at_the_deadline(
    tls_server: tuple[Site, Path], session: MakeSession
) -> None:
    cert = tls_server[1]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, cert.with_name("key.pem"))
    with Hostile(context) as server:
        server.routes["/x"] = drip_headers
        start = time.monotonic()
        with pytest.raises(FetchError) as page:
            fetch_document(session(replace(DEADLINE, verify=False)), f"{server.base}/x")
        assert time.monotonic() - start < 10
    assert str(page.value) == f"GET {server.base}/x {PAST}"


def test_the_deadline_is_per_attempt_and_defaults_to_twenty_timeouts() -> None:
    assert HttpSettings(timeout=3).attempt_deadline == 60
    assert HttpSettings(timeout=3, deadline=7.5).attempt_deadline == 7.5
    assert HttpSettings().attempt_deadline == 300


# --- bounded bodies -------------------------------------------------------------------------


def _load(http: str) -> HttpSettings:
    return build_plan(load_text(f"http: {http}\nstages: {{a: {{url: 'http://x'}}}}").spec).http


def test_max_bytes_is_four_gib_unless_set_or_lifted_with_null() -> None:
    assert _load("{}").max_bytes == DEFAULT_MAX_BYTES == 4 * 1024**3
    assert HttpSettings().max_bytes == DEFAULT_MAX_BYTES
    assert _load("{max_bytes: 1000}").max_bytes == 1000
    assert _load("{max_bytes: null}").max_bytes is None
    assert _load("{}").max_page_bytes == 50_000_000
    assert _load("{timeout: 3}").attempt_deadline == 60
    assert _load("{deadline: 2.5}").attempt_deadline == 2.5


@pytest.mark.parametrize(
    ("http", "message"),
    [
        (
            "{deadline: 0}",
            "crawler.yaml:1:18: got the number 0 at http.deadline — expected a number of"
            " seconds > 0: the most one attempt of a request may take in all, body included"
            " (default: 20 x timeout)",
        ),
        (
            "{max_bytes: 0}",
            "crawler.yaml:1:19: got the number 0 at http.max_bytes — expected a whole number of"
            " bytes >= 1: the largest file a download may bring (default 4 GiB), or null for"
            " no limit",
        ),
    ],
)
def test_bad_limits_are_refused_at_load_time(http: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _load(http)
    assert str(error.value) == message


def _endless_chunks(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    for _ in range(100_000):  # 6.5 GB, if nobody stops reading
        handler.wfile.write(chunk)


def test_an_endless_chunked_file_stops_at_max_bytes(
    site: Site, tmp_path: Path, session: MakeSession
) -> None:
    url = site.custom("/endless.bin", _endless_chunks)
    settings = HttpSettings(timeout=5, retries=0, user_agent="t", max_bytes=1_000_000)
    with pytest.raises(FetchError, match=r"failed: the body passes the limit of 1,000,000 bytes$"):
        download(session(settings), url, tmp_path / "endless.bin")
    assert list(tmp_path.iterdir()) == []


BOMB = gzip.compress(b"[" + b" " * 5_000_000 + b"]")  # 5 kB on the wire, 5 MB decoded


def test_a_gzip_bomb_counts_its_decoded_size_for_pages_and_files(
    site: Site, tmp_path: Path, session: MakeSession
) -> None:
    assert len(BOMB) < 10_000
    bomb = Reply(200, BOMB, {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    url = site.serve("/bomb", bomb)
    limits = HttpSettings(timeout=5, retries=0, user_agent="t", max_bytes=1_000_000)
    limits = replace(limits, max_page_bytes=1_000_000)
    too_big = r"failed: the body passes the limit of 1,000,000 bytes$"
    with pytest.raises(FetchError, match=too_big):
        fetch_document(session(limits), url)
    with pytest.raises(FetchError, match=too_big):
        download(session(limits), url, tmp_path / "bomb.json")
    assert list(tmp_path.iterdir()) == []


# --- deep JSON ------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        (nested(200), False),
        (nested(201), True),
        ('{"a": ' * 199 + "{}" + "}" * 199, False),
        ('{"a": ' * 200 + "{}" + "}" * 200, True),
        ('["' + "[" * 500 + '"]', False),  # brackets in a string do not nest
        ('["\\"' + "{" * 500 + '"]', False),  # nor after an escaped quote
        ('["\\\\", ' + nested(201) + "]", True),  # an escaped backslash ends no string
        ('["\\\\\\"' + "[" * 500 + '"]', False),  # nor does one before an escaped quote
        ("[" + "[], " * 5000 + "[]]", False),  # wide, not deep
        ("[" + '"[", ' * 300 + '"", [""]]', False),  # many strings with brackets
        ('["a]", ' + nested(201) + ', "["]', True),  # they do not hide real nesting
        (nested(100_000), True),  # no RecursionError on the way
    ],
)
def test_json_depth_is_checked_without_recursion(text: str, deep: bool) -> None:
    if deep:
        with pytest.raises(fetch._TooDeepError, match=r"^nested more than 200 levels deep$"):
            fetch._check_depth(text)
    else:
        fetch._check_depth(text)
        json.loads(text)


def test_a_page_nested_too_deep_fails_with_one_short_line(site: Site, session: MakeSession) -> None:
    url = site.serve("/deep", Reply(200, nested(900).encode(), JSON))
    with pytest.raises(FetchError) as error:
        fetch_document(session(HttpSettings(retries=0, user_agent="t")), url)
    assert str(error.value) == f"GET {url} refused: the JSON is nested more than 200 levels deep"


CRAWL = """
    vars: {{base: "{base}"}}
    run: {{workers: 2}}
    http: {{timeout: 1, deadline: 2, retries: 1, backoff: 0.05}}
    stages:
      list:
        url: "{{base}}/list.json"
        each: "$.pages[*]"
        as: p
      page:
        from: list
        url: "{{base}}/{{p}}.json"
        fields: {{name: "$.name"}}
        downloads:
          - {{url: "{{base}}/file.bin", save_as: "{{p}}-{{name}}.bin"}}
"""


@pytest.mark.parametrize("mode", MODES)
def test_deep_and_dripping_pages_fail_alone_in_every_mode(
    mode: str, run_cli: RunCli, tmp_path: Path
) -> None:
    with Hostile() as server:
        server.routes["/list.json"] = answer({"pages": ["deep", "drip", "ok"]})
        server.routes["/deep.json"] = answer({"name": "x", "v": json.loads(nested(900))})
        server.routes["/drip.json"] = drip_body
        server.routes["/ok.json"] = answer({"name": "fine"})
        server.routes["/file.bin"] = answer(b"bytes", "application/octet-stream")
        config = tmp_path / "crawl.yaml"
        config.write_text(dedent(CRAWL.format(base=server.base)), "utf-8")
        report = tmp_path / "report.json"
        output = tmp_path / "out"
        run = run_cli(config, "--mode", mode, "--output", output, "-q", "--report", report)
    assert run.code == 1, run.out + run.err
    assert saved_files(output) == {"ok-fine.bin": b"bytes"}
    reasons = {f["url"]: f["reason"] for f in json.loads(report.read_text())["failures"]}
    assert reasons == {
        f"{server.base}/deep.json": f"GET {server.base}/deep.json refused:"
        " the JSON is nested more than 200 levels deep",
        f"{server.base}/drip.json": f"GET {server.base}/drip.json {PAST}",
    }


# --- headers built from data ----------------------------------------------------------------


def test_a_download_header_that_cannot_be_built_says_so() -> None:
    plan, stage = lol_plan()
    rule = replace(stage.downloads[0], headers=(("X-Ref", "{missing}"),))
    context = {"missing": None, "skin": {"name": "a", "mainImg": "u"}, "hero_name": "h"}
    request = file_request(plan, stage, rule, context, (0,))
    assert (
        request.problem
        == "cannot build header X-Ref: {missing}: the value is null or matched nothing"
    )


INJECTION = (
    "cannot build header X-Skin: the value has a control character ('\\r'):"
    " header injection refused"
)


@pytest.mark.parametrize("name", ["a\r\nX-Evil: 1", "a\nb", "a\x00b"])
def test_a_header_value_with_a_control_character_is_refused(name: str) -> None:
    plan, stage = lol_plan()
    rule = replace(stage.downloads[0], headers=(("X-Skin", "{skin.name}"),))
    context = {"skin": {"name": name, "mainImg": "u"}, "hero_name": "h", "img": "http://x"}
    problem = file_request(plan, stage, rule, context, (0,)).problem
    assert problem == INJECTION.replace("\\r", repr(name[1])[1:-1])
    stage = replace(stage, headers=(("X-Skin", "{skin.name}"),))
    plan = replace(plan, stages=(stage,))
    run = RunContext(plan, Session(plan.http), CancelToken())
    result = fetch_page(run, PageUnit((0,), stage.name, context))
    assert result.error == problem
    assert result.attempts == 0  # refused before any request


def test_injected_headers_never_reach_the_server(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    api.routes["/list"] = lambda q: ({"items": ["ok", "bad\r\nX-Evil: 1"]}, {})
    api.routes["/item"] = lambda q: ({"n": q["n"]}, {})
    config = tmp_path / "crawl.yaml"
    config.write_text(
        dedent(f"""
        stages:
          list:
            url: "{api.base}/list"
            each: "$.items[*]"
            as: item
          item:
            from: list
            url: "{api.base}/item"
            params: {{n: "{{item}}"}}
            headers: {{X-Item: "{{item}}"}}
        """),
        "utf-8",
    )
    report = tmp_path / "report.json"
    run = run_cli(config, "--output", tmp_path / "out", "-q", "--report", report)
    assert run.code == 1, run.out + run.err
    assert [headers["X-Evil"] for headers in api.headers] == [None, None]
    assert [headers["X-Item"] for headers in api.headers] == [None, "ok"]
    failures = json.loads(report.read_text())["failures"]
    assert [f["reason"] for f in failures] == [INJECTION.replace("X-Skin", "X-Item")]
