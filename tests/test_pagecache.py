"""Conditional page requests: a rerun sends the validators an earlier run kept, and a 304 gives
exactly what a 200 with the same body gives; --fresh, a dry run, damaged copies, the bound."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import running, send_answer
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records, saved_files
from yamlcrawl.http.conditional import conditional_headers, kept_body, to_keep
from yamlcrawl.storage.pagecache import PAGES_FILE, PageCache
from yamlcrawl.types import PageResult, PageUnit, StoredPage

DATE = "Tue, 01 Dec 2026 10:00:00 GMT"


@dataclass
class Page:
    """A JSON page and its validators (None: the header is not sent)."""

    data: Any
    etag: str | None = None
    modified: str | None = None


@dataclass(frozen=True)
class Asked:
    """One request as the server saw it."""

    method: str
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    sent: int  # body bytes sent

    @property
    def conditional(self) -> bool:
        return self.if_none_match is not None or self.if_modified_since is not None


@dataclass
class Site:
    """Pages by path (query included) that honour If-None-Match / If-Modified-Since with a 304,
    files by path; every request logged."""

    pages: dict[str, Page] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    log: list[Asked] = field(default_factory=list)
    base: str = ""

    def page_log(self) -> list[Asked]:
        return [a for a in self.log if a.path not in self.files]

    def answer(
        self, path: str, inm: str | None, ims: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        if path in self.files:
            return 200, {"Content-Type": "application/octet-stream"}, self.files[path]
        page = self.pages.get(path)
        if page is None:
            return 404, {}, b'"no such page"'
        headers = {"ETag": page.etag or "", "Last-Modified": page.modified or ""}
        if inm is not None:  # If-None-Match wins; If-Modified-Since is then not looked at
            unchanged = page.etag is not None and inm == page.etag
        else:
            unchanged = ims is not None and page.modified is not None and ims == page.modified
        if unchanged:
            return 304, headers, b""
        body = json.dumps(page.data).encode()
        return 200, {"Content-Type": "application/json", **headers}, body


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        site = self.server.site
        inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        status, headers, body = site.answer(self.path, inm, ims)
        site.log.append(Asked(self.command, self.path, inm, ims, status, len(body)))
        if status == 304:  # no body, no Content-Length
            self.send_response(304)
            for name, value in headers.items():
                if value:
                    self.send_header(name, value)
            self.end_headers()
            return
        send_answer(self, status, headers, body)

    do_POST = do_DELETE = do_GET  # noqa: N815 (the names http.server looks up)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site


@contextlib.contextmanager
def serving(site: Site) -> Iterator[Site]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = site
    with running(server) as base:
        site.base = base
        yield site


def catalogue() -> Site:
    """A list paged by number (ETag, Last-Modified, ETag), four details (ETag and
    Last-Modified, ETag, Last-Modified, neither), a file per detail."""
    site = Site()
    site.pages = {
        "/list?page=1": Page({"items": [1, 2]}, etag='"l1"'),
        "/list?page=2": Page({"items": [3, 4]}, modified=DATE),
        "/list?page=3": Page({"items": []}, etag='W/"l3"'),
        "/detail?id=1": Page({"name": "one"}, etag='"d1"', modified=DATE),
        "/detail?id=2": Page({"name": "two"}, etag='"d2"'),
        "/detail?id=3": Page({"name": "three, the longest"}, modified=DATE),
        "/detail?id=4": Page({"name": "four"}),
    }
    site.files = {f"/file/{n}.bin": f"file {n}".encode() * 50 for n in range(1, 5)}
    return site


CRAWL = """
name: cached
vars: {api: "http://127.0.0.1"}
stages:
  list:
    url: "{api}/list"
    paginate: {by: page, param: page}
    each: "$.items[*]"
    as: item
  detail:
    from: list
    url: "{api}/detail?id={item}"
    fields: {name: $.name}
    emit: {to: details.jsonl, fields: {id: "{item}", name: "{name}"}}
    downloads:
      - url: "{api}/file/{item}.bin"
        save_as: "{name}.bin"
