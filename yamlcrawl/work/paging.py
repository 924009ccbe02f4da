"""Pagination: the request for a stage's next page, and when the pages end.

A paginated stage fetches its first page like any other; each page's result then carries the
next page as one more child unit of the same stage, with a `PageState` saying which page it is
and what came before. So pages are plain units in every mode, fetched one after another per
paginated request (the next is known only from the last), and their items settle in crawl
order: all of page 1's subtree, then page 2's.

Pagination ends when a style has no next page (no cursor, no next URL, no `Link: rel="next"`),
on an empty page, when `has_more` is false, when `total` items are reached, at `--limit` items,
or at `max_pages`. A loop guard ends it with a warning when the next request was already made
in this chain or a page's body is the same as the page before: never an endless crawl.

What differs between styles (how a page is asked for, where the next one comes from) is each
style's own class in language/pagination.py; this module keeps what they all share.
"""

from __future__ import annotations

import hashlib
import urllib.parse
from typing import Any

from yamlcrawl.http.fetch import Document
from yamlcrawl.language.jsonpaths import find_first
from yamlcrawl.language.pagination import STYLES, Value, link_next
from yamlcrawl.language.plan import PagePlan
from yamlcrawl.types import Key, PageState

__all__ = ["link_next", "next_page", "request_for", "signature"]


def request_for(
    page: PagePlan | None, state: PageState | None, url: str, params: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The URL and query parameters of the page ``state`` says (the first page if None)."""
    if page is None:
        return url, params
    params = dict(params)
    if page.size_param is not None and page.size is not None:
        params[page.size_param] = str(page.size)
    return STYLES[page.by].request(page, None if state is None else state.value, url, params)


def signature(url: str, params: dict[str, str]) -> str:
    """A short digest of a request, for the loop guard."""
    text = url + "?" + urllib.parse.urlencode(sorted(params.items()))
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def next_page(
    page: PagePlan,
    state: PageState | None,
    key: Key,
    document: Document,
    counts: tuple[int, int],
    limit: int | None,
    request: tuple[str, dict[str, str]],
) -> tuple[PageState | None, str | None]:
    """The next page's state, or None when the pagination ends; and a warning, if any.

    Args:
        page: The stage's pagination.
        state: This page's state (None for the first page).
        key: This page's unit key.
        document: This page's response.
        counts: Items this page had, and how many of them were kept (``where``, ``--limit``).
        limit: ``--limit``, counted across all the pages of the request.
        request: This page's URL and parameters.
    """
    number = 1 if state is None else state.number
    found = counts[0] + (0 if state is None else state.found)
    kept = counts[1] + (0 if state is None else state.items)
    seen = (*(() if state is None else state.seen), signature(*request))
    if _ended(page, document.data, counts[0], found, kept, limit):
        return None, None
    value = _next_value(page, state, document)
    if value is None:
        return None, None
    first = key if state is None else state.first
    following = PageState(number + 1, value, kept, found, seen, document.digest, first)
    if signature(*request_for(page, following, *request)) in seen:
        return None, f"page {number + 1} would ask for a page already fetched: stopped paginating"
    if number >= page.max_pages:
        return None, f"stopped at max_pages ({page.max_pages}); the server offers more"
    return following, None


def repeated(state: PageState | None, document: Document, url: str) -> str | None:
    """Why this page is the one before it again (a server ignoring the page asked), or None.

    Such a page is not processed: its items were the last page's, and would come out twice.
    """
    if state is None or document.digest != state.previous:
        return None
    number = state.number
    return f"page {number} ({url}) is the same as page {number - 1}: stopped paginating"


def _ended(page: PagePlan, data: Any, items: int, found: int, kept: int, limit: int | None) -> bool:
    """Whether this page says it is the last: empty, has_more false, total or limit reached."""
    if items == 0:
        return True
    if page.has_more is not None and not _true(find_first(page.has_more, data)):
        return True
    if page.total is not None:
        total = _number(find_first(page.total, data))
        if total is not None and found >= total:
            return True
    return limit is not None and kept >= limit


def _next_value(page: PagePlan, state: PageState | None, document: Document) -> Value | None:
    value = None if state is None else state.value
    style = STYLES[page.by]
    return style.next_value(page, value, document.data, document.url, document.link)


def _true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "none", "null")
    return bool(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None
