"""`incremental`: a rerun keeps only the items newer than the stage's cursor, `stop: seen` ends
its pagination at the first page of old items, and the stored cursor only moves past items whose
work was done (a failed run, `--limit`, `--fresh`), in every mode."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import Api
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records
from yamlcrawl.engine.cursors import CursorKeeper
from yamlcrawl.language.cursorvalue import is_newer, sortable
from yamlcrawl.language.jsonpaths import Entry
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan
from yamlcrawl.storage.cursors import CursorTable
from yamlcrawl.types import (
    Cursor,
    DownloadUnit,
    FileResult,
    PageResult,
    PageUnit,
    RunStats,
    UnmatchedRule,
)
from yamlcrawl.work.incremental import newer_items

ROOT = Path(__file__).resolve().parents[1]
PER_PAGE = 3
PAGES = [f"/posts?page={n}" for n in (1, 2, 3)]

CRAWL = """
name: posts
vars: {api: "http://127.0.0.1"}
stages:
  posts:
    url: "{api}/posts"
    paginate: {by: page, param: page, has_more: $.has_more}
    each: $.posts[*]
    as: post
    incremental: {cursor: $.updated_at, stop: seen}
    emit: {to: posts.jsonl, fields: {id: "{post.id}"}}
    downloads:
      - {url: "{post.img}", save_as: "{post.id}.png"}
