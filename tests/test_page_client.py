"""Page requests go through requests (issue 16): Digest authentication, SOCKS proxies, CIDR
`no_proxy`, a CA bundle path and client certificates, .netrc, and the crawl's rule for
credentials on redirects; all against servers the test starts on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest

from tests.conftest import LANGUAGE_MODES, MakeSession, ModeArgs, RunCli
from tests.netservers import (
    JSON,
    Answer,
    Asked,
    DigestGate,
    Pki,
    Socks5Proxy,
    WebServer,
    make_pki,
    ok,
    running,
)
from tests.support import Run, download, manifest_records, saved_files
from yamlcrawl.backends import modes
from yamlcrawl.http.fetch import FetchError, fetch_document
from yamlcrawl.language.loader import ConfigError, load_text
from yamlcrawl.types import HttpSettings

SETTINGS = HttpSettings(timeout=5, retries=0, user_agent="t")
SECRET = "dig3st-pa55word"


def echo(asked: Asked) -> Answer:
    """The path asked for, as JSON."""
    return ok({"path": asked.path})


@pytest.fixture
def web() -> Iterator[WebServer]:
    """A server that answers with the path asked for; tests replace its responder."""
    server = WebServer(echo)
    with running(server):
        yield server


@pytest.fixture
def other() -> Iterator[WebServer]:
    """Another origin (another port): what a redirect may lead to."""
    server = WebServer(echo)
    with running(server):
        yield server


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy from the environment, whatever the machine has set."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


# --- Digest -------------------------------------------------------------------------------


def test_digest_credentials_answer_the_challenge(web: WebServer, session: MakeSession) -> None:
    web.responder = DigestGate("ann", SECRET, echo)
    url = f"{web.base}/private.json?page=2"
    assert fetch_document(session(SETTINGS), url, digest=("ann", SECRET)).data == {
        "path": "/private.json?page=2"
    }
    first, second = web.asked
    assert "Authorization" not in first.headers  # asked without, challenged, answered
    assert second.headers["Authorization"].startswith('Digest username="ann"')
    assert SECRET not in second.headers["Authorization"]  # a digest, never the password
    with pytest.raises(FetchError, match=r"failed: HTTP 401 Unauthorized$"):
        fetch_document(session(SETTINGS), url, digest=("ann", "wrong"))


# --- proxies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "host", "connect_to"),
    [
        ("socks5", "127.0.0.1", "127.0.0.1"),  # the client resolves names
        ("socks5h", "localhost", "localhost"),  # the proxy does
    ],
)
def test_a_socks_proxy_carries_page_requests(
    scheme: str,
    host: str,
    connect_to: str,
    web: WebServer,
    session: MakeSession,
    no_proxy_environment: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    socks = Socks5Proxy()
    port = web.server_address[1]
    proxies = (("http", f"{scheme}://127.0.0.1:{socks.port}"),)
    settings = HttpSettings(timeout=5, retries=0, user_agent="t", proxies=proxies)
    with running(socks):
        document = fetch_document(session(settings), f"http://{host}:{port}/through.json")
        saved = download(session(settings), f"http://{host}:{port}/file.bin", tmp_path / "f")
    assert document.data == {"path": "/through.json"}
    assert saved.bytes == len(b'{"path": "/file.bin"}')  # files too, on their own client
    assert socks.connects == [(connect_to, port), (connect_to, port)]


def test_no_proxy_takes_cidr_ranges(
    web: WebServer, session: MakeSession, no_proxy_environment: pytest.MonkeyPatch
) -> None:
    proxy = WebServer(lambda asked: ok({"proxied": asked.path}))
    port = web.server_address[1]
    with running(proxy):
        no_proxy_environment.setenv("http_proxy", proxy.base)
        direct = f"http://127.0.0.1:{port}/a.json"
        assert fetch_document(session(SETTINGS), direct).data == {"proxied": direct}
        no_proxy_environment.setenv("no_proxy", "10.0.0.0/8,127.0.0.0/8")
        assert fetch_document(session(SETTINGS), direct).data == {"path": "/a.json"}
        by_name = f"http://localhost:{port}/b.json"  # a name, not in the range: proxied
        assert fetch_document(session(SETTINGS), by_name).data == {"proxied": by_name}
    assert [asked.path for asked in web.asked] == ["/a.json"]


# --- TLS: a CA bundle path, client certificates -------------------------------------------


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    return make_pki(folder)


@pytest.fixture
def mutual_tls(pki: Pki) -> Iterator[WebServer]:
    """An HTTPS server whose certificate the test CA signed, and that requires a client
    certificate signed by it."""
    server = WebServer(echo, tls=pki.server_context())
    with running(server):
        yield server


def test_https_with_a_ca_path_and_a_client_certificate(
    mutual_tls: WebServer, pki: Pki, session: MakeSession, tmp_path: Path
) -> None:
    url = f"{mutual_tls.base}/tls.json"
    pair = (str(pki.client), str(pki.client_key))
    for cert in (pair, str(pki.client_both)):  # [certificate, key], or both in one file
        settings = HttpSettings(timeout=5, retries=0, user_agent="t", verify=str(pki.ca), cert=cert)
        assert fetch_document(session(settings), url).data == {"path": "/tls.json"}
        assert download(session(settings), url, tmp_path / "tls.json").bytes > 0  # files too
    without = HttpSettings(timeout=5, retries=0, user_agent="t", verify=str(pki.ca))
    with pytest.raises(FetchError, match=r"^GET https://127\.0\.0\.1:\d+/tls\.json failed: "):
        fetch_document(session(without), url)
    untrusted = HttpSettings(timeout=5, retries=0, user_agent="t", cert=pair)
    with pytest.raises(FetchError, match=r"failed: TLS error \(.*certificate verify failed"):
        fetch_document(session(untrusted), url)
    assert len(mutual_tls.asked) == 4


# --- .netrc -------------------------------------------------------------------------------


def basic_gate(asked: Asked) -> Answer:
    """Anything with an Authorization header passes (the test looks at which one came)."""
    if "Authorization" in asked.headers:
        return echo(asked)
    return 401, {**JSON, "WWW-Authenticate": 'Basic realm="t"'}, b"{}"


def test_netrc_gives_credentials_only_when_the_crawl_gives_none(
    web: WebServer, session: MakeSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ann password n3trc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    web.responder = basic_gate
    url = f"{web.base}/netrc.json"
    assert fetch_document(session(SETTINGS), url).data == {"path": "/netrc.json"}
    assert web.asked[-1].headers["Authorization"] == "Basic YW5uOm4zdHJjLXNlY3JldA=="
    fetch_document(session(SETTINGS), url, headers={"authorization": "Bearer t0ken"})
    assert web.asked[-1].headers["Authorization"] == "Bearer t0ken"  # the crawl's own wins
    web.responder = DigestGate("ann", SECRET, echo)
    fetch_document(session(SETTINGS), url, digest=("ann", SECRET))
    assert all(
        asked.headers.get("Authorization", "Digest").startswith("Digest")
        for asked in web.asked[-2:]
    )


# --- redirects ----------------------------------------------------------------------------


def redirect(to: str) -> Answer:
    """A redirect that sets a cookie for its host on the way."""
    return 302, {"Location": to, "Set-Cookie": "chain=1; Path=/"}, b""


def test_a_redirect_to_another_origin_gets_no_digest_answer(
    web: WebServer, other: WebServer, session: MakeSession
) -> None:
    other.responder = DigestGate("ann", SECRET, echo)
    web.responder = lambda asked: redirect(f"{other.base}/end.json")
    with pytest.raises(FetchError, match=r"failed: HTTP 401 Unauthorized$"):
        fetch_document(session(SETTINGS), f"{web.base}/start.json", digest=("ann", SECRET))
    assert [asked.path for asked in other.asked] == ["/end.json"]  # challenged, not answered
    assert "Authorization" not in other.asked[0].headers
    # Within the origin, the challenge after a redirect is answered.
    gate = DigestGate("ann", SECRET, echo)
    web.responder = lambda asked: (
        redirect("/end.json") if asked.path == "/start.json" else gate(asked)
    )
    document = fetch_document(session(SETTINGS), f"{web.base}/start.json", digest=("ann", SECRET))
    assert document.data == {"path": "/end.json"}


def test_the_crawls_cookies_stay_within_the_origin_through_redirects(
    web: WebServer, other: WebServer, session: MakeSession
) -> None:
    def answer(asked: Asked) -> Answer:
        if asked.path == "/here.json":
            return redirect("/end.json")
        if asked.path == "/away.json":
            return redirect(f"http://localhost:{other.server_address[1]}/end.json")
        return echo(asked)

    web.responder = answer
    sent = {"Cookie": "lang=zh", "Authorization": "Bearer t0ken"}
    fetch_document(session(SETTINGS), f"{web.base}/here.json", headers=sent)
    end = web.asked[-1].headers
    assert (end["Cookie"], end["Authorization"]) == ("lang=zh; chain=1", "Bearer t0ken")
    fetch_document(session(SETTINGS), f"{web.base}/away.json", headers=sent)
    assert "Cookie" not in other.asked[-1].headers
    assert "Authorization" not in other.asked[-1].headers
    # Another port of the same host: the crawl's cookie stays behind; the one the server set
    # goes, as cookies ignore ports (RFC 6265).
    web.responder = lambda asked: redirect(f"{other.base}/end.json")
    fetch_document(session(SETTINGS), f"{web.base}/port.json", headers=sent)
    assert other.asked[-1].headers["Cookie"] == "chain=1"
    assert "Authorization" not in other.asked[-1].headers
    # A cookie set along a chain is not kept for the next request (issue 16's jar will be).
    web.responder = echo
    fetch_document(session(SETTINGS), f"{web.base}/end.json")
    assert "Cookie" not in web.asked[-1].headers


def test_a_redirect_body_is_never_read(web: WebServer, session: MakeSession) -> None:
    huge = b"x" * 5_000_000
    web.responder = lambda asked: (
        (302, {"Location": "/end.json"}, huge) if asked.path == "/start.json" else echo(asked)
    )
    settings = HttpSettings(timeout=5, retries=0, user_agent="t", max_page_bytes=1000)
    assert fetch_document(session(settings), f"{web.base}/start.json").data == {"path": "/end.json"}


# --- a whole crawl, in every mode -----------------------------------------------------------

CRAWL = """
vars: {api: "http://127.0.0.1", password: "${DIGEST_PASSWORD}"}
http:
  timeout: 5
  retries: 0
  auth: {digest: {user: ann, password: "{password}"}}
