"""Pagination: every style, every stop condition, the loop guard and --limit, in every mode."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import Api, Reply, Route
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records, saved_files
from yamlcrawl.types import PageState
from yamlcrawl.work.paging import KNOWN_ITEMS, item_digests, link_next, no_new_items, remember

BOOKS = [f"book{n:02d}" for n in range(1, 24)]  # 23 books: pages of 5 are 5, 5, 5, 5, 3


def crawl_file(
    tmp_path: Path, paginate: str, url: str = "{api}/books", each: str = "", more: str = ""
) -> Path:
    """A crawl of one paginated list stage whose items are each saved as a (JSON) file;
    ``more``: one more line of the stage (``where``, ``emit``)."""
    config = tmp_path / "crawl.yaml"
    config.write_text(
        f"""
name: paged
vars: {{api: "http://127.0.0.1"}}
stages:
  list:
    url: "{url}"
    paginate: {paginate}
    each: "{each or "$.items[*]"}"
    as: book
    {more}
    downloads:
      - url: "{{api}}/book?id={{book}}"
        save_as: "{{book}}.json"
""",
        "utf-8",
    )
    return config


def serve_books(api: Api) -> None:
    api.routes["/book"] = lambda q: ({"id": q["id"]}, {})


def run(
    run_cli: RunCli, config: Path, api: Api, output: Path, *extra: str
) -> tuple[int, str, set[str]]:
    result = run_cli(config, "--set", f"api={api.base}", "--output", output, *extra)
    names = {name.removesuffix(".json") for name in saved_files(output)}
    return result.code, result.out + result.err, names


def crawl_books(
    api: Api,
    run_cli: RunCli,
    tmp_path: Path,
    route: Route,
    paginate: str,
    *extra: str,
    more: str = "",
) -> tuple[str, set[str]]:
    """Serve ``route`` as the book list, crawl it with ``paginate`` (and ``more``, one more line
    of the stage); what it said and saved."""
    api.routes["/books"] = route
    serve_books(api)
    config = crawl_file(tmp_path, paginate, more=more)
    code, out, names = run(run_cli, config, api, tmp_path / "out", *extra)
    assert code == 0, out
    return out, names


def list_requests(api: Api) -> list[str]:
    return [p for p in api.asked if p.startswith("/books")]


MODES = ["serial", "queue", "pool"]
CURSOR = "{by: cursor, param: after, from: $.next}"


def numbered_pages(q: dict[str, str]) -> Reply:
    start = (int(q["page"]) - 1) * int(q["per_page"])
    return {"items": BOOKS[start : start + int(q["per_page"])]}, {}


def cursor_pages(q: dict[str, str]) -> Reply:
    start = int(q.get("after", "0"))
    more = start + 5 < len(BOOKS)
    return {"items": BOOKS[start : start + 5], "next": str(start + 5) if more else None}, {}


@pytest.mark.parametrize("mode", MODES)
def test_page_numbers_until_an_empty_page(
    api: Api, run_cli: RunCli, tmp_path: Path, mode: str
) -> None:
    paginate = "{by: page, param: page, size: 5, size_param: per_page}"
    _, names = crawl_books(api, run_cli, tmp_path, numbered_pages, paginate, "--mode", mode)
    assert names == set(BOOKS)
    asked = sorted(list_requests(api))
    assert asked == [f"/books?per_page=5&page={n}" for n in range(1, 7)]  # the 6th is empty


def test_offsets_until_the_total(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    def books(q: dict[str, str]) -> Reply:
        start, size = int(q["offset"]), int(q["limit"])
        return {"items": BOOKS[start : start + size], "total": len(BOOKS)}, {}

    paginate = "{by: offset, param: offset, size: 10, size_param: limit, total: $.total}"
    _, names = crawl_books(api, run_cli, tmp_path, books, paginate)
    assert names == set(BOOKS)
    asked = list_requests(api)
    assert asked == [f"/books?limit=10&offset={n}" for n in (0, 10, 20)]  # no 4th: total met


@pytest.mark.parametrize("mode", MODES)
def test_cursor_from_the_response(api: Api, run_cli: RunCli, tmp_path: Path, mode: str) -> None:
    _, names = crawl_books(api, run_cli, tmp_path, cursor_pages, CURSOR, "--mode", mode)
    assert names == set(BOOKS)
    assert len(list_requests(api)) == 5


def test_next_url_relative_to_the_page(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    def books(q: dict[str, str]) -> Reply:
        start = int(q.get("from", "0"))
        following = f"books?from={start + 10}" if start + 10 < len(BOOKS) else ""
        return {"items": BOOKS[start : start + 10], "links": {"next": following}}, {}

    _, names = crawl_books(api, run_cli, tmp_path, books, "{by: next, from: $.links.next}")
    assert names == set(BOOKS)
    assert list_requests(api) == ["/books", "/books?from=10", "/books?from=20"]


def test_link_header(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    def books(q: dict[str, str]) -> Reply:
        page = int(q.get("p", "1"))
        links = f'<{api.base}/books?p={page + 1}>; rel="next", <{api.base}/books?p=1>; rel=first'
        headers = {"Link": links} if page < 3 else {}
        return {"items": BOOKS[(page - 1) * 10 : page * 10]}, headers

    _, names = crawl_books(api, run_cli, tmp_path, books, "{by: link}")
    assert names == set(BOOKS)


def test_has_more_false_ends_it(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    def books(q: dict[str, str]) -> Reply:
        page = int(q["page"])
        return {"items": BOOKS[(page - 1) * 5 : page * 5], "more": page < 2}, {}

    _, names = crawl_books(
        api, run_cli, tmp_path, books, "{by: page, param: page, has_more: $.more}"
    )
    assert names == set(BOOKS[:10])


def test_max_pages_ends_it_with_a_warning(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    paginate = "{by: cursor, param: after, from: $.next, max_pages: 2}"
    out, names = crawl_books(api, run_cli, tmp_path, cursor_pages, paginate)
    assert names == set(BOOKS[:10])
    warning = "stopped at max_pages (2); the server offers more"
    assert warning in out
    records = manifest_records(tmp_path / "out")
    assert [r["reason"] for r in records if r["status"] == "warning"] == [warning]


def test_a_cursor_that_comes_back_ends_it_with_a_warning(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    def books(q: dict[str, str]) -> Reply:  # page 3 points back at page 2
        start = int(q.get("after", "0"))
        following = "5" if start == 10 else str(start + 5)
        return {"items": BOOKS[start : start + 5], "next": following}, {}

    out, names = crawl_books(api, run_cli, tmp_path, books, CURSOR, "--mode", "queue")
    assert names == set(BOOKS[:15])
    assert "page 4 would ask for a page already fetched: stopped paginating" in out


def test_a_server_that_ignores_the_page_number(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    def same(q: dict[str, str]) -> Reply:
        return {"items": BOOKS[:5]}, {}

    out, names = crawl_books(api, run_cli, tmp_path, same, "{by: page, param: page}", more=EMIT)
    assert names - {"rows.jsonl"} == set(BOOKS[:5])
    warning = f"page 2 ({api.base}/books?page=2) is the same as page 1: stopped paginating"
    assert warning in out
    assert len(list_requests(api)) == 2
    assert_each_item_once(tmp_path / "out", BOOKS[:5])
    statuses = [r["status"] for r in manifest_records(tmp_path / "out")]
    assert statuses.count("warning") == 1


EMIT = "emit: {to: rows.jsonl, fields: {id: '{book}'}}"


def assert_each_item_once(output: Path, books: list[str]) -> None:
    """The page that ended the pagination was not processed: each book's row and file once."""
    rows = (output / "rows.jsonl").read_text("utf-8").splitlines()
    assert sorted(json.loads(row)["id"] for row in rows) == books
    statuses = [r["status"] for r in manifest_records(output)]
    assert statuses.count("saved") == len(books) and "duplicate" not in statuses


