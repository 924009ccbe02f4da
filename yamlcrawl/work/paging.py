"""Pagination: the request for a stage's next page, and when the pages end.

A paginated stage fetches its first page like any other; each page's result then carries the
next page as one more child unit of the same stage, with a `PageState` saying which page it is
and what came before. So pages are plain units in every mode, fetched one after another per
paginated request (the next is known only from the last), and their items settle in crawl
order: all of page 1's subtree, then page 2's.

Pagination ends when a style has no next page (no cursor, no next URL, no `Link: rel="next"`),
on an empty page, when `has_more` is false, when `total` items are reached, at `--limit` items,
or at `max_pages`. A loop guard ends it with a warning when the next request was already made
in this chain, a page's body is the same as the page before, or a page has no item the chain
has not seen already (a server that ignores the page asked but changes some metadata, or one
that wraps around to the first page): never an endless crawl, and never an item twice.

An item is "seen" when an earlier page of the same chain had an item with the same canonical
JSON (keys sorted); the chain keeps an 8-byte digest per item in its `PageState`, at most
`KNOWN_ITEMS` of them (the first half and the latest half), so it stays small and travels with
the next page's unit in every mode.

What differs between styles (how a page is asked for, where the next one comes from) is each
style's own class in language/pagination.py; this module keeps what they all share.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Iterable
from typing import Any

from yamlcrawl.http.fetch import Document
from yamlcrawl.language.jsonpaths import find_first
from yamlcrawl.language.pagination import STYLES, Value, link_next
from yamlcrawl.language.plan import PagePlan
from yamlcrawl.types import Key, PageState

__all__ = ["item_digests", "link_next", "next_page", "no_new_items", "request_for", "signature"]

KNOWN_ITEMS = 10_000  # item digests a chain keeps (80 KB): the first 5,000 and the latest 5,000
_DIGEST = 8


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
    digests: bytes = b"",
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
        digests: This page's items' digests (`item_digests`), remembered for the next pages.
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
    known = remember(b"" if state is None else state.known, digests)
    following = PageState(number + 1, value, kept, found, seen, document.digest, first, known)
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


def item_digests(items: Iterable[Any]) -> bytes:
    """An 8-byte digest of each item's canonical JSON (keys sorted), end to end."""
    return b"".join(
        hashlib.blake2b(_canonical(item), digest_size=_DIGEST).digest() for item in items
    )


def _canonical(item: Any) -> bytes:
    text = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def _split(digests: bytes) -> list[bytes]:
    return [digests[i : i + _DIGEST] for i in range(0, len(digests), _DIGEST)]


def remember(known: bytes, digests: bytes) -> bytes:
    """``known`` and this page's ``digests``, no more than `KNOWN_ITEMS`: past that, the first
    half and the latest half are kept (a repeat of the first page or of the last is caught)."""
    both = known + digests
    half = KNOWN_ITEMS // 2 * _DIGEST
    if len(both) <= 2 * half:
        return both
    return both[:half] + both[-half:]


def no_new_items(state: PageState | None, digests: bytes, url: str) -> str | None:
    """Why this page ends its pagination: every item on it was on an earlier page of the chain
    (a server that ignores the page asked, or wraps around), or None. Such a page is not used."""
    if state is None or not digests or not state.known:
        return None
    known = set(_split(state.known))
    if any(digest not in known for digest in _split(digests)):
        return None
    number = state.number
    return f"page {number} ({url}) has no item earlier pages did not have: stopped paginating"


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
