"""One failed attempt of a request, and the checks every response goes through, whoever sent it.

Shared by the clients (`fetch.py` over urllib3 and requests, `curl.py` over libcurl), so a
status, a size or a deadline fails with the same words and the same retry decision whichever
library carried the bytes. `fetch._with_retries` owns what happens after a failed attempt.
"""

from __future__ import annotations

from http import HTTPStatus

from yamlcrawl.types import HttpSettings

__all__ = [
    "AttemptError",
    "check_status",
    "content_length",
    "declared_too_big",
    "past_deadline",
    "too_big",
]

_RETRY_AFTER_STATUSES = frozenset({429, 503})


class AttemptError(Exception):
    """One failed attempt: why, and whether another attempt could help."""

    def __init__(
        self, cause: str, *, retryable: bool, status: int | None = None, retry_after: str = ""
    ) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after  # the server's Retry-After header, if it matters


def check_status(status: int, reason: str, retry_after: str, settings: HttpSettings) -> None:
    """Raise an `AttemptError` for a non-2xx status; retryable for those in `retry_on`.

    Args:
        status: The response's status.
        reason: Its reason phrase ("" if none came: HTTP/2 has none).
        retry_after: Its Retry-After header ("" if none).
        settings: The crawl's HTTP settings.
    """
    if 200 <= status < 300:
        return
    reason = reason or _standard_reason(status)
    raise AttemptError(
        f"HTTP {status} {reason}".rstrip(),
        retryable=status in settings.retry_on,
        status=status,
        retry_after=retry_after if status in _RETRY_AFTER_STATUSES else "",
    )


def past_deadline(settings: HttpSettings) -> AttemptError:
    """The failure of an attempt that ran past its deadline: another would be as slow."""
    seconds = settings.attempt_deadline
    return AttemptError(
        f"no complete response within the deadline of {seconds:g} s (http.deadline)",
        retryable=False,
    )


def too_big(limit: int) -> AttemptError:
    """The failure of a body that grew past `limit` bytes as it arrived."""
    return AttemptError(f"the body passes the limit of {limit:,} bytes", retryable=False)


def declared_too_big(declared: int | None, limit: int | None) -> AttemptError | None:
    """The failure of a body whose Content-Length is over `limit`, or None if it is not."""
    if limit is None or declared is None or declared <= limit:
        return None
    return AttemptError(
        f"the body would be {declared:,} bytes, over the limit of {limit:,}", retryable=False
    )


def content_length(header: str) -> int | None:
    """The size a Content-Length header announces, or None if it is missing or not trusted.

    A repeated header arrives folded as "5000, 5000"; all copies must agree to be trusted.
    """
    values = {v.strip() for v in header.split(",")}
    if len(values) != 1:
        return None
    value = values.pop()
    return int(value) if value.isascii() and value.isdigit() else None


def _standard_reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