"""


@pytest.fixture
def site() -> Iterator[Site]:
    with serving(catalogue()) as served:
        yield served


def crawl(tmp_path: Path, text: str = CRAWL) -> Path:
    config = tmp_path / "crawl.yaml"
    config.write_text(text, "utf-8")
    return config


def run(run_cli: RunCli, site: Site, out: Path, *extra: str) -> tuple[str, dict[str, Any]]:
    """Crawl ``site`` into ``out``: what it printed, and its report."""
    report = out.parent / f"{out.name}-report.json"
    result = run_cli(
        crawl(out.parent), "--set", f"api={site.base}", "-o", out, "--report", report, *extra
    )
    assert result.code == 0, result.out + result.err
    return result.out + result.err, json.loads(report.read_text("utf-8"))


STABLE = ("kind", "url", "path", "bytes", "sha256", "stage", "status", "error", "reason")


def outputs(out: Path) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Every file saved (emit files too) and the manifest's rows, as far as a run's timing
    cannot change them (files finish in any order in the parallel modes)."""
    rows = [{k: r.get(k) for k in STABLE} for r in manifest_records(out)]
    return saved_files(out), sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def sent_headers(log: list[Asked]) -> dict[str, tuple[str | None, str | None]]:
    return {a.path: (a.if_none_match, a.if_modified_since) for a in log}


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_rerun_asks_conditionally_and_a_304_gives_what_a_200_gives(
    site: Site, run_cli: RunCli, tmp_path: Path, mode_args: ModeArgs, mode: str
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    run(run_cli, site, first, *mode_args(mode))
    assert [a for a in site.log if a.conditional] == []
    first_bytes = sum(a.sent for a in site.page_log())
    shutil.copytree(first, second, symlinks=True)  # the same state, crawled without the cache
    site.pages["/detail?id=2"] = Page({"name": "two, renamed"}, etag='"d2-v2"')
    site.log.clear()

    out, report = run(run_cli, site, first, *mode_args(mode))

    asked = site.page_log()
    assert sent_headers(asked) == {
        "/list?page=1": ('"l1"', None),
        "/list?page=2": (None, DATE),
        "/list?page=3": ('W/"l3"', None),
        "/detail?id=1": ('"d1"', DATE),
        "/detail?id=2": ('"d2"', None),
        "/detail?id=3": (None, DATE),
        "/detail?id=4": (None, None),
    }
    statuses = {a.path: a.status for a in asked}
    assert sorted(p for p, s in statuses.items() if s == 200) == ["/detail?id=2", "/detail?id=4"]
    assert len(asked) == 7  # a request per page, as before: 5 answered without a body
    assert sum(a.sent for a in asked) < first_bytes / 2
    assert report["pages"] == 7
    assert report["pages_not_modified"] == 5
    assert re.search(r"pages not modified \(304\) +│ +5 │", out), out
    assert report["saved"] == 1 and report["present"] == 3  # two, renamed.bin

    site.log.clear()
    _, without = run(run_cli, site, second, *mode_args(mode), "--set", "output.page_cache=0")
    assert [a for a in site.log if a.conditional] == []
    assert without["pages_not_modified"] == 0
    assert outputs(first) == outputs(second)
    records = (first / "details.jsonl").read_text("utf-8").splitlines()
    assert json.loads(records[1]) == {"id": 2, "name": "two, renamed"}
    assert (first / "two, renamed.bin").read_bytes() == site.files["/file/2.bin"]


def test_fresh_sends_no_validators_and_keeps_the_new_ones(
    site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run(run_cli, site, out)
    site.log.clear()
    _, report = run(run_cli, site, out, "--fresh")
    assert [a for a in site.log if a.conditional] == []
    assert report["pages_not_modified"] == 0
    site.log.clear()
    said, report = run(run_cli, site, out, "-v")
    assert report["pages_not_modified"] == 6
    lines = [line for line in said.splitlines() if line.startswith("page detail")]
    assert lines == [
        f"page detail {site.base}/detail?id={n}, 1 files{', not modified (304)' if n < 4 else ''}"
        for n in range(1, 5)
    ]


def damage(out: Path, url_end: str, change: str) -> None:
    """Change what the cache keeps for the page whose URL ends with ``url_end``."""
    db = sqlite3.connect(out / ".yamlcrawl" / PAGES_FILE)
    with db:
        done = db.execute(f"UPDATE pages SET {change} WHERE url LIKE ?", (f"%{url_end}",))
        assert done.rowcount == 1
    db.close()


OTHER_BODY = zlib.compress(b'{"name": "x"}').hex()
DAMAGE = {
    "a body that is not zlib": "body = x'00010203'",
    "a body that is not the one hashed": f"body = x'{OTHER_BODY}'",
    "a body emptied": "body = x''",
}


@pytest.mark.parametrize("change", DAMAGE.values(), ids=list(DAMAGE))
def test_a_304_for_a_damaged_copy_asks_again_unconditionally(
    site: Site, run_cli: RunCli, tmp_path: Path, change: str
) -> None:
    out = tmp_path / "out"
    run(run_cli, site, out)
    before = outputs(out)[0]
    damage(out, "/detail?id=1", change)
    site.log.clear()

    _, report = run(run_cli, site, out)

    asked = [(a.status, a.conditional) for a in site.log if a.path == "/detail?id=1"]
    assert asked == [(304, True), (200, False)]
    assert report["pages_not_modified"] == 5
    assert report["retries"] == 0  # nothing failed: the second request is no retry
    assert outputs(out)[0] == before
    site.log.clear()
    _, report = run(run_cli, site, out)  # the copy was replaced by the page asked again
    assert report["pages_not_modified"] == 6


def test_a_kept_page_over_a_lowered_max_page_bytes_fails_as_a_200_would(
    site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    run(run_cli, site, first)
    shutil.copytree(first, second, symlinks=True)
    lowered = ("--set", "http.max_page_bytes=20")  # {"name": "three, the longest"} is 30 bytes
    runs = [(first, ()), (second, ("--set", "output.page_cache=0"))]
    reports = []
    for out, extra in runs:
        site.log.clear()
        result = run_cli(
            crawl(tmp_path),
            "--set",
            f"api={site.base}",
            "-o",
            out,
            *lowered,
            *extra,
            "--report",
            tmp_path / "r.json",
        )
        assert result.code == 1
        reports.append(json.loads((tmp_path / "r.json").read_text("utf-8")))
    with_cache, without = reports
    assert with_cache["failures"] == without["failures"]
    assert [f["url"] for f in without["failures"]] == [f"{site.base}/detail?id=3"]
    assert with_cache["pages_not_modified"] == 5


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


def test_a_dry_run_uses_the_cache_and_writes_nothing(
    site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run(run_cli, site, out)
    before = snapshot(out)
    site.pages["/detail?id=2"] = Page({"name": "two, renamed"}, etag='"d2-v2"')
    site.log.clear()
    listed, report = run(run_cli, site, out, "--dry-run")
    assert report["pages_not_modified"] == 5
    assert sum(a.conditional for a in site.page_log()) == 6
    assert "two, renamed.bin" in listed
    assert snapshot(out) == before
    site.log.clear()
    _, report = run(run_cli, site, out, "--dry-run", "--fresh")
    assert [a for a in site.log if a.conditional] == []
    assert snapshot(out) == before


def test_a_dry_run_of_a_folder_without_a_cache_makes_none(
    site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run(run_cli, site, out, "--dry-run")
    assert not out.exists()


BODIED = ("/search", "/erase")


def test_pages_with_a_body_or_another_method_are_never_conditional(
    site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    site.pages["/search"] = Page({"items": [1]}, etag='"s"')
    site.pages["/erase"] = Page({"items": []}, etag='"e"')
    text = CRAWL + (
        "  search:\n"
        '    url: "{api}/search"\n'
        "    method: POST\n"
        '    json: {q: "a"}\n'
        "  erase:\n"
        '    url: "{api}/erase"\n'
        "    method: DELETE\n"
    )
    out = tmp_path / "out"
    for _ in range(2):
        result = run_cli(crawl(tmp_path, text), "--set", f"api={site.base}", "-o", out)
        assert result.code == 0, result.out + result.err
    again = sorted((a.method, a.conditional, a.status) for a in site.log if a.path in BODIED)
    assert again == [("DELETE", False, 200)] * 2 + [("POST", False, 200)] * 2
    kept = sqlite3.connect(out / ".yamlcrawl" / PAGES_FILE).execute("SELECT url FROM pages")
    assert not [url for (url,) in kept if url.endswith(BODIED)]
    assert sum(a.conditional for a in site.page_log()) == 6  # the GET pages were


def stored(url: str, size: int) -> StoredPage:
    return StoredPage(url, f'"{url}"', None, "0" * 64, bytes(size))


def kept_urls(folder: Path) -> set[str]:
    db = sqlite3.connect(folder / ".yamlcrawl" / PAGES_FILE)
    try:
        return {url for (url,) in db.execute("SELECT url FROM pages")}
    finally:
        db.close()


def test_the_bound_lets_the_least_recently_used_go(tmp_path: Path) -> None:
    cache = PageCache.open(tmp_path, 250)
    for url in ("a", "b"):
        cache.keep(stored(url, 100))
    unit = PageUnit((0,), "s", {}, cached=replace(stored("a", 0), body=b""))
    cache.page_done(PageResult(unit, "a", None, not_modified=True))  # a used again: b is older
    cache.keep(stored("c", 100))
    assert cache.lookup("b") is None
    assert cache.lookup("a") is not None and cache.lookup("c") is not None
    cache.keep(stored("huge", 251))  # bigger than the whole bound: not kept, nothing goes
    assert cache.lookup("huge") is None and cache.lookup("a") is not None
    cache.keep(stored("a", 200))  # a again, bigger: c goes
    assert cache.lookup("c") is None
    cache.close()
    assert kept_urls(tmp_path) == {"a"}
    PageCache.open(tmp_path, 100).close()  # a lower bound: what passes it goes at once
    assert kept_urls(tmp_path) == set()


def kept_sizes(out: Path) -> dict[str, int]:
    db = sqlite3.connect(out / ".yamlcrawl" / PAGES_FILE)
    try:
        return {
            url.split("/", 3)[3]: size for url, size in db.execute("SELECT url, size FROM pages")
        }
    finally:
        db.close()


def test_a_crawl_keeps_no_more_than_its_bound(site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bound = ("--set", "output.page_cache=0.0001")  # 100 bytes: the pages are 21 to 38 bytes
    run(run_cli, site, out, *bound)  # serial: kept in crawl order, the last kept last
    kept = kept_sizes(out)
    assert sorted(kept) == ["detail?id=3", "list?page=2", "list?page=3"]
    assert sum(kept.values()) <= 100
    site.log.clear()
    run(run_cli, site, out, *bound)
    # A crawl bigger than the bound pushes out, page by page, what its next pages would have
    # used: the pages kept now are again the last ones, and the bound holds.
    assert sum(kept_sizes(out).values()) <= 100
    assert sum(a.conditional for a in site.page_log()) <= 3


def test_no_page_cache_keeps_nothing(site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(run_cli, site, out, "--set", "output.page_cache=0")
    assert not (out / ".yamlcrawl" / PAGES_FILE).exists()


BODY = b'{"a": 1}'
COPIES = {
    "whole": (zlib.compress(BODY), None, BODY),
    "at the limit": (zlib.compress(BODY), len(BODY), BODY),
    "over the limit": (zlib.compress(BODY), len(BODY) - 1, None),
    "cut short": (zlib.compress(BODY)[:-4], None, None),
    "not zlib": (BODY, None, None),
    "another body": (zlib.compress(b'{"a": 2}'), None, None),
    "empty": (b"", None, None),
}


@pytest.mark.parametrize(("body", "limit", "used"), COPIES.values(), ids=list(COPIES))
def test_a_kept_copy_is_used_only_whole_and_as_hashed(
    body: bytes, limit: int | None, used: bytes | None
) -> None:
    page = StoredPage("http://h/x", '"x"', None, hashlib.sha256(BODY).hexdigest(), body)
    assert kept_body(page, limit) == used


VALIDATORS = {
    "an ETag": (('"x"', ""), ('"x"', None)),
    "a weak ETag": (('W/"x"', ""), ('W/"x"', None)),
    "a date": (("", DATE), (None, DATE)),
    "both": (('"x"', DATE), ('"x"', DATE)),
    "neither": (("", ""), None),
    "a line break (header injection)": (('"x"\r\nSet-Cookie: a=b', ""), None),
    "a control character": (("\x1b[31m", DATE), (None, DATE)),
    "too long": (('"' + "x" * 600 + '"', ""), None),
}


@pytest.mark.parametrize(("given", "kept"), VALIDATORS.values(), ids=list(VALIDATORS))
def test_only_validators_that_can_be_sent_back_are_kept(
    given: tuple[str, str], kept: tuple[str | None, str | None] | None
) -> None:
    page = to_keep("http://h/x", given, b'{"a": 1}', "application/json", "")
    assert (None if page is None else (page.etag, page.last_modified)) == kept
    if page is not None:
        assert kept_body(page) == b'{"a": 1}'
        sent = conditional_headers(page)
        assert sent == {
            name: value
            for name, value in (("If-None-Match", kept[0]), ("If-Modified-Since", kept[1]))
            if value is not None
        }
