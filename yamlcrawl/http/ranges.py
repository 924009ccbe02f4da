"""Continuing a body a sink holds part of: ``Range`` and ``If-Range`` (RFC 9110, section 14).

A sink that can keep part of a body (``types.RangeSink``: storage's ``FileSlot``) says what it
holds (:func:`held_by`); the request then asks for the rest, ``Range: bytes=N-``, if the file is
still the one the part is of, ``If-Range: <ETag or Last-Modified>``. The answer decides:

- 206 whose Content-Range is ``bytes N-(T-1)/T`` (the whole rest, the same size) and which is not
  content-encoded: the sink goes on after its N bytes;
- 200 (a server without Range support, or a file that changed): the sink starts over from zero;
- 416, or a 206 for anything else: the part is dropped, and the attempt fails to be retried from
  zero (a retry like any other).

Both clients (``curl.py`` and the test transport in ``fetch.py``) call these, so a file resumes
the same way whichever carried it; a plain ``ByteSink`` is only ever begun over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import cast

from yamlcrawl.http.attempt import AttemptError, content_length
from yamlcrawl.types import BodyStart, ByteSink, HeldPart, RangeSink

__all__ = ["begin", "complete", "held_by", "refused", "with_range"]

Header = Callable[[str], "str | None"]  # a response header by its lower-case name
_CONTENT_RANGE = re.compile(r"\A\s*bytes\s+(\d+)-(\d+)/(\d+)\s*\Z", re.IGNORECASE)


def held_by(sink: ByteSink) -> tuple[RangeSink | None, HeldPart | None]:
    """The sink as one that can resume (or None), and the part it holds (or None)."""
    if getattr(sink, "begin_body", None) is None:
        return None, None
    ranged = cast("RangeSink", sink)
    return ranged, ranged.held()


def with_range(headers: Mapping[str, str] | None, held: HeldPart) -> dict[str, str]:
    """The request's headers, asking for the rest of the part held if it is the same file."""
    return {**(headers or {}), "Range": f"bytes={held.bytes}-", "If-Range": held.validator}


def refused(sink: RangeSink | None, held: HeldPart | None, status: int) -> None:
    """A 416 to a Range request: drop the part, and fail the attempt to start over.

    Raises:
        AttemptError: retryable, when ``status`` is 416 and a part was asked for.
    """
    if held is not None and sink is not None and status == 416:
        sink.forget()
        raise AttemptError(
            f"the server refused the range bytes={held.bytes}- (HTTP 416); starting over",
            retryable=True,
            status=status,
        )


def begin(
    sink: ByteSink,
    ranged: RangeSink | None,
    held: HeldPart | None,
    status: int,
    header: Header,
) -> BodyStart | None:
    """Begin the sink's body for a response whose status was checked (2xx).

    Returns:
        What the response says of its body (None for a plain sink).

    Raises:
        AttemptError: retryable, when a 206 does not continue the part held exactly (the part
            is dropped first).
    """
    content_type = header("content-type")
    if ranged is None:
        sink.begin(content_type)
        return None
    etag, modified = header("etag") or "", header("last-modified") or ""
    encoding = (header("content-encoding") or "").strip().lower()
    encoded = encoding not in ("", "identity")
    if held is not None and status == 206:
        total = _continues(held, header("content-range") or "", encoded)
        if total is None:
            ranged.forget()
            raise AttemptError(
                f"the server's answer to the range bytes={held.bytes}- does not continue the"
                f" part kept (Content-Range: {header('content-range') or 'none'}); starting over",
                retryable=True,
                status=status,
            )
        start = BodyStart(status, content_type, held.bytes, total, etag, modified)
    else:
        whole = None if encoded or status != 200 else content_length(header("content-length") or "")
        start = BodyStart(status, content_type, 0, whole, etag, modified)
    ranged.begin_body(start)
    return start


def complete(start: BodyStart | None, received: int) -> None:
    """After a continued body: the file must have reached the size the 206 announced.

    Raises:
        AttemptError: retryable, when it did not (a body cut short without a length).
    """
    if start is None or not start.offset or start.total is None:
        return
    if start.offset + received != start.total:
        raise AttemptError(
            f"body ended after {start.offset + received} of {start.total} bytes", retryable=True
        )


def _continues(held: HeldPart, content_range: str, encoded: bool) -> int | None:
    """The whole size, when a 206's Content-Range is exactly the rest of the part held."""
    match = _CONTENT_RANGE.match(content_range)
    if match is None or encoded:
        return None
    first, last, total = (int(group) for group in match.groups())
    if first != held.bytes or last + 1 != total:
        return None
    if held.total is not None and total != held.total:
        return None
    return total
