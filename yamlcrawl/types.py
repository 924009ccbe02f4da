"""The shared vocabulary: plain types every layer may import, and which import no layer.

Units of work and their results are frozen dataclasses of plain values, so any backend can
pickle them to a worker process and back; the HTTP settings are one hashable value per crawl;
what a run does reaches its followers as calls on a `Subscriber`, and the run's counts are one
of them, `RunStats`, which the display, the summary and the report read.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

Key = tuple[int, ...]  # a unit's place in crawl order: item indexes, depth first
Pairs = tuple[tuple[str, str], ...]  # ordered name/value pairs (headers, cookies, form fields)
Replace = Literal["fullwidth", "underscore"]  # what unsafe characters in names become
OnConflict = Literal["suffix", "overwrite", "skip"]  # two URLs, one name: which wins


def format_value(value: Any) -> str:
    """A JSON value as text (templates, CSV cells): strings as they are, else compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def utc_now() -> str:
    """The time now as UTC ISO 8601 text, to the microsecond: 2026-12-03T14:44:46.123456Z."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """An id for one run: its start time (UTC, so ids sort as runs began) and 24 random bits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ-") + os.urandom(3).hex()


@dataclass(frozen=True)
class Channel:
    """Where a run's workers send events: the path of the main process's socket."""

    path: str


RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


# A file bigger than any a JSON API should point at (a DVD image; FAT32's largest file), yet a
# bound: an endless body stops there instead of filling the disk. `max_bytes: null` lifts it.
DEFAULT_MAX_BYTES = 4 * 1024**3


# Without `http.deadline`, one attempt may take this many times `timeout` in all (5 minutes at
# the default 15 s): far more than any page needs, enough for a large file on a slow link.
DEADLINE_FACTOR = 20


# A file larger than this is continued with `Range` after an interruption, not fetched again.
RESUME_ABOVE = 1024 * 1024


@dataclass(frozen=True)
class HttpSettings:
    """How requests are made; one plain value per crawl (the run's `Session` carries it).

    Attributes:
        timeout: Seconds allowed for connecting and for each read.
        retries: Extra attempts after a retryable failure.
        backoff: Seconds before the first retry, doubled for each next one (+ up to 10% jitter).
        user_agent: `chrome`, `firefox`, `safari`, `edge`, `random`, or a literal UA string.
        proxies: (scheme, proxy URL) pairs; schemes not given use the environment's.
        verify: Verify TLS certificates (True: against the usual bundle), or the path of the
            CA bundle to verify them against.
        cert: A client certificate file (with its key), or (certificate, key) files; None.
        max_redirects: Redirects followed before giving up.
        retry_on: HTTP statuses that are retried.
        max_bytes: Largest file a download may bring (None: no limit).
        max_page_bytes: Largest page (JSON document) accepted.
        rate: Requests per second, across every process of the run (politeness.py).
        per_host: Requests at once to one host, across every process of the run.
        deadline: Seconds one attempt may take in all, redirects, headers and body included
            (None: `DEADLINE_FACTOR` times `timeout`); see `attempt_deadline`.
        resume_above: A file larger than this many bytes (by its Content-Length) keeps what
            an interrupted attempt or run received, and is continued with a Range request
            (None: never).
    """

    timeout: float = 15.0
    retries: int = 3
    backoff: float = 0.5
    user_agent: str = "chrome"
    proxies: tuple[tuple[str, str], ...] = ()
    verify: bool | str = True
    cert: str | tuple[str, str] | None = None
    max_redirects: int = 10
    retry_on: tuple[int, ...] = tuple(sorted(RETRY_STATUSES))
    max_bytes: int | None = DEFAULT_MAX_BYTES
    max_page_bytes: int | None = 50_000_000
    rate: float | None = None
    per_host: int | None = None
    deadline: float | None = None
    resume_above: int | None = RESUME_ABOVE

    @property
    def attempt_deadline(self) -> float:
        """Seconds one attempt may take: `deadline`, or `DEADLINE_FACTOR` times `timeout`."""
        return self.deadline if self.deadline is not None else DEADLINE_FACTOR * self.timeout