def test_limit_counts_items_across_pages(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    _, names = crawl_books(api, run_cli, tmp_path, cursor_pages, CURSOR, "--limit", "7")
    assert names == set(BOOKS[:7])
    assert len(list_requests(api)) == 2


def test_a_page_that_where_empties_does_not_end_it(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    def books(q: dict[str, str]) -> Reply:  # page 2 holds only books `where` rejects
        page = int(q["page"])
        items = [f"old{n}" for n in range(5)] if page == 2 else BOOKS[(page - 1) * 5 : page * 5]
        return {"items": items, "total": 15}, {}

    where = "where: {'{book}': {matches: 'book.*'}}"
    paginate = "{by: page, param: page, total: $.total}"
    _, names = crawl_books(api, run_cli, tmp_path, books, paginate, more=where)
    assert names == set(BOOKS[:5] + BOOKS[10:15])  # page 3 was still asked for
    assert len(list_requests(api)) == 3  # and total (15 items seen, kept or not) ended it


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ('<https://h/b?p=2>; rel="next"', "https://h/b?p=2"),
        ('<https://h/b?p=1>; rel="prev", <https://h/b?p=3>; rel="next"', "https://h/b?p=3"),
        ('<https://h/b?p=3>; rel=next; title="x, y"', "https://h/b?p=3"),
        ('<https://h/b?p=9>; rel="last"', None),
        ('<https://h/b?p=4>; rel="next prefetch"', "https://h/b?p=4"),
        ("", None),
    ],
)
def test_link_header_parsing(header: str, target: str | None) -> None:
    assert link_next(header) == target


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_page_with_no_new_items_ends_it(
    api: Api, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, mode: str
) -> None:
    served = itertools.count(1)

    def same_items(q: dict[str, str]) -> Reply:  # the page is ignored; the metadata changes
        return {"items": BOOKS[:5], "served": next(served)}, {}

    paginate = "{by: page, param: page}"
    out, names = crawl_books(
        api, run_cli, tmp_path, same_items, paginate, *mode_args(mode), more=EMIT
    )
    assert names - {"rows.jsonl"} == set(BOOKS[:5])
    warning = (
        f"page 2 ({api.base}/books?page=2) has no item earlier pages did not have:"
        " stopped paginating"
    )
    assert warning in out
    assert len(list_requests(api)) == 2
    assert_each_item_once(tmp_path / "out", BOOKS[:5])


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_server_that_wraps_around(
    api: Api, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, mode: str
) -> None:
    def three_pages(q: dict[str, str]) -> Reply:  # page 4 is page 1 again, page 5 page 2...
        page = int(q["page"])
        start = (page - 1) % 3 * 5
        return {"items": BOOKS[start : start + 5], "page": page}, {}

    paginate = "{by: page, param: page}"
    out, names = crawl_books(
        api, run_cli, tmp_path, three_pages, paginate, *mode_args(mode), more=EMIT
    )
    assert names - {"rows.jsonl"} == set(BOOKS[:15])
    assert f"page 4 ({api.base}/books?page=4) has no item earlier pages did not have" in out
    assert len(list_requests(api)) == 4
    assert_each_item_once(tmp_path / "out", BOOKS[:15])


