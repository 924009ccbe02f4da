"""A page whose fan-out finds more than ``run.max_items`` items fails with one clear line, in
every mode, and memory stays bounded; a page at the limit is crawled whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apiserver import Api
from tests.conftest import RunCli
from tests.support import list_crawl, manifest_records

MODES = ["serial", "process", "queue", "pool", "thread", "dask"]


def big_crawl(api: Api, tmp_path: Path, items: int, max_items: int | None) -> Path:
    api.routes["/list"] = lambda q: ({"items": [{"id": i} for i in range(items)]}, {})
    api.routes["/file"] = lambda q: (f"file {q['id']}".encode(), {"Content-Type": "text/plain"})
    run = {"workers": 2} if max_items is None else {"workers": 2, "max_items": max_items}
    download = {"url": "{api}/file?id={item.id}", "save_as": "{item.id}.txt"}
    return list_crawl(tmp_path, api.base, download, run)


def too_many(api: Api, items: str, limit: str) -> str:
    return (
        f"failed page list {api.base}/list: the page has {items} items at $.items[*], more than"
        f" run.max_items ({limit}) — page the list (paginate), or raise run.max_items"
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_page_over_max_items_fails_with_one_line(
    mode: str, api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    crawl = big_crawl(api, tmp_path, items=31, max_items=30)
    run = run_cli(crawl, "--mode", mode, "-o", tmp_path / "out")
    assert run.code == 3, run.out + run.err  # its only page failed: nothing succeeded
    assert run.err.splitlines() == [too_many(api, "31", "30")]
    assert [r["status"] for r in manifest_records(tmp_path / "out")] == ["failed"]


@pytest.mark.parametrize("mode", ["serial", "pool"])
def test_a_page_at_max_items_is_crawled_whole(
    mode: str, api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    crawl = big_crawl(api, tmp_path, items=30, max_items=30)
    run = run_cli(crawl, "--mode", mode, "-q", "-o", tmp_path / "out")
    assert run.code == 0, run.out + run.err
    assert len(list((tmp_path / "out").glob("*.txt"))) == 30


def test_the_default_max_items_is_100000(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    crawl = big_crawl(api, tmp_path, items=100_001, max_items=None)
    run = run_cli(crawl, "-o", tmp_path / "out")
    assert run.code == 3, run.out + run.err  # its only page failed: nothing succeeded
    assert run.err.splitlines() == [too_many(api, "100,001", "100,000")]