class ByteSink(Protocol):
    """Where a download's body goes: the HTTP layer writes to it and knows no paths; storage
    (``storage/files.py``) decides where the bytes live and what the whole file is called."""

    def begin(self, content_type: str | None) -> None:
        """An attempt's body starts (over again, after a failed attempt); its Content-Type."""

    def write(self, chunk: bytes) -> None:
        """The next bytes of the body."""

    def discard(self) -> None:
        """The attempt, or the download, failed: drop what was written."""


@dataclass(frozen=True)
class HeldPart:
    """The first bytes of a file a sink kept from an interrupted attempt or run: the HTTP
    layer asks for the rest (``Range``) if the file is still the same (``If-Range``).

    Attributes:
        bytes: How many bytes are held.
        validator: The ETag (a strong one), else the Last-Modified, they came with.
        total: The whole file's size, as the response that began it said.
    """

    bytes: int
    validator: str
    total: int | None


@dataclass(frozen=True)
class BodyStart:
    """What a response says of the body that follows, for a sink that keeps more than bytes.

    Attributes:
        status: The response's status.
        content_type: Its Content-Type, or None.
        offset: Bytes of the file before this body: those held, which a 206 continues; else 0.
        total: The whole file's size if the response says it (a Content-Range, or the
            Content-Length of a body that is not content-encoded), else None.
        etag: Its ETag ("" if none).
        last_modified: Its Last-Modified ("" if none).
    """

    status: int
    content_type: str | None
    offset: int = 0
    total: int | None = None
    etag: str = ""
    last_modified: str = ""


class RangeSink(ByteSink, Protocol):
    """A sink that can keep part of a body for a later attempt or run (``storage/files.py``'s
    ``FileSlot``); the HTTP layer asks any sink with ``begin_body`` for these."""

    def held(self) -> HeldPart | None:
        """The part kept from before, if any: the next request asks for the rest."""

    def begin_body(self, start: BodyStart) -> None:
        """An attempt's body starts at ``start.offset`` (0: over again); what the response said."""

    def forget(self) -> None:
        """The server will not continue the part held: drop it, start over next time."""


@dataclass(frozen=True)
class PageState:
    """Which page of a paginated request a unit fetches, and what came before it.

    Attributes:
        number: 2 for the second page, and so on (the first page has no state).
        value: The page number, offset or cursor to send, or the URL of the page (next, link).
        items: Items kept (after ``where`` and ``--limit``) from the pages before this one.
        found: Items the pages before this one had, kept or not (what ``total`` counts).
        seen: Short digests of the requests made so far in this chain (the loop guard).
        previous: Digest of the previous page's body.
        first: The key of the first page: later pages are keyed from it.
        known: 8-byte digests of the items the pages before this one had (each item's
            canonical JSON), end to end; bounded (paging.py `remember`).
    """

    number: int
    value: int | str
    items: int
    found: int
    seen: tuple[str, ...]
    previous: str
    first: Key
    known: bytes = b""

    def key(self) -> Key:
        """This page's unit key: its first page's key and minus its number (never an item)."""
        return (*self.first, -self.number)


@dataclass(frozen=True)
class StoredPage:
    """A page response an earlier run kept, for a conditional request (storage/pagecache.py):
    what a 304 answer stands for. The coordinator hands it to the worker inside the unit, and a
    worker sends a new one back inside its result for the main process to keep.

    Attributes:
        url: The request it answered, query included (GET, no body): the key it is kept by.
        etag: The response's ``ETag``, sent back as ``If-None-Match``; None if it had none.
        last_modified: Its ``Last-Modified``, sent back as ``If-Modified-Since``; None.
        sha256: SHA-256 of the body as received (decoded): a damaged copy is never used.
        body: The body, zlib-compressed (empty in a result: the worker does not send it back).
        content_type: Its ``Content-Type`` (the charset a body is decoded with).
        link: Its ``Link`` header (``paginate: {by: link}``), "" if none.
    """

    url: str
    etag: str | None
    last_modified: str | None
    sha256: str
    body: bytes
    content_type: str = ""
    link: str = ""


