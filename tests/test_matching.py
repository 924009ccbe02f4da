"""Where a jsonpath or a template stopped matching, what was there, and the path meant."""

from __future__ import annotations

from typing import Any

import pytest

from yamlcrawl.language.matching import Miss, jsonpath_miss, template_miss
from yamlcrawl.language.template import compile_template

SHOP = {"products": [{"id": 1, "image": "a.png"}], "total": 3, "data": {"itemz": [1], "x": None}}

JSONPATHS: dict[str, tuple[str, Any, Miss | None]] = {
    "another key holds the one list": (
        "$.items[*]",
        SHOP,
        Miss(
            "$",
            "keys: products, total, data",
            ("products", "total", "data"),
            "$.products[*]",
            "items",
        ),
    ),
    "a key spelled alike": (
        "$.product[*]",
        SHOP,
        Miss(
            "$",
            "keys: products, total, data",
            ("products", "total", "data"),
            "$.products[*]",
            "product",
        ),
    ),
    "deeper, under a list's items": (
        "$.products[*].imag",
        SHOP,
        Miss("$.products[*]", "keys: id, image", ("id", "image"), "$.products[*].image", "imag"),
    ),
    "deeper, in an object": (
        "$.data.items[*]",
        SHOP,
        Miss("$.data", "keys: itemz, x", ("itemz", "x"), "$.data.itemz[*]", "items"),
    ),
    "in brackets": (
        "$['data']['itemz'][0].id",
        SHOP,
        Miss("$['data']['itemz'][0]", "a number", (), None, "id"),
    ),
    "a null on the way is no miss": ("$.data.x.y", SHOP, None),
    "a null list is no miss": ("$.items[*]", {"items": None}, None),
    "a filter that keeps nothing": (
        "$.products[?(@.id == 2)]",
        SHOP,
        Miss("$.products", "a list of 1 item", (), None, None),
    ),
    "nothing close: no suggestion": (
        "$.zzz",
        SHOP,
        Miss("$", "keys: products, total, data", ("products", "total", "data"), None, "zzz"),
    ),
    "a list where an object was expected": (
        "$.items[*]",
        [1, 2],
        Miss("$", "a list of 2 items", (), None, "items"),
    ),
    "an empty list is no miss": ("$.items[*]", {"items": []}, None),
    "an empty object is no miss": ("$.items.*", {"items": {}}, None),
    "a match is no miss": ("$.total", SHOP, None),
}


@pytest.mark.parametrize(("path", "data", "expected"), JSONPATHS.values(), ids=list(JSONPATHS))
def test_where_a_jsonpath_stopped(path: str, data: Any, expected: Miss | None) -> None:
    assert jsonpath_miss(path, data) == expected


def test_many_keys_are_cut() -> None:
    data = {f"k{n:02d}": n for n in range(30)}
    miss = jsonpath_miss("$.nope", data)
    assert miss is not None
    assert len(miss.keys) == 20
    assert miss.found.endswith("k19, … (30 keys)")


TEMPLATES: dict[str, tuple[str, dict[str, Any], tuple[str, Miss] | None]] = {
    "a key spelled alike, filters kept": (
        "{api}/{c.imag|basename}",
        {"api": "http://h", "c": {"image": "x", "name": "n"}},
        (
            "{c.imag|basename}",
            Miss("c", "keys: image, name", ("image", "name"), "{api}/{c.image|basename}", "imag"),
        ),
    ),
    "deeper": (
        "{c.a.b}",
        {"c": {"a": {"bb": 1}}},
        ("{c.a.b}", Miss("c.a", "keys: bb", ("bb",), "{c.a.bb}", "b")),
    ),
    "an index past the end": (
        "{c.list.3}",
        {"c": {"list": [1]}},
        ("{c.list.3}", Miss("c.list", "a list of 1 item", (), None, "3")),
    ),
    "a null value is data, not a missing key": ("{c.a.b}", {"c": {"a": None}}, None),
    "every key there": ("{c.a}", {"c": {"a": ""}}, None),
    "a default stands in for a missing key": ("{c.b|default:x}{c.a}", {"c": {"a": 1}}, None),
}


@pytest.mark.parametrize(
    ("template", "context", "expected"), TEMPLATES.values(), ids=list(TEMPLATES)
)
def test_where_a_template_stopped(
    template: str, context: dict[str, Any], expected: tuple[str, Miss] | None
) -> None:
    assert template_miss(compile_template(template), context) == expected


def test_a_hostile_page_costs_little_and_shows_little() -> None:
    """A million keys, or keys of 100,000 characters: the keys shown are cut, the suggestion is
    looked for among the first thousand short ones."""
    many = {f"key{n}": n for n in range(1_000_000)}
    many["items"] = [1]
    miss = jsonpath_miss("$.itemz[*]", many)
    assert miss is not None
    assert (len(miss.keys), miss.suggestion) == (20, None)  # `items` is past the first 1000
    long = {"x" * 100_000: 1, "title": 2}
    miss = jsonpath_miss("$.titel", long)
    assert miss is not None
    assert miss.keys == ("x" * 59 + "…", "title")
    assert miss.suggestion == "$.title"
