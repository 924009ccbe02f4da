"""Conditional page requests: the validators a request sends for a page an earlier run kept, the
body a ``304 Not Modified`` stands for, and what of a 2xx response is kept for the next run.

The bodies are kept zlib-compressed with the SHA-256 of the body as received: a copy that
cannot be decompressed, or whose hash differs, is never used (the page is asked for again).
Where they are kept is storage's business (``storage/pagecache.py``); this module knows none.
"""

from __future__ import annotations

import hashlib
import re
import zlib

from yamlcrawl.types import StoredPage

__all__ = ["conditional_headers", "kept_body", "to_keep"]

_LEVEL = 6  # zlib's default: JSON shrinks 5-10 times, at about 50 MB/s per core
# A validator is sent back as a header: printable ASCII only (RFC 9110's etagc and HTTP-date),
# and short. One with a line break or a control character would smuggle in a header of its own.
_VALIDATOR = re.compile(r"[\x20-\x7e]{1,512}")


def conditional_headers(cached: StoredPage | None) -> dict[str, str]:
    """``If-None-Match`` and ``If-Modified-Since`` for a page kept with those validators."""
    if cached is None:
        return {}
    headers = {}
    if cached.etag:
        headers["If-None-Match"] = cached.etag
    if cached.last_modified:
        headers["If-Modified-Since"] = cached.last_modified
    return headers


def kept_body(cached: StoredPage, limit: int | None = None) -> bytes | None:
    """The body a 304 stands for; None if the kept copy is gone, damaged or not the one kept
    (it cannot be decompressed, or its SHA-256 differs), or bigger than ``limit`` bytes
    (``max_page_bytes`` lowered since: asked again, the page meets the limit as a 200 would)."""
    inflate = zlib.decompressobj()
    try:  # never more than the limit in memory: the output stops one byte past it
        body = inflate.decompress(cached.body, 0 if limit is None else limit + 1)
    except zlib.error:
        return None
    if not inflate.eof or (limit is not None and len(body) > limit):
        return None  # cut short, or bigger than the limit
    if hashlib.sha256(body).hexdigest() != cached.sha256:
        return None
    return body


def to_keep(
    url: str, validators: tuple[str, str], body: bytes, content_type: str, link: str
) -> StoredPage | None:
    """What to keep of a 2xx response to ``url``: its validators (its ``ETag`` and
    ``Last-Modified`` headers, "" if none) and its body, compressed; None if it has no
    validator that can be sent back (no later request could be conditional)."""
    etag, last_modified = (_validator(value) for value in validators)
    if etag is None and last_modified is None:
        return None
    return StoredPage(
        url,
        etag,
        last_modified,
        hashlib.sha256(body).hexdigest(),
        zlib.compress(body, _LEVEL),
        content_type,
        link,
    )


def _validator(value: str) -> str | None:
    """A header value that may be sent back as it is, or None."""
    value = value.strip()
    return value if _VALIDATOR.fullmatch(value) else None
