"""Relative URLs resolve against the page they came from, as a browser resolves links: stage
URLs from the data, downloads and `next` links; absolute ones are kept as they are."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver import Api, serving
from tests.conftest import LANGUAGE_MODES, MakeSession, ModeArgs, RunCli
from tests.support import manifest_records, saved_files
from yamlcrawl.http.fetch import fetch_document
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.pagination import STYLES
from yamlcrawl.language.plan import Plan, build_plan
from yamlcrawl.types import HttpSettings, PageUnit
from yamlcrawl.work.pages import file_request
from yamlcrawl.work.requests import page_request, resolve

PAGE = "http://h:8080/api/books/list?page=2"

# (value from the data, the URL it resolves to against PAGE)
RELATIVE = [
    ("/img/2.png", "http://h:8080/img/2.png"),
    ("img/2.png", "http://h:8080/api/books/img/2.png"),
    ("//cdn.example:9000/x.png", "http://cdn.example:9000/x.png"),
    ("../x", "http://h:8080/api/x"),
    ("../../../x", "http://h:8080/x"),
    ("?page=3", "http://h:8080/api/books/list?page=3"),
    ("./img/a b.png", "http://h:8080/api/books/img/a b.png"),
    ("https://other.example/x.png", "https://other.example/x.png"),
    ("http://h:8080/api/books/list?page=2", "http://h:8080/api/books/list?page=2"),
]


@pytest.mark.parametrize(("value", "expected"), RELATIVE)
def test_a_url_resolves_against_its_page(value: str, expected: str) -> None:
    assert resolve(value, PAGE) == expected


@pytest.mark.parametrize("value", ["/img/2.png", "img/2.png", "https://o/x"])
def test_without_a_page_a_url_is_kept_as_it_is(value: str) -> None:
    assert resolve(value, "") == value  # a start page: fetch_document refuses a relative one


def plan_of(text: str) -> Plan:
    return build_plan(load_text(text, environ={}).spec)


@pytest.mark.parametrize(("value", "expected"), RELATIVE)
def test_downloads_and_child_pages_resolve_against_their_page(value: str, expected: str) -> None:
    plan = plan_of(SITE)  # its stages' download and child URLs come from the data
    context = {"book": {"id": 1, "img": value, "href": value}}
    stage = plan.stage("list")
    request = file_request(plan, stage, stage.downloads[0], context, (0, 0, 0), PAGE)
    assert request.url == expected
    unit = PageUnit((0, 0, 0), "detail", context, base=PAGE)
    url, params, _ = page_request(plan.stage("detail"), unit)
    assert url == f"{expected}?x=1"  # the template is rendered, then resolved
    assert params == {}


@pytest.mark.parametrize(("value", "expected"), RELATIVE)
def test_next_links_resolve_against_their_page(value: str, expected: str) -> None:
    plan = plan_of("stages:\n  a:\n    url: http://h/x\n    paginate: {by: next, from: $.next}\n")
    page = plan.stage("a").paginate
    assert page is not None
    assert STYLES["next"].next_value(page, None, {"next": value}, PAGE, "") == expected
    link = f'<{value}>; rel="next"'
    assert STYLES["link"].next_value(page, None, {}, PAGE, link) == expected


@pytest.fixture
def cdn() -> Iterator[Api]:
    """A second server: another host:port than the API's, as a CDN would be."""
    with serving() as served:
        yield served


def serve_site(api: Api, cdn: Api) -> None:
    """A book list behind a redirect (/v1/start to /v1/books/index), two pages linked by a
    relative `next`, items whose images and detail pages are given every way a URL can be."""
    api.routes["/v1/start"] = lambda q: ("", {"Location": "/v1/books/index?page=1"})
    cdn_host = cdn.base.removeprefix("http:")  # //127.0.0.1:port: the page's scheme
    host = api.base.removeprefix("http:")
    pages = {
        "1": {
            "items": [
                {"id": 1, "img": "/img/1.png", "href": "detail/1"},
                {"id": 2, "img": "img/2.png", "href": "../books/detail/2"},
                {"id": 3, "img": f"{cdn_host}/x3.png", "href": "/v1/books/detail/3"},
                {"id": 4, "img": f"{cdn.base}/x4.png", "href": f"{api.base}/v1/books/detail/4"},
            ],
            "next": "index?page=2",
        },
        "2": {
            "items": [{"id": 5, "img": "../img/5.png", "href": f"{host}/v1/books/detail/5"}],
            "next": None,
        },
    }
    api.routes["/v1/books/index"] = lambda q: (pages[q["page"]], {})
    for n in range(1, 6):
        api.routes[f"/v1/books/detail/{n}"] = lambda q, n=n: ({"file": f"files/{n}.txt"}, {})
        api.routes[f"/v1/books/detail/files/{n}.txt"] = lambda q, n=n: (f"text {n}".encode(), {})
    for path in ("/img/1.png", "/v1/books/img/2.png", "/v1/img/5.png"):
        api.routes[path] = lambda q, path=path: (path.encode(), {})
    for path in ("/x3.png", "/x4.png"):
        cdn.routes[path] = lambda q, path=path: (path.encode(), {})


