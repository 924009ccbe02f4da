"""Run it again tomorrow: the sample news API crawled on day 1, then on day 2, in every mode.

Overnight three posts were published at the top, one was edited, and the authors list stayed
byte for byte the same (samples/tomorrow/newsapi.py). The second run must ask only for what
changed: the two pages of posts down to the first page of old ones (the cursor's `stop: seen`),
the authors list conditionally (answered 304), and the three new images; it saves only those,
appends only the new rows, and says so in its report. A third crawl into a new folder that
shares the archive downloads nothing.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "tomorrow"
sys.path.insert(0, str(SAMPLE))
from newsapi import NewsServer, start  # noqa: E402

NEW_IMAGES = ["/media/13.png", "/media/14.png", "/media/15.png"]


@pytest.fixture
def news() -> Iterator[NewsServer]:
    server = start(day=1)
    yield server
    server.shutdown()
    server.server_close()


def crawl(
    run_cli: RunCli,
    news: NewsServer,
    output: Path,
    archive: Path,
    mode_args: list[str],
    said: list[str] | None = None,
) -> dict[str, Any]:
    """One crawl of the sample into ``output``; its report (and with ``said``, its -v lines)."""
    report = output.parent / f"{output.name}.json"
    news.log.clear()
    run = run_cli(
        SAMPLE / "crawler.yaml", "-q" if said is None else "-v", "--output", output,
        "--report", report,
        "--set", f"api={news.base_url}", "--set", f"output.archive={archive}", *mode_args,
    )  # fmt: skip
    assert run.code == 0, run.out + run.err
    if said is not None:
        said += run.err.splitlines()
    result: dict[str, Any] = json.loads(report.read_text("utf-8"))
    return result


def asked(news: NewsServer) -> list[tuple[str, int]]:
    """What the server was asked, as (path, status), sorted (workers ask in any order)."""
    return sorted((path, status) for path, status, _ in news.log)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_the_second_run_asks_only_for_what_changed(
    news: NewsServer, run_cli: RunCli, tmp_path: Path, mode_args: ModeArgs, mode: str
) -> None:
    out, archive = tmp_path / "news-out", tmp_path / "archive.sqlite"
    first = crawl(run_cli, news, out, archive, mode_args(mode))
    day1 = asked(news)
    assert len(day1) == 16  # 3 pages of posts, the authors, 12 images
    assert (first["saved"], first["records"]) == (12, 15)

    news.day = 2
    second = crawl(run_cli, news, out, archive, mode_args(mode))
    assert asked(news) == sorted(
        [
            ("/api/authors", 304),  # the same list: its kept body is used
            ("/api/posts?page=1", 200),  # 13, 14, 15 and the edited 7 are new; 12 is not
            ("/api/posts?page=2", 200),  # nothing newer: `stop: seen` ends the list here
            *((image, 200) for image in NEW_IMAGES),  # 7's image is already there
        ]
    )
    assert second["saved"] == 3 and second["present"] == 1
    assert second["not_newer"] == 6 and second["pages_not_modified"] == 1
    assert second["records"] == 4 and second["records_known"] == 3  # the authors, again
    assert {k: v for k, v in second["files_by_status"].items() if v} == {"saved": 3, "present": 1}
    assert {p.name for p in (out / "images").iterdir()} == {f"{n}.png" for n in range(1, 16)}

    posts = rows(out / "posts.csv")
    assert len(posts) == 16  # 12 from day 1, then 13-15 and the edit of 7
    assert [(r["id"], r["title"]) for r in posts[12:]] == [
        ("15", "Post 15"),
        ("14", "Post 14"),
        ("13", "Post 13"),
        ("7", "Post 7 (edited)"),
    ]
    runs = {r["_run_id"] for r in posts[:12]}, {r["_run_id"] for r in posts[12:]}
    assert len(runs[0]) == len(runs[1]) == 1 and runs[0] != runs[1]
    assert runs[1] == {second["run_id"]}
    assert {r["_source_url"] for r in posts[12:]} == {f"{news.base_url}/api/posts?page=1"}

    said: list[str] = []
    other = crawl(run_cli, news, tmp_path / "other", archive, mode_args(mode), said)
    assert [path for path, _ in asked(news) if path.startswith("/media/")] == []
    assert other["archived"] == 15 and other["saved"] == 0
    assert "archived images/15.png: in the archive (key post-15)" in said