def state_knowing(items: list[Any], number: int = 2) -> PageState:
    return PageState(number, number, 0, 0, (), "", (0,), item_digests(items))


# (items the earlier pages had, this page's items, whether it ends the pagination)
NEW_ITEMS = [
    (["a", "b"], ["a", "b"], True),
    (["a", "b"], ["b"], True),
    (["a", "b"], ["b", "c"], False),  # one new item: the page is used, whole
    ([{"id": 1, "n": "x"}], [{"n": "x", "id": 1}], True),  # key order does not matter
    ([{"id": 1}], [{"id": 1.5}], False),
    ([1], ["1"], False),  # a number is not its text
    ([], ["a"], False),
    (["a"], [], False),  # an empty page ends it on its own, without a warning
]


@pytest.mark.parametrize(("before", "items", "ends"), NEW_ITEMS)
def test_what_counts_as_a_new_item(before: list[Any], items: list[Any], ends: bool) -> None:
    why = no_new_items(state_knowing(before), item_digests(items), "http://h/b?page=2")
    expected = (
        "page 2 (http://h/b?page=2) has no item earlier pages did not have: stopped paginating"
    )
    assert why == (expected if ends else None)


def test_the_first_page_is_never_old() -> None:
    assert no_new_items(None, item_digests(["a"]), "http://h/b") is None


def test_the_items_a_chain_remembers_are_bounded() -> None:
    first = item_digests(range(KNOWN_ITEMS))
    known = remember(first, item_digests(range(KNOWN_ITEMS, KNOWN_ITEMS + 10)))
    assert len(known) == len(first)  # 8 bytes an item, KNOWN_ITEMS items at most
    assert known[:8] == item_digests([0])  # the first page's first item stays
    assert known[-8:] == item_digests([KNOWN_ITEMS + 9])  # and the latest one is there