# Cookies as crawl state, plain rows that travel with units (http/cookies.py): (domain, whether
# the Domain attribute gave it, path, name, value, secure, expires as epoch seconds or None).
Cookie = tuple[str, bool, str, str, str, bool, int | None]
Cookies = tuple[Cookie, ...]


@dataclass(frozen=True)
class Cursor:
    """An incremental stage's cursor, as its pages carry it (storage/cursors.py): which one (the
    stage and its first page's request), and the value earlier runs stored, if any (JSON)."""

    scope: str
    value: Any = None


@dataclass(frozen=True)
class PageUnit:
    """Fetch one page of ``stage`` with the names bound so far, and the cookies it sends.

    ``base`` is the URL of the page whose item led here (its final URL, after redirects), the
    base a relative ``url`` resolves against; a start page has none. ``cookies``: those the
    crawl started with and those set by the pages above it (http/cookies.py).
    """

    key: Key
    stage: str
    context: dict[str, Any]
    page: PageState | None = None  # a later page of a paginated stage (paging.py)
    base: str = ""
    cookies: Cookies = ()
    cursor: Cursor | None = None  # `incremental`: only items newer than its value are kept
    # Conditional requests: what an earlier run kept of this request's response (sent as
    # If-None-Match / If-Modified-Since; a 304 reuses it), and whether a 2xx response is to be
    # sent back for the main process to keep (a run with a page cache, not a dry run).
    cached: StoredPage | None = None
    keep: bool = False


@dataclass(frozen=True)
class FileRequest:
    """A file a page asks for; the coordinator settles its final name before it is fetched."""

    key: Key
    stage: str
    url: str
    path: str
    headers: Pairs
    skip: str | None = None
    problem: str | None = None
    ext_to_come: bool = False  # save_as ends in {ext}: `path` is the name without it
    # A file skipped or unnameable: the names its item binds (vars aside), values shortened.
    item: tuple[tuple[str, Any], ...] = ()
    cookies: Cookies = ()  # its page's, after the page's response set its own
    archive_key: str | None = None  # its rule's archive_key rendered (output.archive)

    @property
    def planned(self) -> str:
        """The name asked for (``name{ext}`` when the response settles the extension)."""
        return f"{self.path}{{ext}}" if self.ext_to_come and self.path else self.path


@dataclass(frozen=True)
class DownloadUnit:
    """Download ``url`` to ``path`` (relative to the output folder, already safe and settled).

    With ``ext_to_come``, ``path`` is the name without the extension the response's
    Content-Type will give it, and ``found`` is where an earlier run saved it, if one did.
    """

    key: Key
    stage: str
    url: str
    path: str
    headers: Pairs
    overwrite: bool
    expect: tuple[int, str] | None = None  # (bytes, sha256) an earlier run saved it with
    ext_to_come: bool = False
    found: str | None = None
    cookies: Cookies = ()  # those that apply to `url` are sent
    partial: bool = False  # an earlier run kept part of it (storage/partials.py): continue it

    @property
    def planned(self) -> str:
        """The name as settled before the download (``name{ext}`` until the response says)."""
        return f"{self.path}{{ext}}" if self.ext_to_come else self.path


@dataclass(frozen=True)
class Unmatched:
    """A rule of a stage that matched nothing on one page: its ``each`` or a field, or a
    download's ``url`` or ``save_as`` on some of the page's items; and where matching stopped.

    Attributes:
        rule: Where in the stage: ``each``, ``fields.title``, ``downloads.0.url``.
        path: The jsonpath or the template.
        missed: The items it missed on (a download); 1 for a page's ``each`` or field.
        at: The part of the path that still matched (``$``, ``$.data``, ``character``).
        found: What is there, in words (``keys: products, total``).
        keys: The keys there, if it is an object.
        suggestion: The path probably meant, or None.
        missing: The key that is not there, if the step that found nothing names one.
    """

    rule: str
    path: str
    missed: int = 1
    at: str = "$"
    found: str = ""
    keys: tuple[str, ...] = ()
    suggestion: str | None = None
    missing: str | None = None


