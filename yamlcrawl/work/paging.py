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
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from typing import Any

from yamlcrawl.http.fetch import Document
from yamlcrawl.language.jsonpaths import find_first
from yamlcrawl.language.plan import PagePlan
from yamlcrawl.types import Key, PageState

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL_NEXT = re.compile(
    r"""\brel\s*=\s*(?:"[^"]*\bnext\b[^"]*"|'[^']*\bnext\b[^']*'|next\b)""", re.I
)


def request_for(
    page: PagePlan | None, state: PageState | None, url: str, params: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """The URL and query parameters of the page ``state`` says (the first page if None)."""
    if page is None:
        return url, params
    params = dict(params)
    if page.size_param is not None and page.size is not None:
        params[page.size_param] = str(page.size)
    if page.by in ("page", "offset"):
        assert page.param is not None  # checked when the file was loaded
        params[page.param] = str(page.start if state is None else state.value)
    elif page.by == "cursor" and state is not None:
        assert page.param is not None
        params[page.param] = str(state.value)
    elif state is not None:  # next, link: the URL given carries its own query
        return str(state.value), {}
    return url, params


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
    if state is not None and document.digest == state.previous:
        return None, f"page {number} is the same as page {number - 1}: stopped paginating"
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


def _next_value(page: PagePlan, state: PageState | None, document: Document) -> int | str | None:
    if page.by in ("page", "offset"):
        current = page.start if state is None else int(state.value)
        return current + (1 if page.by == "page" else (page.size or 1))
    if page.by == "link":
        target = link_next(document.link)
    else:
        assert page.source is not None
        found = find_first(page.source, document.data)
        target = None if found is None or found == "" else str(found)
    if target is None or page.by == "cursor":
        return target
    return urllib.parse.urljoin(document.url, target)  # a next URL may be relative


def link_next(header: str) -> str | None:
    """The target of ``rel="next"`` in a Link header (RFC 8288), or None."""
    for match in _LINK.finditer(header):
        if _REL_NEXT.search(match.group(2)):
            return match.group(1).strip()
    return None


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
