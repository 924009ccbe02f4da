"""Silent mistakes made loud: rules that matched nothing are named once each (stderr, summary,
report), `--strict` and `required: true` make them failures, and a JSON null is an empty
response, not an item with every field missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import Api, Reply
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import SAMPLES, Site, lol_args, manifest_records, saved_files

PRODUCTS = [{"id": n, "name": f"p{n}", "image": f"/img/{n}.png"} for n in (1, 2, 3)]


def serve_shop(api: Api, details: dict[int, Any] | None = None) -> None:
    """``/products``: three products and a total; ``/product?id=N`` each one's details (or what
    ``details`` says); ``/img/N.png`` the images."""
    given = details or {}
    api.routes["/products"] = lambda q: ({"products": PRODUCTS, "total": 3}, {})

    def product(q: dict[str, str]) -> Reply:
        n = int(q["id"])
        default = {"data": {"id": n, "title": f"Product {n}", "tags": []}}
        return given.get(n, default), {}

    api.routes["/product"] = product
    for n in (1, 2, 3):
        api.routes[f"/img/{n}.png"] = lambda q, n=n: (f"png{n}".encode(), {"Content-Type": "x"})


def crawl_file(tmp_path: Path, stages: str) -> Path:
    config = tmp_path / "crawl.yaml"
    config.write_text(f'name: shop\nvars: {{api: "http://127.0.0.1"}}\nstages:\n{stages}', "utf-8")
    return config


def crawl(
    api: Api, run_cli: RunCli, tmp_path: Path, stages: str, *extra: Any
) -> tuple[int, str, str, dict[str, Any]]:
    """Run the crawl; its exit code, stdout, stderr and report."""
    report = tmp_path / "report.json"
    config = crawl_file(tmp_path, stages)
    out = tmp_path / "out"
    result = run_cli(config, "--set", f"api={api.base}", "-o", out, "--report", report, *extra)
    return result.code, result.out, result.err, json.loads(report.read_text("utf-8"))


LIST = """
  list:
    url: "{api}/products"
    each: "EACH"
    as: p
"""
DETAIL = """
  detail:
    from: list
    url: "{api}/product?id={p.id}"
"""


def summary_row(out: str, label: str) -> str:
    """The value of the summary's row ``label``."""
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells[0] == label:
            return cells[1]
    raise AssertionError(f"no row {label!r} in {out}")


def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(("warning stage", "failed stage"))]


# Each crawl, its exit code, and the one warning line (stderr) it gives; `URL` stands for the
# server's base. A save_as that cannot be rendered fails its files, as it always did.
CASES: dict[str, tuple[str, int, list[str]]] = {
    "each names a key the API does not have": (
        LIST.replace("EACH", "$.items[*]"),
        0,
        [
            "warning stage list: each $.items[*] matched nothing on 1 of 1 pages;"
            " e.g. URL/products has keys: products, total — did you mean $.products[*]?"
        ],
    ),
    "each misspelt": (
        LIST.replace("EACH", "$.product[*]"),
        0,
        [
            "warning stage list: each $.product[*] matched nothing on 1 of 1 pages;"
            " e.g. URL/products has keys: products, total — did you mean $.products[*]?"
        ],
    ),
    "a field misspelt, deeper: on every detail page": (
        LIST.replace("EACH", "$.products[*]")
        + DETAIL
        + "    fields: {title: $.data.titel, id: $.data.id}\n",
        0,
        [
            "warning stage detail: fields.title $.data.titel matched nothing on 3 of 3 pages;"
            " e.g. in URL/product?id=1, $.data has keys: id, title, tags"
            " — did you mean $.data.title?"
        ],
    ),
    "a download url names a key no item has": (
        LIST.replace("EACH", "$.products[*]")
        + '    downloads: [{url: "{api}{p.imag}", save_as: "{p.name}.png"}]\n',
        0,
        [
            "warning stage list: downloads.0.url {api}{p.imag} matched nothing on 3 of 3 items"
            " (no 'imag' in p); e.g. in an item of URL/products, p has keys: id, name, image"
            " — did you mean {api}{p.image}?"
        ],
    ),
    "a save_as names a key no item has": (
        LIST.replace("EACH", "$.products[*]")
        + '    downloads: [{url: "{api}{p.image}", save_as: "{p.title}.png"}]\n',
        3,  # every file failed to be named: nothing succeeded
        [
            "warning stage list: downloads.0.save_as {p.title}.png matched nothing on 3 of 3"
            " items (no 'title' in p); e.g. in an item of URL/products, p has keys: id, name,"
            " image",
        ],
    ),
    "an empty list is data, not a mistake": (
        LIST.replace("EACH", "$.products[*]") + DETAIL + "    each: $.data.tags[*]\n    as: t\n",
        0,
        [],
    ),
    "a field missing on 2 of 3 pages: not every page, and too few for most": (
        LIST.replace("EACH", "$.products[*]") + DETAIL + "    fields: {price: $.data.price}\n",
        0,
        [],
    ),
    "a list where an object was expected": (
        "  list:\n    url: \"{api}/products\"\n    fields: {first: '$.products[0].name.first'}\n",
        0,
        [
            "warning stage list: fields.first $.products[0].name.first matched nothing on 1 of 1"
            " pages; e.g. in URL/products, $.products[0].name is a text"
        ],
    ),
}