@dataclass(frozen=True)
class UnmatchedRule:
    """A rule that matched nothing across its stage, as the run reports it (engine/matches.py):
    a warning, or a failure (``--strict``, ``required: true``); ``text`` says it all in a line.
    """

    stage: str
    rule: str
    path: str
    missed: int
    of: int
    unit: Literal["pages", "items"]
    example_url: str
    at: str
    found: str
    keys: tuple[str, ...]
    suggestion: str | None
    missing: str | None
    failed: bool
    text: str


@dataclass(frozen=True)
class PageResult:
    """What one page gave: the child pages and files it leads to, or why it failed."""

    unit: PageUnit
    url: str
    error: str | None
    children: tuple[PageUnit, ...] = ()
    files: tuple[FileRequest, ...] = ()
    items: int = 0
    attempts: int = 0
    bytes: int = 0
    warning: str | None = None  # the page is fine, but something about it needs saying
    records: tuple[dict[str, Any], ...] = ()  # `emit`: one row per item, in item order
    left_out: int = 0  # items `where` rejected
    # The rules that matched nothing here; None: none was tried (failed, repeated, null page).
    unmatched: tuple[Unmatched, ...] | None = None
    empty: bool = False  # the response was JSON null (a deleted item): no items, no records
    fetched_at: str = ""  # when the response came (UTC ISO 8601): `emit`'s _fetched_at
    source_url: str = ""  # the page's URL after redirects: `emit`'s _source_url
    # `incremental`: items left out as not newer than the cursor; each kept item's cursor value
    # (in item order); whether the pagination ended before the server's last page (max_pages,
    # the loop guard)
    not_newer: int = 0
    cursors: tuple[Any, ...] = ()
    cut: bool = False
    not_modified: bool = False  # a 304: the body an earlier run kept was used
    cache: StoredPage | None = None  # a 2xx response for the main process to keep
    http_status: int | None = None  # the response's status, when one came


FileStatus = Literal["saved", "present", "failed"]


@dataclass(frozen=True)
class FileResult:
    """What became of one download."""

    unit: DownloadUnit
    status: FileStatus
    bytes: int = 0
    sha256: str | None = None
    error: str | None = None
    attempts: int = 0
    saved_as: str | None = None  # the name a `{ext}` file got, once the response settled it
    folder_full: bool = False  # the output folder cannot take more (full, read-only): stop
    # What the response said, when one came (the manifest's row for scripts)
    http_status: int | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    resumed: int = 0  # bytes kept from an interrupted attempt or run, continued with Range

    @property
    def path(self) -> str:
        """Where the file is (or, failed, the name it was planned under)."""
        return self.saved_as or self.unit.planned


Unit = PageUnit | DownloadUnit


UnitId = tuple[str, Key]


@dataclass(frozen=True)
class Lost:
    """A unit whose worker died before returning its result; the coordinator retries it once."""

    unit: Unit
    reason: str


Result = PageResult | FileResult | Lost


def unit_id(unit: Unit) -> UnitId:
    """A key unique within a run: pages and files have keys of the same shape."""
    return ("page" if isinstance(unit, PageUnit) else "file", unit.key)


EventKind = Literal["start", "bytes", "retry"]


@dataclass(frozen=True)
class Event:
    """One thing a worker did: ``start`` (detail: what), ``bytes`` (amount), ``retry`` (why)."""

    kind: EventKind
    worker: str
    unit: tuple[str, tuple[int, ...]]
    detail: str = ""
    amount: int = 0


@dataclass(frozen=True)
class Failure:
    """One unit that failed, for the final list."""

    kind: str
    stage: str
    url: str
    path: str | None
    reason: str