"""


class Blog:
    """A paginated API of posts, newest first, three to a page; each post has an image."""

    def __init__(self, api: Api, posts: int) -> None:
        self.api = api
        self.newest = 0
        self.broken: set[int] = set()  # posts whose image is not there (404)
        api.routes["/posts"] = self._page
        self.publish(posts)

    def publish(self, count: int) -> None:
        """``count`` new posts at the top, each with its image."""
        for _ in range(count):
            self.newest += 1
            number = self.newest
            self.api.routes[f"/img/{number}.png"] = lambda q, n=number: self._image(n)

    def _image(self, number: int) -> tuple[Any, dict[str, str]]:
        if number in self.broken:
            return {"error": "gone"}, {"Location": "/gone"}  # redirected to a 404
        return f"image {number}".encode(), {"Content-Type": "image/png"}

    def _page(self, query: dict[str, str]) -> tuple[Any, dict[str, str]]:
        page = int(query.get("page", "1"))
        numbers = list(range(self.newest, 0, -1))[(page - 1) * PER_PAGE : page * PER_PAGE]
        posts = [
            {
                "id": n,
                "updated_at": f"2026-01-{n:02d}T08:00:00Z",
                "img": f"{self.api.base}/img/{n}.png",
            }
            for n in numbers
        ]
        return {"posts": posts, "has_more": page * PER_PAGE < self.newest}, {}

    def asked(self) -> tuple[list[str], list[str]]:
        """The pages and the images asked for since the last call."""
        asked, self.api.asked[:] = list(self.api.asked), []
        pages = [path for path in asked if path.startswith("/posts")]
        return pages, sorted(path for path in asked if path.startswith("/img/"))


def crawl(
    run_cli: RunCli, config: Path, api: Api, output: Path, *extra: str
) -> tuple[int, dict[str, Any], str]:
    """Run the crawl; its exit code, its report, and what it printed."""
    report = output.parent / f"{output.name}-report.json"
    result = run_cli(
        config, "--set", f"api={api.base}", "--output", output, "--report", report, *extra
    )
    return result.code, json.loads(report.read_text("utf-8")), result.out + result.err


def emitted(output: Path) -> list[int]:
    lines = (output / "posts.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["id"] for line in lines]


def stored_cursors(output: Path) -> list[tuple[str, Any]]:
    with sqlite3.connect(output / ".yamlcrawl" / "state.sqlite") as db:
        rows = db.execute("SELECT stage, value FROM cursors").fetchall()
    return [(stage, json.loads(value)) for stage, value in rows]


def images(pages: list[int]) -> list[str]:
    return sorted(f"/img/{n}.png" for n in pages)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "crawl.yaml"
    path.write_text(CRAWL, "utf-8")
    return path


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_rerun_fetches_only_what_is_new(
    run_cli: RunCli, mode_args: ModeArgs, api: Api, config: Path, tmp_path: Path, mode: str
) -> None:
    blog = Blog(api, 7)  # pages: 7 6 5 | 4 3 2 | 1
    out = tmp_path / "out"
    code, report, _ = crawl(run_cli, config, api, out, *mode_args(mode))
    assert (code, report["saved"], report["not_newer"]) == (0, 7, 0)
    assert blog.asked() == (PAGES[:3], images([*range(1, 8)]))
    assert emitted(out) == [7, 6, 5, 4, 3, 2, 1]
    assert stored_cursors(out) == [("posts", "2026-01-07T08:00:00Z")]

    blog.publish(2)  # pages: 9 8 7 | 6 5 4 | 3 2 1
    code, report, printed = crawl(run_cli, config, api, out, *mode_args(mode))
    # page 1 has two new posts and an old one; page 2 is all old: the pagination ends there
    assert blog.asked() == (PAGES[:2], images([8, 9]))
    assert (code, report["saved"], report["present"], report["not_newer"]) == (0, 2, 0, 4)
    assert report["pages"] == 2
    assert emitted(out) == [9, 8]
    saved = sorted(r["path"] for r in manifest_records(out) if r["status"] == "saved")
    assert saved == ["8.png", "9.png"]
    assert (out / "1.png").read_bytes() == b"image 1"  # what the first run saved stays
    assert re.search(r"│ not newer than the cursor +│ +4 │", printed)
    assert stored_cursors(out) == [("posts", "2026-01-09T08:00:00Z")]

    code, report, _ = crawl(run_cli, config, api, out, *mode_args(mode))  # nothing new
    assert blog.asked() == (PAGES[:1], [])  # one request: page 1 is all old
    assert (code, report["saved"], report["not_newer"]) == (0, 0, 3)
    assert emitted(out) == []

    code, report, _ = crawl(run_cli, config, api, out, "--fresh", *mode_args(mode))
    pages, fetched = blog.asked()
    assert (len(pages), fetched) == (3, images([*range(1, 10)]))
    assert (code, report["saved"], report["not_newer"]) == (0, 9, 0)
    assert emitted(out) == [9, 8, 7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_failed_item_holds_the_cursor_back(
    run_cli: RunCli, mode_args: ModeArgs, api: Api, config: Path, tmp_path: Path, mode: str
) -> None:
    blog = Blog(api, 7)
    blog.broken = {4}  # post 4's image fails: posts 5 to 7 are done, but 4 is not
    out = tmp_path / "out"
    code, report, _ = crawl(run_cli, config, api, out, *mode_args(mode))
    assert (code, report["saved"], report["failed"]) == (1, 6, 1)
    assert stored_cursors(out) == [("posts", "2026-01-03T08:00:00Z")]  # below post 4's

    blog.asked()
    blog.broken = set()
    code, report, _ = crawl(run_cli, config, api, out, *mode_args(mode))
    # 7 6 5 are kept again (their files are present), 4 is fetched; page 3 (1) is all old
    assert blog.asked() == (PAGES[:3], images([4]))
    assert (code, report["saved"], report["present"], report["not_newer"]) == (0, 1, 3, 3)
    assert emitted(out) == [7, 6, 5, 4]
    assert stored_cursors(out) == [("posts", "2026-01-07T08:00:00Z")]


def test_a_killed_run_stores_no_cursor_and_its_rerun_loses_nothing(
    run_cli: RunCli, api: Api, config: Path, tmp_path: Path
) -> None:
    blog = Blog(api, 7)
    release = threading.Event()
    image = api.routes["/img/2.png"]
    api.routes["/img/2.png"] = lambda q: (release.wait(30), image(q))[1]
    out = tmp_path / "out"
    args = [sys.executable, "-m", "yamlcrawl", config, "--set", f"api={api.base}", "--output", out]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    crawler = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while "/img/2.png" not in api.asked and time.monotonic() < deadline:
            time.sleep(0.02)
        crawler.kill()  # SIGKILL: no clean-up of any kind
    finally:
        crawler.wait()
        release.set()
    assert "/img/2.png" in api.asked
    assert stored_cursors(out) == []

    blog.asked()
    code, report, _ = crawl(run_cli, config, api, out)
    assert (code, report["not_newer"], report["saved"] + report["present"]) == (0, 0, 7)
    assert "/img/2.png" in blog.asked()[1]
    assert stored_cursors(out) == [("posts", "2026-01-07T08:00:00Z")]


# (a cursor value, another, whether the first is newer: None when they do not compare)
ORDER = [
    (8, 7, True),
    ("8", 7.0, True),  # numbers by value, whatever JSON type
    (7, "7", False),
    ("10", "9", True),  # not as text
    ("2026-01-02", "2026-01-01T23:59:59Z", True),  # dates in time
    ("2026-01-01T10:00:00+02:00", "2026-01-01T09:00:00Z", False),  # 08:00 UTC
    ("2026-01-01T09:00:00", "2026-01-01T08:00:00Z", True),  # no offset: UTC
    ("beta", "alpha", True),  # other text as text
    ("B", "a", False),
    ("2026-01-01", 20260101, None),  # a date and a number
    ("abc", "2026-01-01", None),
    ("abc", 3, None),
]


@pytest.mark.parametrize(("value", "than", "newer"), ORDER)
def test_cursor_values_order_as_where_compares(value: Any, than: Any, newer: bool | None) -> None:
    first, second = sortable(value), sortable(than)
    assert first is not None and second is not None
    assert is_newer(first, second) is newer


@pytest.mark.parametrize("value", [None, True, False, {"a": 1}, [1], float("nan")])
def test_what_is_no_cursor_value(value: Any) -> None:
    assert sortable(value) is None


def test_items_without_a_comparable_value_are_kept_and_said() -> None:
    plan = build_plan(load_text(CRAWL, "crawl.yaml", environ={}).spec)
    stage = plan.stage("posts")
    items: list[Entry] = [
        (0, {"updated_at": "2026-01-05"}),
        (1, {"updated_at": "2026-01-03"}),
        (2, {"id": 1}),
        (3, {"updated_at": "soon"}),
        (4, {"updated_at": "2026-01-04"}),
        (5, {"updated_at": 12}),
    ]
    newer = newer_items(stage, Cursor("", "2026-01-04"), items)
    assert [key for key, _ in newer.items] == [0, 2, 3, 5]
    assert newer.not_newer == 2
    assert newer.warning() == (
        "incremental kept 1 item with no value at $.updated_at; kept 2 items whose cursor"
        " 'soon' (a text) does not compare with the stored '2026-01-04' (a date)"
    )
    first_run = newer_items(stage, None, items)
    assert (len(first_run.items), first_run.not_newer) == (6, 0)


UNMATCHED = UnmatchedRule(
    "posts", "fields.title", "$.title", 1, 1, "pages", "u", "$", "", (), None, None, False, "t"
)
KEEPER_CRAWL = """
vars: {api: "http://h"}
stages:
  posts:
    url: "{api}/posts"
    each: $.posts[*]
    as: post
    incremental: {cursor: $.n}
    downloads: [{url: "{post.img}", save_as: "{post.n}.png"}]