@pytest.mark.parametrize(("stages", "code", "expected"), CASES.values(), ids=list(CASES))
def test_each_rule_that_matched_nothing_is_named_once(
    api: Api, run_cli: RunCli, tmp_path: Path, stages: str, code: int, expected: list[str]
) -> None:
    serve_shop(api, {2: {"data": {"id": 2, "title": "T", "tags": [], "price": 5}}})
    exit_code, out, err, report = crawl(api, run_cli, tmp_path, stages)
    assert exit_code == code, out + err
    lines = [line.replace(api.base, "URL") for line in warnings_of(err)]
    assert lines == expected
    texts = [rule["text"].replace(api.base, "URL") for rule in report["unmatched"]]
    assert texts == [line.removeprefix("warning ") for line in expected]
    for text in texts:  # the summary lists each among its warnings
        assert text in out.replace(api.base, "URL")
        assert text in [w.replace(api.base, "URL") for w in report["warnings"]]
    headings = [line for line in out.splitlines() if line.endswith(("warning:", "warnings:"))]
    assert headings == (
        [f"{len(expected)} warning{'s' if len(expected) > 1 else ''}:"] if expected else []
    )


def test_a_field_missing_on_more_than_half_of_four_pages_or_more(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    products = [{"id": n} for n in range(1, 6)]
    api.routes["/products"] = lambda q: ({"products": products}, {})
    # Pages 1 and 2 have a cost, 3 to 5 none; a null price is a match (null is data).
    api.routes["/product"] = lambda q: (
        {"id": q["id"], "price": None, **({"cost": 10} if q["id"] in "12" else {})},
        {},
    )
    stages = LIST.replace("EACH", "$.products[*]") + DETAIL
    stages += "    fields: {cost: $.cost, price: $.price}\n"
    code, _, err, report = crawl(api, run_cli, tmp_path, stages)
    assert code == 0
    assert [line.replace(api.base, "URL") for line in warnings_of(err)] == [
        "warning stage detail: fields.cost $.cost matched nothing on 3 of 5 pages;"
        " e.g. URL/product?id=3 has keys: id, price"
    ]
    rule = report["unmatched"][0]
    assert (rule["missed"], rule["of"], rule["counted"], rule["keys"]) == (
        3,
        5,
        "pages",
        ["id", "price"],
    )
    assert rule["example_url"] == f"{api.base}/product?id=3"


def test_two_of_four_pages_is_not_most(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    products = [{"id": n} for n in range(1, 5)]
    api.routes["/products"] = lambda q: ({"products": products}, {})
    api.routes["/product"] = lambda q: ({"cost": 1} if q["id"] in "12" else {}, {})
    stages = LIST.replace("EACH", "$.products[*]") + DETAIL + "    fields: {cost: $.cost}\n"
    code, _, err, report = crawl(api, run_cli, tmp_path, stages)
    assert (code, warnings_of(err), report["unmatched"]) == (0, [], [])


def test_the_report_has_each_rule_as_data(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve_shop(api)
    _, _, _, report = crawl(api, run_cli, tmp_path, LIST.replace("EACH", "$.items[*]"))
    assert report["unmatched"] == [
        {
            "stage": "list",
            "rule": "each",
            "path": "$.items[*]",
            "missed": 1,
            "of": 1,
            "counted": "pages",
            "example_url": f"{api.base}/products",
            "at": "$",
            "keys": ["products", "total"],
            "found": "keys: products, total",
            "missing": "items",
            "suggestion": "$.products[*]",
            "failed": False,
            "text": f"stage list: each $.items[*] matched nothing on 1 of 1 pages; e.g."
            f" {api.base}/products has keys: products, total — did you mean $.products[*]?",
        }
    ]
    assert report["verdict"] == "finished"


def test_quiet_still_shows_the_warnings(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve_shop(api)
    _, _, err, _ = crawl(api, run_cli, tmp_path, LIST.replace("EACH", "$.items[*]"), "-q")
    assert len(warnings_of(err)) == 1


def test_strict_makes_them_failures(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve_shop(api)
    stages = LIST.replace("EACH", "$.items[*]")
    code, out, err, report = crawl(api, run_cli, tmp_path, stages, "--strict")
    assert code == 1
    base = api.base
    assert warnings_of(err) == [
        f"failed stage list: each $.items[*] matched nothing on 1 of 1 pages; e.g."
        f" {base}/products has keys: products, total — did you mean $.products[*]?"
    ]
    assert (
        f"  match [list] {base}/products: each $.items[*] matched nothing on 1 of 1 pages;"
        " this page has keys: products, total — did you mean $.products[*]?"
    ) in out.splitlines()
    assert "shop: finished with failures" in out
    assert report["verdict"] == "finished with failures"
    assert report["warnings"] == []
    assert report["failures"] == [
        {
            "kind": "match",
            "stage": "list",
            "url": f"{base}/products",
            "path": None,
            "reason": "each $.items[*] matched nothing on 1 of 1 pages; this page has keys:"
            " products, total — did you mean $.products[*]?",
            "error": {"status": None, "reason": "unmatched"},  # for scripts (ui/failures.py)
        }
    ]
    assert report["unmatched"][0]["failed"] is True


def test_strict_with_nothing_unmatched_exits_0(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve_shop(api)
    code, _, err, _ = crawl(
        api, run_cli, tmp_path, LIST.replace("EACH", "$.products[*]"), "--strict"
    )
    assert (code, warnings_of(err)) == (0, [])


def test_a_required_field_fails_on_one_page(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve_shop(api, {2: {"data": {"id": 2}}})  # product 2 has no title: 1 page of 3
    stages = LIST.replace("EACH", "$.products[*]") + DETAIL
    stages += "    fields:\n      title: {path: $.data.title, required: true}\n"
    code, out, err, report = crawl(api, run_cli, tmp_path, stages)
    assert code == 1
    assert "shop: finished with failures" in out
    assert [line.replace(api.base, "URL") for line in warnings_of(err)] == [
        "failed stage detail: fields.title $.data.title (required) matched nothing on 1 of 3"
        " pages; e.g. in URL/product?id=2, $.data has keys: id"
    ]
    assert report["failures"][0]["url"] == f"{api.base}/product?id=2"
    assert report["failures"][0]["reason"] == (
        "fields.title $.data.title (required) matched nothing on 1 of 3 pages;"
        " in this page, $.data has keys: id"
    )
    # Without `required`, 1 page of 3 is no warning.
    stages = stages.replace("{path: $.data.title, required: true}", "$.data.title")
    code, _, err, _ = crawl(api, run_cli, tmp_path, stages)
    assert (code, warnings_of(err)) == (0, [])


def test_a_required_download_fails_on_one_item(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve_shop(api)
    products = [*PRODUCTS[:2], {"id": 3, "name": "p3"}]  # the third has no image
    api.routes["/products"] = lambda q: ({"products": products}, {})
    stages = LIST.replace("EACH", "$.products[*]")
    stages += '    downloads: [{url: "{api}{p.image}", save_as: "{p.name}.png", required: true}]\n'
    code, out, err, report = crawl(api, run_cli, tmp_path, stages)
    assert code == 1
    assert [line.replace(api.base, "URL") for line in warnings_of(err)] == [
        "failed stage list: downloads.0.url {api}{p.image} (required) matched nothing on 1 of"
        " 3 items (no 'image' in p); e.g. in an item of URL/products, p has keys: id, name"
    ]
    assert sorted(saved_files(tmp_path / "out")) == ["p1.png", "p2.png"]  # the rest is done
    assert (report["saved"], report["skipped"], report["failed"]) == (2, 1, 1)
    assert "shop: finished with failures" in out


def test_a_null_document_is_an_empty_response(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve_shop(api, {2: None})  # product 2 was deleted
    stages = LIST.replace("EACH", "$.products[*]") + DETAIL
    stages += "    fields: {title: $.data.title}\n"
    stages += "    emit: {to: rows.jsonl, fields: {title: '{title}'}}\n"
    stages += '    downloads: [{url: "{api}/img/{p.id}.png", save_as: "{title}.png"}]\n'
    code, out, err, report = crawl(api, run_cli, tmp_path, stages, "-v")
    assert code == 0, out + err
    assert warnings_of(err) == []  # no "title matched nothing": the page had nothing to match
    assert f"page detail {api.base}/product?id=2: empty response (null)" in err.splitlines()
    assert sorted(saved_files(tmp_path / "out")) == ["Product 1.png", "Product 3.png", "rows.jsonl"]
    rows = (tmp_path / "out" / "rows.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(row) for row in rows] == [{"title": "Product 1"}, {"title": "Product 3"}]
    assert summary_row(out, "empty responses (null)") == "1 (detail 1)"
    assert report["empty_responses"] == {"detail": 1}
    assert (report["records"], report["skipped"]) == (2, 0)
    pages = [r for r in manifest_records(tmp_path / "out") if r["kind"] == "page"]
    assert pages[0].pop("time") > "2000"  # when (UTC, ISO 8601)
    assert pages == [
        {
            "kind": "page",
            "url": f"{api.base}/product?id=2",
            "stage": "detail",
            "status": "empty",
            "reason": "the response is null",
            "http_status": 200,
        }
    ]


def test_a_null_start_page_with_each_or_without(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    api.routes["/gone"] = lambda q: (None, {})
    stages = (
        '  whole:\n    url: "{api}/gone"\n    fields: {t: $.t}\n'
        "    emit: {to: a.jsonl, fields: {t: '{t}'}}\n"
        '    downloads: [{url: "{api}/x/{t}", save_as: "{t}"}]\n'
        '  listed:\n    url: "{api}/gone"\n    each: $.items[*]\n    as: i\n'
        "    emit: {to: b.jsonl, fields: {i: '{i}'}}\n"
    )
    code, out, err, report = crawl(api, run_cli, tmp_path, stages)
    assert code == 0, out + err
    assert report["empty_responses"] == {"whole": 1, "listed": 1}
    assert (report["records"], report["skipped"], report["unmatched"]) == (0, 0, [])
    assert (tmp_path / "out" / "a.jsonl").read_text("utf-8") == ""
    assert summary_row(out, "empty responses (null)") == "2 (whole 1, listed 1)"


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_the_same_lines_in_every_mode(
    api: Api, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, mode: str
) -> None:
    serve_shop(api, {2: None, 3: {"data": {"id": 3}}})
    stages = LIST.replace("EACH", "$.products[*]") + DETAIL
    stages += "    fields: {title: $.data.titel, id: $.data.id}\n"
    stages += (
        '    downloads: [{url: "{api}/img/{id}.png", save_as: "{id}-{title|default:x}.png"}]\n'
    )
    stages += '  images:\n    from: list\n    url: "{api}/products?for={p.id}"\n'
    stages += "    each: $.item[*]\n    as: i\n"
    code, out, err, report = crawl(api, run_cli, tmp_path, stages, *mode_args(mode))
    assert code == 0, out + err
    assert [line.replace(api.base, "URL") for line in warnings_of(err)] == [
        "warning stage detail: fields.title $.data.titel matched nothing on 2 of 2 pages;"
        " e.g. in URL/product?id=1, $.data has keys: id, title, tags"
        " — did you mean $.data.title?",
        "warning stage images: each $.item[*] matched nothing on 3 of 3 pages;"
        " e.g. URL/products?for=1 has keys: products, total — did you mean $.products[*]?",
    ]
    assert report["empty_responses"] == {"detail": 1}
    assert sorted(saved_files(tmp_path / "out")) == ["1-x.png", "3-x.png"]


def test_the_samples_run_clean_under_strict(
    other_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    """No rule of a shipped crawl is reported: their paths all match (so no false alarm)."""
    config = SAMPLES / other_site.name / "crawler.yaml"
    run = run_cli(config, "--set", f"api={other_site.base}", "-o", tmp_path, "--strict", "-q")
    assert (run.code, warnings_of(run.err)) == (0, []), run.out


def test_the_lol_crawl_runs_clean_under_strict(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    run = run_cli(*lol_args(lol_site, tmp_path, "--strict", "-q"))
    assert (run.code, warnings_of(run.err)) == (0, []), run.out