class Subscriber:
    """What follows a run: the coordinator publishes each thing that happens as a call here.

    Every method does nothing; a subscriber overrides those it takes, and is called for those
    alone (``engine/publish.py``), so an event nobody takes costs nothing. Only the main
    process publishes, one call at a time, in crawl order where crawl order is settled.
    """

    def wants_worker_events(self) -> bool:
        """Whether it shows what workers are doing (else workers need not say it)."""
        return False

    def run_started(self, stats: RunStats) -> None:
        """The run begins; ``stats`` are its counts, kept up to date as it goes."""

    def page_queued(self, unit: PageUnit) -> None:
        """A page became known (a start page, or one a fan-out found)."""

    def page_done(self, result: PageResult) -> None:
        """A page was fetched, or failed; it may carry a warning."""

    def page_duplicate(self, unit: PageUnit, url: str) -> None:
        """A page not fetched: the run already made or queued the same request."""

    def page_released(self, result: PageResult) -> None:
        """A page's turn in crawl order came: its files are named, its `emit` rows are due."""

    def file_planned(self, unit: DownloadUnit) -> None:
        """A file was named (and, unless the run only lists, queued)."""

    def file_done(self, result: FileResult) -> None:
        """A download finished: saved, present, or failed."""

    def file_skipped(self, request: FileRequest, status: str, reason: str) -> None:
        """A file not fetched: ``skipped`` (no URL, a conflict), ``duplicate``, or
        ``archived`` (output.archive holds it)."""

    def file_unnamed(self, request: FileRequest, path: str | None, reason: str) -> None:
        """A file that could not be named (its save_as failed, or left the folder): failed."""

    def unit_lost(self, lost: Lost) -> None:
        """A worker died holding a unit (tried once more, then failed)."""

    def worker_events(self, events: list[Event]) -> None:
        """What workers said they are doing (started, bytes, retries)."""

    def tick(self) -> None:
        """Called between polls: a chance to refresh or log progress."""

    def run_ended(self, stats: RunStats) -> None:
        """The run got to its end, or was stopped or interrupted: ``stats`` are final."""


@dataclass
class RunStats(Subscriber):
    """What a run did, counted as it goes: the one set of counts, itself a subscriber.

    Results count exactly; what workers report while a unit runs (bytes, retries) is held by
    unit until its result settles it, so ``bytes_so_far`` and ``retries_so_far`` move as the
    run does and end equal to the exact counts.
    """

    pages: int = 0
    pages_failed: int = 0
    saved: int = 0
    present: int = 0
    skipped: int = 0
    duplicates: int = 0
    planned: int = 0
    failed: int = 0
    bytes: int = 0
    retries: int = 0
    lost: int = 0
    interrupted: bool = False
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a pagination the loop guard ended
    records: int = 0  # rows written by `emit`
    left_out: int = 0  # fan-out items `where` rejected
    stopped: str | None = None  # why the output folder could not take more (full, read-only)
    pages_queued: int = 0  # pages known (done or still to come)
    dry_run: bool = False  # files were listed, none fetched
    empty: dict[str, int] = field(default_factory=dict)  # responses that were null, by stage
    unmatched: list[UnmatchedRule] = field(default_factory=list)  # rules that matched nothing
    run_id: str = field(default_factory=new_run_id)  # `emit`'s _run_id, and the report's
    records_known: int = 0  # rows `emit` (mode: append) left out: already in their file
    not_newer: int = 0  # fan-out items left out as not newer than their stage's cursor
    not_modified: int = 0  # pages answered 304: the body an earlier run kept was used
    _streamed: dict[UnitId, int] = field(default_factory=dict, repr=False, compare=False)
    _retried: dict[UnitId, int] = field(default_factory=dict, repr=False, compare=False)
    _streaming: int = field(default=0, repr=False, compare=False)  # sum of _streamed
    _retrying: int = field(default=0, repr=False, compare=False)  # sum of _retried
    archived: int = 0  # files not fetched: output.archive holds them (storage/archive.py)
    started_at: float = field(default_factory=time.time)  # the wall clock's start (the report)
    cluster: ClusterShape | None = None  # dask mode: the cluster as the run found it

    @property
    def ok(self) -> bool:
        """No unit failed and the run was not interrupted or stopped."""
        return not self.failures and not self.interrupted and self.stopped is None

    @property
    def bytes_so_far(self) -> int:
        """Bytes saved, and those downloads still running have reported."""
        return self.bytes + self._streaming

    @property
    def retries_so_far(self) -> int:
        """Retries of settled units, and those units still running have reported."""
        return self.retries + self._retrying

    def page_queued(self, unit: PageUnit) -> None:
        """One more page known."""
        self.pages_queued += 1

    def page_done(self, result: PageResult) -> None:
        """A page, its retries and what `where` left out; a failure or warning listed."""
        self.pages += 1
        self._settled(unit_id(result.unit), result.attempts)
        self.left_out += result.left_out
        self.not_newer += result.not_newer
        self.not_modified += result.not_modified
        if result.empty:
            stage = result.unit.stage
            self.empty[stage] = self.empty.get(stage, 0) + 1
        if result.error is not None:
            self.pages_failed += 1
            stage = result.unit.stage
            self.failures.append(Failure("page", stage, result.url, None, result.error))
        if result.warning is not None:
            self.warnings.append(f"{result.unit.stage} {result.url}: {result.warning}")

    def page_duplicate(self, unit: PageUnit, url: str) -> None:
        """A page request asked again."""
        self.duplicates += 1

    def file_planned(self, unit: DownloadUnit) -> None:
        """One more file named."""
        self.planned += 1

    def file_done(self, result: FileResult) -> None:
        """Saved (with its bytes), present, or failed (listed with its reason)."""
        unit = result.unit
        self._settled(("file", unit.key), result.attempts)
        if result.status == "saved":
            self.saved += 1
            self.bytes += result.bytes
        elif result.status == "present":
            self.present += 1
        else:
            self.failed += 1
            reason = result.error or "failed"
            self.failures.append(Failure("file", unit.stage, unit.url, result.path, reason))

    def file_skipped(self, request: FileRequest, status: str, reason: str) -> None:
        """A duplicate, a file the archive holds, or a skip."""
        if status == "duplicate":
            self.duplicates += 1
        elif status == "archived":
            self.archived += 1
        else:
            self.skipped += 1

    def file_unnamed(self, request: FileRequest, path: str | None, reason: str) -> None:
        """A file that could not be named failed."""
        self.failed += 1
        self.failures.append(Failure("file", request.stage, request.url, path, reason))

    def unit_lost(self, lost: Lost) -> None:
        """A worker died holding a unit."""
        self.lost += 1

    def worker_events(self, events: list[Event]) -> None:
        """Bytes and retries of units still running, until their results settle them."""
        for event in events:
            if event.kind == "bytes":
                self._streamed[event.unit] = self._streamed.get(event.unit, 0) + event.amount
                self._streaming += event.amount
            elif event.kind == "retry":
                self._retried[event.unit] = self._retried.get(event.unit, 0) + 1
                self._retrying += 1

    def _settled(self, uid: UnitId, attempts: int) -> None:
        """A unit's result counts exactly: what it reported while running is taken back."""
        self.retries += max(attempts - 1, 0)
        if self._streamed:
            self._streaming -= self._streamed.pop(uid, 0)
        if self._retried:
            self._retrying -= self._retried.pop(uid, 0)


