"""Each pagination style, as its class in language/pagination.py says: what it needs, how it
asks for a page, and where it finds the next one. (tests/test_paging.py crawls with them.)"""

from __future__ import annotations

from typing import Any

import pytest

from yamlcrawl.language.loader import ConfigError, load_text
from yamlcrawl.language.pagination import STYLES, Value
from yamlcrawl.language.plan import PagePlan, build_plan
from yamlcrawl.language.spec import PaginateSpec
from yamlcrawl.types import PageState
from yamlcrawl.work.paging import request_for

URL = "http://h/books?lang=en"


def page_plan(paginate: str) -> PagePlan:
    text = f"stages:\n  a:\n    url: {URL}\n    paginate: {paginate}\n"
    plan = build_plan(load_text(text, "crawler.yaml", environ={}).spec)
    page = plan.stage("a").paginate
    assert page is not None
    return page


def state(value: Value) -> PageState:
    return PageState(2, value, 0, 0, (), "", ())


# (paginate, this page's value (None: the first), the request made for it)
REQUESTS = [
    ("{by: page, param: p}", None, (URL, {"p": "1"})),
    ("{by: page, param: p}", 3, (URL, {"p": "3"})),
    ("{by: page, param: p, start: 0, size: 9, size_param: n}", None, (URL, {"p": "0", "n": "9"})),
    ("{by: offset, param: o, size: 20}", None, (URL, {"o": "0"})),
    ("{by: offset, param: o, size: 20}", 40, (URL, {"o": "40"})),
    ("{by: cursor, param: c, from: $.next}", None, (URL, {})),
    ("{by: cursor, param: c, from: $.next}", "xyz", (URL, {"c": "xyz"})),
    ("{by: next, from: $.next}", None, (URL, {})),
    ("{by: next, from: $.next}", "http://h/b?page=2", ("http://h/b?page=2", {})),
    ("{by: link}", "http://h/b?page=2", ("http://h/b?page=2", {})),
    ("{by: link, size: 5, size_param: n}", "http://h/b?p=2", ("http://h/b?p=2", {})),
]


@pytest.mark.parametrize(("paginate", "value", "expected"), REQUESTS)
def test_each_style_asks_for_its_page(paginate: str, value: Value | None, expected: Any) -> None:
    page = page_plan(paginate)
    assert request_for(page, None if value is None else state(value), URL, {}) == expected


DATA = {"next": "c2", "next_url": "/books?page=3"}
LINK = '<http://h/books?page=9>; rel="next", <http://h/books?page=1>; rel="first"'

# (paginate, this page's value, the next page's value from DATA and LINK)
NEXT = [
    ("{by: page, param: p}", None, 2),
    ("{by: page, param: p, start: 0}", None, 1),
    ("{by: page, param: p}", 7, 8),
    ("{by: offset, param: o, size: 20}", None, 20),
    ("{by: offset, param: o, size: 20, start: 5}", 45, 65),
    ("{by: cursor, param: c, from: $.next}", None, "c2"),
    ("{by: cursor, param: c, from: $.missing}", "c1", None),
    ("{by: next, from: $.next_url}", None, "http://h/books?page=3"),  # relative to the page
    ("{by: next, from: $.missing}", None, None),
    ("{by: link}", None, "http://h/books?page=9"),
]


@pytest.mark.parametrize(("paginate", "value", "expected"), NEXT)
def test_each_style_finds_the_next_page(
    paginate: str, value: Value | None, expected: Value | None
) -> None:
    page = page_plan(paginate)
    found = STYLES[page.by].next_value(page, value, DATA, URL, LINK)
    assert found == expected


def test_the_schema_offers_every_style() -> None:
    field = PaginateSpec.model_fields["by"]
    assert field.description == (
        "page, offset, cursor, next or link: how the next page is asked for"
    )
    for name, style in STYLES.items():
        needs = {"param": "p", "size": "5", "from": "$.n"}
        keys = ", ".join(f"{key}: {needs[key]}" for key in style.needs)
        assert page_plan(f"{{by: {name}{', ' if keys else ''}{keys}}}").by == name
    with pytest.raises(ConfigError):
        page_plan("{by: pages, param: p}")