SITE = """
vars: {api: "http://127.0.0.1"}
http: {headers: {X-Crawl: yamlcrawl}}
stages:
  list:
    url: "{api}/v1/start"
    paginate: {by: next, from: $.next}
    each: $.items[*]
    as: book
    downloads:
      - {url: "{book.img}", save_as: "covers/{book.id}.png"}
  detail:
    from: list
    url: "{book.href}?x=1"
    fields: {file: $.file}
    downloads:
      - {url: "{file}", save_as: "texts/{book.id}.txt"}
"""


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_crawl_of_relative_and_absolute_urls(
    api: Api, cdn: Api, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, mode: str
) -> None:
    serve_site(api, cdn)
    config = tmp_path / "crawl.yaml"
    config.write_text(SITE, "utf-8")
    output = tmp_path / "out"
    result = run_cli(config, "--set", f"api={api.base}", "--output", output, *mode_args(mode))
    assert result.code == 0, result.out + result.err
    # Everything resolved against the page's final URL (after the redirect), never /v1/start.
    assert saved_files(output) == {
        "covers/1.png": b"/img/1.png",
        "covers/2.png": b"/v1/books/img/2.png",
        "covers/3.png": b"/x3.png",
        "covers/4.png": b"/x4.png",
        "covers/5.png": b"/v1/img/5.png",
        **{f"texts/{n}.txt": f"text {n}".encode() for n in range(1, 6)},
    }
    details = sorted(p for p in api.asked if "/detail/" in p and "/files/" not in p)
    assert details == [f"/v1/books/detail/{n}?x=1" for n in range(1, 6)]
    # The manifest names the absolute URL each file came from.
    urls = {r["path"]: r["url"] for r in manifest_records(output) if r.get("path")}
    assert urls["covers/2.png"] == f"{api.base}/v1/books/img/2.png"
    assert urls["covers/3.png"] == f"{cdn.base}/x3.png"
    assert urls["texts/1.txt"] == f"{api.base}/v1/books/detail/files/1.txt"
    # A relative URL to another host gets the headers an absolute one gets: the same, no more.
    sent = {path: dict(headers) for path, headers in zip(cdn.asked, cdn.headers, strict=True)}
    assert sent["/x3.png"] == {**sent["/x4.png"], "Host": sent["/x3.png"]["Host"]}
    assert sent["/x3.png"]["X-Crawl"] == "yamlcrawl"


def test_a_relative_start_url_is_still_refused(run_cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "crawl.yaml"
    config.write_text("stages:\n  a: {url: /v1/books}\n", "utf-8")
    result = run_cli(config, "--output", tmp_path / "out")
    assert result.code == 3  # its only page failed: nothing succeeded
    assert "GET /v1/books refused: the URL is not an http or https URL" in result.out + result.err


def test_dry_run_lists_absolute_urls(api: Api, cdn: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve_site(api, cdn)
    config = tmp_path / "crawl.yaml"
    config.write_text(SITE, "utf-8")
    result = run_cli(config, "--set", f"api={api.base}", "--output", tmp_path / "o", "--dry-run")
    assert result.code == 0, result.out + result.err
    listed = result.out + result.err
    assert f"{api.base}/v1/books/img/2.png" in listed
    assert f"{cdn.base}/x3.png" in listed
    assert f"{api.base}/v1/img/5.png" in listed


def test_a_document_knows_the_url_it_came_from(api: Api, session: MakeSession) -> None:
    api.routes["/old"] = lambda q: ("", {"Location": "/new/place?a=1"})
    api.routes["/new/place"] = lambda q: ({"ok": True}, {})
    document = fetch_document(session(HttpSettings()), f"{api.base}/old", params={"b": "2"})
    assert document.url == f"{api.base}/new/place?a=1"  # where its relative links start from
    direct = fetch_document(session(HttpSettings()), f"{api.base}/new/place", params={"b": "2"})
    assert direct.url == f"{api.base}/new/place?b=2"