"""

# (the value stored before, the page's items' values, the items whose file failed, what the
# run was, the value stored after, the warning)
KEEPER = [
    (None, (5, 4, 3), (), "", 5, None),
    (2, (5, 4, 3), (), "", 5, None),
    (None, (5, 4, 3), (1,), "", 3, None),  # item 1 (4) failed: 3 is the highest below it
    (None, (3, 4, 5), (1,), "", 3, None),  # in any order
    (None, (5, 4, 3), (2,), "", None, None),  # the lowest failed: nothing below it was done
    (2, (5, 4, 3), (2,), "", 2, None),
    (None, (5, None, 3), (1,), "", 5, None),  # an item with no value is kept every time
    (None, (5, 4, 3), (), "interrupted", None, None),
    (None, (5, 4, 3), (), "stopped", None, None),
    (None, (5, 4, 3), (), "limited", None, None),
    (None, (5, 4, 3), (), "cut", None, None),  # max_pages ended it: later pages are unknown
    (None, (5, 4, 3), (), "page failed", None, None),
    (None, (5, 4, 3), (), "rule failed", None, None),  # required / --strict
    (
        None,
        (5, "x", 3),
        (),
        "",
        None,
        "posts: $.n gave values of kinds that do not compare (a number and a text):"
        " the cursor was not moved",
    ),
]


@pytest.mark.parametrize(("before", "values", "failed", "run", "after", "warning"), KEEPER)
def test_the_stored_value_moves_only_past_items_done(
    tmp_path: Path,
    before: Any,
    values: tuple[Any, ...],
    failed: tuple[int, ...],
    run: str,
    after: Any,
    warning: str | None,
) -> None:
    plan = build_plan(load_text(KEEPER_CRAWL, "crawl.yaml", environ={}).spec)
    if run == "limited":
        plan = plan.with_overrides(limit=10)
    (tmp_path / ".yamlcrawl").mkdir()
    table = CursorTable(tmp_path)
    unit = CursorKeeper(plan, table).stamp(PageUnit((0,), "posts", dict(plan.vars)))
    assert unit.cursor is not None
    if before is not None:
        table.write({("posts", unit.cursor.scope): before})
    keeper = CursorKeeper(plan, table)
    unit = keeper.stamp(PageUnit((0,), "posts", dict(plan.vars)))
    assert unit.cursor is not None and unit.cursor.value == before
    error = "HTTP 500" if run == "page failed" else None
    keeper.page_done(PageResult(unit, "u", error, cursors=values, cut=run == "cut"))
    for item in failed:
        download = DownloadUnit((0, item, 0), "posts", "u", f"{item}.png", (), False)
        keeper.file_done(FileResult(download, "failed", error="HTTP 404"))
    stats = RunStats(interrupted=run == "interrupted", stopped="full" if run == "stopped" else None)
    if run == "rule failed":
        stats.unmatched.append(replace(UNMATCHED, failed=True))
    keeper.run_ended(stats)
    stored = table.read()
    assert stored.get(("posts", unit.cursor.scope)) == (after if after is not None else before)
    if run == "limited":
        warning = (
            "incremental: no cursor was stored, as a run with a limit (--limit, run.limit)"
            " sees only part of each list"
        )
    assert stats.warnings == ([warning] if warning else [])


def test_fresh_forgets_every_cursor(tmp_path: Path) -> None:
    (tmp_path / ".yamlcrawl").mkdir()
    table = CursorTable(tmp_path)
    table.write({("posts", "a"): 5, ("comments", "b"): "2026-01-01"})
    assert table.read() == {("posts", "a"): 5, ("comments", "b"): "2026-01-01"}
    assert table.read(fresh=True) == {}
    assert table.read() == {}


FORUMS = """
vars: {api: "http://127.0.0.1"}
stages:
  forums:
    url: "{api}/forums"
    each: $.forums[*]
    as: forum
  posts:
    from: forums
    url: "{api}/forum/{forum}"
    each: $.posts[*]
    as: post
    incremental: {cursor: $.n}
    emit: {to: posts.jsonl, fields: {forum: "{forum}", n: "{post.n}"}}
"""


def test_a_stage_under_from_has_a_cursor_per_parent_item(
    run_cli: RunCli, api: Api, tmp_path: Path
) -> None:
    posts = {"a": [5, 4], "b": [2, 1]}
    api.routes["/forums"] = lambda q: ({"forums": list(posts)}, {})
    for name in posts:
        api.routes[f"/forum/{name}"] = lambda q, f=name: (
            {"posts": [{"n": n} for n in posts[f]]},
            {},
        )
    config = tmp_path / "crawl.yaml"
    config.write_text(FORUMS, "utf-8")
    out = tmp_path / "out"
    code, report, _ = crawl(run_cli, config, api, out)
    assert (code, report["records"]) == (0, 4)
    assert sorted(value for _, value in stored_cursors(out)) == [2, 5]

    posts["b"].insert(0, 3)  # newer than forum b's cursor, older than forum a's
    code, report, _ = crawl(run_cli, config, api, out)
    rows = [json.loads(line) for line in (out / "posts.jsonl").read_text("utf-8").splitlines()]
    assert (code, rows, report["not_newer"]) == (0, [{"forum": "b", "n": 3}], 4)
    assert sorted(value for _, value in stored_cursors(out)) == [3, 5]
