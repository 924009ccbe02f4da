"""Wire fetch.py and session.py to the libcurl engine (applied to a checkout given as argv[1])."""
import sys, re
root = sys.argv[1]
p = f"{root}/yamlcrawl/http/fetch.py"
s = open(p).read()

def sub(old, new, count=1):
    global s
    assert s.count(old) >= 1, old[:80]
    s = s.replace(old, new) if count == 0 else s.replace(old, new, count)

# 1. the shared attempt vocabulary
start = s.index("class _AttemptError(Exception):")
end = s.index("class _BadDocumentError(Exception):")
s = s[:start] + s[end:]
sub("from yamlcrawl.http import deadline", "from yamlcrawl.http import attempt as attempts\nfrom yamlcrawl.http import curl, deadline")
sub("from yamlcrawl.http.politeness import polite", "from yamlcrawl.http.attempt import AttemptError as _AttemptError\nfrom yamlcrawl.http.politeness import polite")
sub('_RETRY_AFTER_STATUSES = frozenset({429, 503})\n', "")
# _past_deadline
start = s.index("def _past_deadline(settings: HttpSettings) -> _AttemptError:")
end = s.index("def _check_in_time(")
s = s[:start] + s[end:]
s = s.replace("_past_deadline(settings)", "attempts.past_deadline(settings)")
# _check_status
start = s.index("def _check_status(resp")
end = s.index("def _read_all(")
s = s[:start] + '''def _check_status(resp: urllib3.BaseHTTPResponse, settings: HttpSettings) -> None:
    """Raise an `_AttemptError` for a non-2xx status (attempt.py's rule, shared with curl.py)."""
    retry_after = resp.headers.get("Retry-After", "")
    attempts.check_status(resp.status, resp.reason or "", retry_after, settings)


''' + s[end:]
# _too_big / _refuse_declared_size
start = s.index("def _too_big(limit: int) -> _AttemptError:")
end = s.index("def _stream_to(")
s = s[:start] + '''def _refuse_declared_size(resp: urllib3.BaseHTTPResponse, limit: int | None) -> None:
    refused = attempts.declared_too_big(_content_length(resp), limit)
    if refused is not None:
        raise refused


''' + s[end:]
s = s.replace("raise _too_big(limit)", "raise attempts.too_big(limit)")
# _content_length
start = s.index("def _content_length(resp: urllib3.BaseHTTPResponse) -> int | None:")
end = s.index("# --- retries")
s = s[:start] + '''def _content_length(resp: urllib3.BaseHTTPResponse) -> int | None:
    return attempts.content_length(resp.headers.get("Content-Length", ""))


''' + s[end:]
# _standard_reason
start = s.index("def _standard_reason(status: int) -> str:")
s = s[:start].rstrip() + "\n"
s = s.replace("from http import HTTPStatus\n", "")
# 2. download_to through the engine, unless the session has a transport of its own
old_start = s.index('    _check_url("GET", url, url)\n    settings = session.settings\n    client = session.client()\n\n    def open_file()')
old_end = s.index("    try:\n        return _with_retries(session, \"GET\", url, attempt, on_retry)[1]")
s = s[:old_start] + '''    _check_url("GET", url, url)
    if session.transport is None:  # this process's libcurl engine (curl.py)

        def attempt() -> None:
            curl.fetch_file(
                session.settings, url, sink, headers=headers, private=private, on_bytes=on_bytes
            )

    else:
        attempt = _transport_attempt(session, url, sink, (headers, private, on_bytes))
''' + s[old_end:]
sub("# --- one attempt ----", '''def _transport_attempt(
    session: Session,
    url: str,
    sink: ByteSink,
    options: tuple[
        Mapping[str, str] | None, Collection[str], Callable[[int], None] | None
    ],
) -> Callable[[], None]:
    """One attempt of a download through the session's own transport (a test's fake one, or
    `session.new_client`'s urllib3 client), as every download went before libcurl."""
    headers, private, on_bytes = options
    settings = session.settings
    client = session.client()

    def open_file() -> urllib3.BaseHTTPResponse:
        return client.request(
            "GET",
            url,
            headers=headers or {},
            timeout=settings.timeout,
            max_redirects=settings.max_redirects,
            private=private,
        )

    def attempt() -> None:
        with _send(open_file, settings) as resp:
            _check_status(resp, settings)
            _stream_to(resp, sink, settings, on_bytes)

    return attempt


# --- one attempt ----''')
open(p, "w").write(s)

# session.py: files through libcurl unless a transport is handed
p = f"{root}/yamlcrawl/http/session.py"
s = open(p).read()
sub("    transport: TransportFactory = new_client\n", "    transport: TransportFactory | None = None\n")
open(p, "w").write(s)
