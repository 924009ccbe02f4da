"""A failure's cause for scripts (the report's ``error``): the HTTP status, where a response
said one, and a short machine-readable kind such as ``http_status`` or ``timeout``.

The lower layers tell a failure in one sentence (``GET … failed after 4 attempts: HTTP 503
Service Unavailable``); every sentence has a fixed shape (``http/attempt.py``, ``http/fetch.py``,
``work/``, the backends), so the cause is read back from that shape here, in one place, with a
test per shape (tests/test_report.py) that fails if a sentence changes. A sentence of no known
shape is ``other``: the text is always there too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yamlcrawl.types import Failure

# "GET <url> failed[ after N attempts]: HTTP 404 Not Found": the cause follows the last "failed".
_HTTP_STATUS = re.compile(r" failed(?: after \d+ attempts)?: HTTP (\d{3})\b")
# "GET <url> returned HTTP 200 text/html, not JSON (…)": a response, but not the JSON asked for.
_NOT_JSON = re.compile(r" returned HTTP (\d{3}) .*, not JSONP? \(")

# (kind, what the sentence says): the first that matches is the kind.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("bad_json", r" refused: the JSON is nested"),
        ("timeout", r": timed out after [\d.]+ s"),
        ("deadline", r": no complete response within the deadline"),
        ("too_large", r": the body (?:passes the limit|would be [\d,]+ bytes, over the limit)"),
        ("too_many_items", r"more than run\.max_items"),
        ("bad_url", r" refused: the URL |: the URL is not valid|redirected to a URL"),
        ("redirects", r": more than \d+ redirects"),
        ("dns", r": could not resolve the host name"),
        ("connection", r": connection refused"),
        ("tls", r": TLS error"),
        ("broken_body", r": (?:body ended after|the (?:chunked )?body broke off)"),
        ("bad_encoding", r": could not decode the compressed body"),
        ("unsafe_name", r"^cannot name the file: "),
        ("archive_key", r"^cannot make its archive key: "),
        ("bad_header", r"^cannot build header "),
        ("folder", r"^cannot write "),
        ("interrupted", r"^stopped: the run was interrupted"),
        ("lost", r" \(\d+ times\)$"),
        ("unexpected", r"^unexpected \w+: "),
    )
)


@dataclass(frozen=True)
class Cause:
    """Why a unit failed, for scripts: ``status`` (the HTTP status, or None) and ``reason``."""

    status: int | None
    reason: str


def cause_of(failure: Failure) -> Cause:
    """The cause of one failure, read from its sentence (see the module's note)."""
    if failure.kind == "match":
        return Cause(None, "unmatched")  # a rule that matched nothing (--strict, required)
    text = failure.reason
    statuses = _HTTP_STATUS.findall(text)
    if statuses:
        return Cause(int(statuses[-1]), "http_status")
    not_json = _NOT_JSON.search(text)
    if not_json is not None:
        return Cause(int(not_json[1]), "bad_json")
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return Cause(None, kind)
    return Cause(None, "other")