stages:
  list:
    url: "{api}/list.json"
    each: $.items[*]
    as: item
  item:
    from: list
    url: "{api}/items/{item}.json"
    downloads:
      - url: "{api}/files/{item}.bin"
        save_as: "{item}.bin"
"""


def digest_site(asked: Asked) -> Answer:
    """A list of three items behind Digest; the third item's page is missing; files are open."""
    if asked.path == "/list.json":
        return ok({"items": ["a", "b", "gone"]})
    if asked.path.startswith("/items/") and "gone" not in asked.path:
        return ok({"id": asked.path})
    return 404, JSON, b'"no such page"'


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_crawl_behind_digest_auth_in_every_mode(
    web: WebServer,
    run_cli: RunCli,
    mode_args: ModeArgs,
    tmp_path: Path,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = DigestGate("ann", SECRET, digest_site)
    web.responder = lambda asked: (
        (200, {}, asked.path.encode()) if asked.path.startswith("/files/") else gate(asked)
    )
    monkeypatch.setenv("DIGEST_PASSWORD", SECRET)
    run, output, shown = crawl_on(web, run_cli, tmp_path, CRAWL, *mode_args(mode))
    assert run.code == 1, shown  # the missing page
    assert saved_files(output) == {"a.bin": b"/files/a.bin", "b.bin": b"/files/b.bin"}
    assert "/items/gone.json failed: HTTP 404 Not Found" in run.out + run.err
    files = [asked for asked in web.asked if asked.path.startswith("/files/")]
    assert all("Authorization" not in asked.headers for asked in files)  # pages only
    assert SECRET not in shown


def crawl_on(
    web: WebServer, run_cli: RunCli, tmp_path: Path, text: str, *args: str
) -> tuple[Run, Path, str]:
    """Run a crawl against ``web`` (its var ``api``); the run, its output folder, and all it
    showed or wrote: output, log file, report, manifest."""
    config = tmp_path / "crawl.yaml"
    config.write_text(dedent(text), "utf-8")
    output, log, report = tmp_path / "out", tmp_path / "log.txt", tmp_path / "report.json"
    run = run_cli(
        config, "--set", f"api={web.base}", "--output", output, "-v", "--log-file", log,
        "--report", report, *args,
    )  # fmt: skip
    manifest = json.dumps(manifest_records(output)) if (output / "manifest.jsonl").exists() else ""
    return run, output, "\n".join((run.out, run.err, log.read_text(), report.read_text(), manifest))


# --- cookies are crawl state ------------------------------------------------------------------

LOGIN_CRAWL = """
vars: {api: "http://127.0.0.1", password: "${LOGIN_PASSWORD}"}
http: {timeout: 5, retries: 0}
stages:
  login:
    url: "{api}/login"
    method: POST
    form: {user: ann, password: "{password}"}
  list:
    from: login
    url: "{api}/list.json"
    paginate: {by: page, param: page, start: 1, max_pages: 2}
    each: $.items[*]
    as: item
  item:
    from: list
    url: "{api}/items/{item}.json"
    downloads:
      - url: "{api}/files/{item}.bin"
        save_as: "{item}.bin"
  outside:
    url: "{api}/outside.json"
"""


def login_site(asked: Asked) -> Answer:
    """A login POST sets a session cookie; every page and file below wants it; the list also
    sets a cookie for /files only, which only files send."""
    cookie = asked.headers.get("Cookie", "")
    if asked.path == "/login":
        if asked.body != f"user=ann&password={SECRET}".encode():
            return 401, JSON, b'"wrong password"'
        return 200, {**JSON, "Set-Cookie": "sid=s3ss10n; Path=/; HttpOnly"}, b'{"ok": true}'
    if asked.path == "/outside.json":  # not below the login: no session
        return ok({"cookie": cookie})
    if "sid=s3ss10n" not in cookie:
        return 403, JSON, b'"log in first"'
    if asked.path.startswith("/list.json"):
        page = asked.path.rsplit("=", 1)[-1]
        items = {"1": ["a", "b"], "2": ["c"]}.get(page, [])
        return (
            200,
            {**JSON, "Set-Cookie": f"list={page}; Path=/files"},
            json.dumps({"items": items}).encode(),
        )
    if asked.path.startswith("/items/"):
        return ok({"cookie": cookie})
    if asked.path.startswith("/files/") and "list=" in cookie:
        return 200, {}, cookie.encode()
    return 404, JSON, b'"no such thing"'


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_login_cookie_goes_with_every_page_and_file_below_it_in_every_mode(
    web: WebServer,
    run_cli: RunCli,
    mode_args: ModeArgs,
    tmp_path: Path,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    web.responder = login_site
    monkeypatch.setenv("LOGIN_PASSWORD", SECRET)
    run, output, shown = crawl_on(web, run_cli, tmp_path, LOGIN_CRAWL, *mode_args(mode))
    assert run.code == 0, shown
    assert saved_files(output) == {
        "a.bin": b"list=1; sid=s3ss10n",  # the longer path first, as browsers order them
        "b.bin": b"list=1; sid=s3ss10n",
        "c.bin": b"list=2; sid=s3ss10n",  # the second page set its own
    }
    pages = {asked.path: asked.headers.get("Cookie") for asked in web.asked}
    assert pages["/items/a.json"] == "sid=s3ss10n"  # /files only: not on pages
    assert pages["/outside.json"] is None  # a stage not below the login sends none
    assert SECRET not in shown


def test_a_cookies_file_gives_the_cookies_a_crawl_starts_with(
    web: WebServer, run_cli: RunCli, tmp_path: Path
) -> None:
    web.responder = lambda asked: ok({"cookie": asked.headers.get("Cookie")})
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n"
        "127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tsid\tfrom-the-file\n"
        "127.0.0.1\tFALSE\t/elsewhere\tFALSE\t4102444800\tother\tnot-here\n"
        "example.com\tFALSE\t/\tFALSE\t4102444800\tforeign\tnot-here\n"
    )
    config = tmp_path / "crawl.yaml"
    config.write_text(
        dedent(f"""
        http: {{timeout: 5, retries: 0, cookies_file: "{cookies}", cookies: {{lang: zh}}}}
        stages:
          first:
            url: "{web.base}/first.json"
            each: $.cookie
            as: sent
          second:
            from: first
            url: "{web.base}/second.json"
        """),
        "utf-8",
    )
    run = run_cli(config, "--output", tmp_path / "out", "-q")
    assert run.code == 0, run.out + run.err
    assert [asked.headers.get("Cookie") for asked in web.asked] == [
        "lang=zh; sid=from-the-file",
        "lang=zh; sid=from-the-file",
    ]


def test_a_cookies_file_not_in_the_netscape_format_is_refused(tmp_path: Path) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("sid=1\n")
    text = f"http:\n  cookies_file: {cookies}\nstages:\n  a: {{url: 'http://h/x'}}\n"
    with pytest.raises(ConfigError) as caught:
        load_text(text, "crawler.yaml", modes=modes(), environ={})
    assert str(caught.value) == (
        f"crawler.yaml:2:17: cannot read '{cookies}' at http.cookies_file"
        " (not in the Netscape format) — expected a Netscape cookies.txt file"
    )


def test_a_header_value_is_sent_without_surrounding_whitespace_and_never_shown(
    web: WebServer, session: MakeSession
) -> None:
    fetch_document(session(SETTINGS), f"{web.base}/a.json", headers={"X-Key": " s3cret-value "})
    assert web.asked[-1].headers["X-Key"] == "s3cret-value"
    with pytest.raises(FetchError) as caught:
        fetch_document(session(SETTINGS), f"{web.base}/a.json", headers={"X-Key": "a\nb-s3cret"})
    assert str(caught.value) == (
        f"GET {web.base}/a.json failed: a header has a line break or a reserved character"
    )
