"""`incremental`: a rerun keeps only the items newer than the stage's cursor, `stop: seen` ends
its pagination at the first page of old items, and the stored cursor only moves past items whose
work was done (a failed run, `--limit`, `--fresh`), in every mode."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import Api
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records

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
