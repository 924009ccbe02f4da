"""Pagination styles, each defined once (as dlt keeps one paginator class per style).

A style is one small class: its name (`by:`), the keys it needs and the keys it may take beside
them (the schema's choices and the checks come from these), its first value when `start` is not
given (the plan), how it asks for a page and how a response names the next one (work/paging.py,
which keeps what every style shares: the page size, the end of the pages, the loop guard). A new
style is one class here, added to :data:`STYLES`, plus its tests.

The plan keeps only the style's name; a run looks the class up by it. No pydantic, no HTTP here:
a response comes in as its data, its URL and its Link header.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING, Any, ClassVar

from yamlcrawl.language.jsonpaths import find_first

if TYPE_CHECKING:
    from yamlcrawl.language.plan import PagePlan

Value = int | str  # a page number or offset, a cursor, a next page's URL

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL_NEXT = re.compile(
    r"""\brel\s*=\s*(?:"[^"]*\bnext\b[^"]*"|'[^']*\bnext\b[^']*'|next\b)""", re.I
)


class Style:
    """How a paginated request asks for each page, and how a response names the next one."""

    name: ClassVar[str]  # its `by:`
    needs: ClassVar[tuple[str, ...]]  # keys it cannot go without
    may: ClassVar[tuple[str, ...]] = ("size",)  # keys it takes as well (a size fits every style)
    start: ClassVar[int] = 0  # the first value when `start` is not given

    def request(
        self, page: PagePlan, value: Value | None, url: str, params: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        """The URL and query of the page ``value`` names (None: the first page); ``params`` is
        the request's own copy, which the style may change."""
        raise NotImplementedError

    def next_value(
        self, page: PagePlan, value: Value | None, data: Any, url: str, link: str
    ) -> Value | None:
        """The next page's value from this page's (``value``) response, or None: no next page.

        Args:
            page: The stage's pagination.
            value: This page's value (None for the first page).
            data: The response's JSON data.
            url: The URL the response came from (relative links resolve from it).
            link: Its Link header ("" if none).
        """
        raise NotImplementedError


class Page(Style):
    """Page numbers, 1, 2, 3... by default, in a query parameter."""

    name = "page"
    needs: ClassVar[tuple[str, ...]] = ("param",)
    may: ClassVar[tuple[str, ...]] = ("start", "size")
    start = 1

    def request(
        self, page: PagePlan, value: Value | None, url: str, params: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        assert page.param is not None  # checked when the file was loaded
        params[page.param] = str(page.start if value is None else value)
        return url, params

    def step(self, page: PagePlan) -> int:
        """How much each next page adds."""
        return 1

    def next_value(
        self, page: PagePlan, value: Value | None, data: Any, url: str, link: str
    ) -> Value | None:
        return (page.start if value is None else int(value)) + self.step(page)


class Offset(Page):
    """Offsets of the first item, 0, size, 2 x size... by default, in a query parameter."""

    name = "offset"
    needs = ("param", "size")
    may = ("start",)
    start = 0

    def step(self, page: PagePlan) -> int:
        return page.size or 1


class Cursor(Style):
    """An opaque cursor that each response gives (`from`), sent back in a query parameter."""

    name = "cursor"
    needs = ("param", "from")

    def request(
        self, page: PagePlan, value: Value | None, url: str, params: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        assert page.param is not None  # checked when the file was loaded
        if value is not None:
            params[page.param] = str(value)
        return url, params

    def next_value(
        self, page: PagePlan, value: Value | None, data: Any, url: str, link: str
    ) -> Value | None:
        return _found(page, data)


class Next(Style):
    """The next page's URL, which each response gives (`from`); it carries its own query."""

    name = "next"
    needs: ClassVar[tuple[str, ...]] = ("from",)

    def request(
        self, page: PagePlan, value: Value | None, url: str, params: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        return (url, params) if value is None else (str(value), {})

    def next_value(
        self, page: PagePlan, value: Value | None, data: Any, url: str, link: str
    ) -> Value | None:
        return _resolved(url, _found(page, data))


class Link(Next):
    """The next page's URL in the response's `Link: <...>; rel="next"` header (RFC 8288)."""

    name = "link"
    needs = ()

    def next_value(
        self, page: PagePlan, value: Value | None, data: Any, url: str, link: str
    ) -> Value | None:
        return _resolved(url, link_next(link))


def _found(page: PagePlan, data: Any) -> str | None:
    """What `from` finds in the response, as text; None if nothing (or "")."""
    assert page.source is not None  # checked when the file was loaded
    found = find_first(page.source, data)
    return None if found is None or found == "" else str(found)


def _resolved(url: str, target: str | None) -> str | None:
    """A next page's URL, which may be relative to this page's."""
    return None if target is None else urllib.parse.urljoin(url, target)


def link_next(header: str) -> str | None:
    """The target of ``rel="next"`` in a Link header (RFC 8288), or None."""
    for match in _LINK.finditer(header):
        if _REL_NEXT.search(match.group(2)):
            return match.group(1).strip()
    return None


STYLES: dict[str, Style] = {
    style.name: style for style in (Page(), Offset(), Cursor(), Next(), Link())
}