ADDRESSES_SHOWN = 6  # worker addresses a cluster's text lists before "and N more"


@dataclass(frozen=True)
class ClusterShape:
    """A Dask cluster as a run found it: its scheduler, and each worker's address and threads
    (``local``: a cluster the run started for itself)."""

    scheduler: str
    workers: tuple[tuple[str, int], ...]
    local: bool = False

    def text(self) -> str:
        """``2 workers × 8 threads (10.77.0.11, 10.77.0.12) at tcp://10.77.0.1:8786``; a local
        cluster's: ``local cluster of 2 workers × 2 threads``."""
        many = len(self.workers)
        counts = {threads for _, threads in self.workers}
        sized = f"{many} worker{'s' if many != 1 else ''}"
        if len(counts) == 1:
            (threads,) = counts
            sized += f" × {threads} thread{'s' if threads != 1 else ''}"
        else:
            sized += f", {sum(threads for _, threads in self.workers)} threads in all"
        if self.local:
            return f"local cluster of {sized}"
        return f"{sized} ({self._addresses()}) at {self.scheduler}"

    def _addresses(self) -> str:
        """Each worker's host when every one has a host of its own, else host:port."""
        addresses = [address.split("://", 1)[-1] for address, _ in self.workers]
        hosts = [address.rsplit(":", 1)[0] for address in addresses]
        if len(set(hosts)) == len(hosts):
            addresses = hosts
        shown = ", ".join(addresses[:ADDRESSES_SHOWN])
        more = len(addresses) - ADDRESSES_SHOWN
        return f"{shown} and {more} more" if more > 0 else shown
