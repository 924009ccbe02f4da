"""A page: fetch it, pick its fields, fan out into items (``where``, ``run.max_items``), and the
child pages and files they ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from yamlcrawl.http.fetch import Document, FetchError, fetch_document, with_query
from yamlcrawl.language.jsonpaths import Entry, find_entries, find_first
from yamlcrawl.language.plan import DownloadRule, Plan, StagePlan
from yamlcrawl.language.redact import redact_value
from yamlcrawl.language.template import FormatError, RenderError, compile_template
from yamlcrawl.language.where import OPERATORS, NotComparableError
from yamlcrawl.storage.safepath import (
    UnsafePathError,
    escape_value,
    leave_room_for_ext,
    relative_path,
)
from yamlcrawl.types import (
    Cookies,
    FileRequest,
    Key,
    PageResult,
    PageUnit,
    format_value,
    unit_id,
    utc_now,
)
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.events import Event, report_retry, worker_name
from yamlcrawl.work.incremental import kept_values, newer_items, stops_here
from yamlcrawl.work.paging import item_digests, next_page, no_new_items, repeated
from yamlcrawl.work.requests import (
    HeaderError,
    digest_credentials,
    page_headers,
    page_request,
    private_headers,
    refuse_injection,
    render,
    render_headers,
    render_json,
    resolve,
)
from yamlcrawl.work.unmatched import page_unmatched


def fetch_page(run: RunContext, unit: PageUnit) -> PageResult:
    """Fetch a page, bind its fields, fan out over ``each``, and list the files it asks for."""
    plan = run.plan
    stage = plan.stage(unit.stage)
    context = unit.context
    cached = unit.cached
    if cached is not None:  # the kept body came to the worker; it does not go back
        unit = replace(unit, cached=replace(cached, body=b""))
    try:
        url, params, body = page_request(stage, unit)
        headers = page_headers(plan, stage, context)
        digest = digest_credentials(stage, context)
    except HeaderError as exc:
        return PageResult(unit, stage.url, str(exc))
    except RenderError as exc:
        return PageResult(unit, stage.url, f"cannot build the request: {exc}")
    uid = unit_id(unit)
    run.events.emit(Event("start", worker_name(), uid, f"{stage.method} {url}"))
    try:
        document = fetch_document(
            run.session,
            url,
            method=stage.method,
            params=params,
            headers=headers,
            fmt=stage.format,
            on_retry=partial(report_retry, run.events, uid),
            body=body,
            private=private_headers(plan, plan.http_headers + stage.headers, headers),
            digest=digest,
            cookies=unit.cookies,
            cached=cached,
            keep=unit.keep,
        )
    except FetchError as exc:
        return PageResult(unit, url, str(exc), attempts=exc.attempts, http_status=exc.status)
    return _page_result(plan, unit, (url, params), document)


def _page_result(
    plan: Plan, unit: PageUnit, request: tuple[str, dict[str, str]], document: Document
) -> PageResult:
    """What a fetched page gives: its items' child pages, files and records, its next page."""
    stage = plan.stage(unit.stage)
    url, params = request
    done = partial(
        PageResult,
        unit,
        url,
        attempts=document.attempts,
        bytes=document.bytes,
        not_modified=document.not_modified,
        cache=document.kept,
        http_status=document.status,
    )
    if stage.emit is not None:  # its rows' lineage: when the response came, and from where
        source = document.url or with_query(url, params)
        done = partial(done, fetched_at=utc_now(), source_url=source)
    if document.data is None:  # a deleted item: nothing to fan out, bind, save or emit
        return done(None, empty=True)
    try:
        items = items_of(plan, stage, document.data)
    except TooManyItemsError as exc:
        return done(str(exc))
    digests = item_digests(value for _, value in items) if stage.paginate else b""
    if stage.paginate is not None:  # nothing of a page seen before is used: no item twice
        sent = with_query(url, params)
        again = repeated(unit.page, document, sent) or no_new_items(unit.page, digests, sent)
        if again is not None:
            return done(None, warning=again)
    before = unit.page.items if unit.page is not None else 0
    newer = newer_items(stage, unit.cursor, items)  # `incremental`: the items not seen before
    contexts, found, passed, uncompared = fan_out(
        plan, stage, unit.context, document.data, before, newer.items
    )
    had = found + newer.not_newer  # every item of the page: `total`, an empty page, `each`
    children = _children(unit, stage, contexts, document.url, document.cookies)
    warning = _joined(uncompared.warning(), newer.warning())
    paged = None
    if stage.paginate is not None:
        counts = (had, len(contexts))  # an empty page ends it; one `where` emptied does not
        following, paged = next_page(
            stage.paginate, unit.page, unit.key, document, counts, plan.limit, request, digests
        )
        warning = _joined(warning, paged)
        if following is not None and not stops_here(stage, had, newer):
            later = PageUnit(
                following.key(),
                unit.stage,
                unit.context,
                following,
                unit.base,
                document.cookies,
                unit.cursor,
            )
            children += (later,)
    files = _file_requests(plan, unit, stage, contexts, document.url, document.cookies)
    return done(
        None,
        children=children,
        files=files,
        items=len(contexts) if stage.each else 0,
        warning=warning,
        records=tuple(_record(stage, c) for c in contexts) if stage.emit else (),
        left_out=found - passed if stage.where else 0,
        unmatched=page_unmatched(stage, document.data, contexts, had, files),
        not_newer=newer.not_newer,
        cursors=kept_values(stage, newer, contexts),
        cut=stage.incremental is not None and paged is not None,
    )


def _joined(*warnings: str | None) -> str | None:
    """A page's warnings as one, or None."""
    return "; ".join(w for w in warnings if w) or None


def _record(stage: StagePlan, context: Mapping[str, Any]) -> dict[str, Any]:
    """One `emit` row: each column's template rendered; a missing value is null."""
    assert stage.emit is not None
    row: dict[str, Any] = {}
    for column, source in stage.emit[1]:
        try:
            row[column] = render_json(source, context)
        except RenderError:
            row[column] = None
    return row


def item_contexts(
    plan: Plan, stage: StagePlan, context: Mapping[str, Any], data: Any, before: int = 0
) -> list[dict[str, Any]]:
    """One context per fan-out item (or one for the whole response when there is no ``each``).

    ``before``: items the earlier pages of a paginated request kept, which ``--limit`` counts.
    """
    return fan_out(plan, stage, context, data, before)[0]


def items_of(plan: Plan, stage: StagePlan, data: Any) -> list[Entry]:
    """The items ``each`` finds on a page, with their keys (none without ``each``).

    Raises:
        TooManyItemsError: More than ``run.max_items``.
    """
    if stage.each is None:
        return []
    items = find_entries(stage.each, data)
    if len(items) > plan.max_items:
        raise TooManyItemsError(
            f"the page has {len(items):,} items at {stage.each}, more than run.max_items"
            f" ({plan.max_items:,}) — page the list (paginate), or raise run.max_items"
        )
    return items


def fan_out(
    plan: Plan,
    stage: StagePlan,
    context: Mapping[str, Any],
    data: Any,
    before: int = 0,
    items: list[Entry] | None = None,
) -> tuple[list[dict[str, Any]], int, int, Uncompared]:
    """The kept items' contexts (``where``, then ``--limit``), how many items the page had, how
    many of them ``where`` kept, and those it left out as it could not compare them.

    ``items``: what `items_of` found on the page, if the caller has it already.
    """
    base = dict(context)
    base.update((name, find_first(path, data)) for name, path in stage.fields)
    uncompared = Uncompared()
    if stage.each is None or stage.as_ is None:
        kept = [base] if passes(stage, base, uncompared) else []
        return kept, 1, len(kept), uncompared
    name, key = stage.as_, stage.key
    entries = items_of(plan, stage, data) if items is None else items
    found = [{**base, name: item, **({key: k} if key else {})} for k, item in entries]
    contexts = [c for c in found if passes(stage, c, uncompared)]
    passed = len(contexts)
    if plan.limit is not None:
        contexts = contexts[: max(plan.limit - before, 0)]
    return contexts, len(found), passed, uncompared


class TooManyItemsError(Exception):
    """A page whose fan-out finds more than ``run.max_items`` items: it fails, whole."""


def passes(
    stage: StagePlan, context: Mapping[str, Any], uncompared: Uncompared | None = None
) -> bool:
    """Whether an item meets every ``where`` rule of its stage (a missing value is empty).

    An item a comparison cannot order (``gt: 5`` and ``n/a``) does not: why goes to
    ``uncompared``.
    """
    for source, test, operand in stage.where:
        try:
            text = compile_template(source).render(context)
        except FormatError as exc:  # {n:03d} and "abc": not comparable, said like the others
            if uncompared is not None:
                uncompared.add(str(exc))
            return False
        except RenderError:
            text = ""
        try:
            if not OPERATORS[test].holds(operand, text):
                return False
        except NotComparableError as exc:
            if uncompared is not None:
                uncompared.add(f"{source} gave {exc}")
            return False
    return True


@dataclass
class Uncompared:
    """Items a page's ``where`` left out as it could not compare them: how many, the first's why."""

    count: int = 0
    first: str = ""

    def add(self, why: str) -> None:
        """One more such item."""
        if not self.count:
            self.first = why
        self.count += 1

    def warning(self) -> str | None:
        """What the page says about them, if there were any."""
        if not self.count:
            return None
        items = f"{self.count} item{'s' if self.count > 1 else ''}"
        return f"where left out {items} it could not compare; the first: {self.first}"


def _children(
    unit: PageUnit,
    stage: StagePlan,
    contexts: list[dict[str, Any]],
    base: str,
    cookies: Cookies,
) -> tuple[PageUnit, ...]:
    return tuple(
        PageUnit((*unit.key, item, child), name, context, base=base, cookies=cookies)
        for item, context in enumerate(contexts)
        for child, name in enumerate(stage.children)
    )


def _file_requests(
    plan: Plan,
    unit: PageUnit,
    stage: StagePlan,
    contexts: list[dict[str, Any]],
    base: str,
    cookies: Cookies,
) -> tuple[FileRequest, ...]:
    if not stage.downloads:
        return ()
    requests = tuple(
        file_request(plan, stage, rule, context, (*unit.key, item, rule.index), base, names)
        for item, context in enumerate(contexts)
        for names in (item_names(plan, context) if plan.output.manifest else (),)  # once an item
        for rule in stage.downloads
    )
    if not cookies:
        return requests
    return tuple(replace(request, cookies=cookies) for request in requests)


def file_request(
    plan: Plan,
    stage: StagePlan,
    rule: DownloadRule,
    context: Mapping[str, Any],
    key: Key,
    base: str = "",
    names: tuple[tuple[str, Any], ...] | None = None,
) -> FileRequest:
    """Render one download rule for one item: its URL, its safe relative path, its headers.

    A relative URL resolves against ``base``, the URL of the page the item came from.
    ``names``: what the item binds (``item_names``), for its manifest row, if known already.
    """

    def bound() -> tuple[tuple[str, Any], ...]:
        return names if names is not None else item_names(plan, context)

    try:
        url = render(rule.url, context).strip()
    except RenderError as exc:
        skip = f"no URL ({exc})"
        return FileRequest(key, stage.name, "", "", (), skip=skip, item=bound())
    if not url:
        skip = "no URL (empty)"
        return FileRequest(key, stage.name, "", "", (), skip=skip, item=bound())
    url = resolve(url, base)
    escape = partial(escape_value, replace=plan.output.replace)
    template = compile_template(rule.save_as)
    stem = template.response_ext()
    try:
        rendered = (stem or template).render(context, escape=escape)
        path = relative_path(rendered, plan.output.replace)
    except (RenderError, UnsafePathError) as exc:
        problem = f"cannot name the file: {exc}"
        item = bound()
        return FileRequest(key, stage.name, url, "", (), problem=problem, item=item)
    try:
        headers = render_headers(plan.http_headers + rule.headers, context)
        refuse_injection(headers)
    except HeaderError as exc:
        return FileRequest(key, stage.name, url, "", (), problem=str(exc), item=bound())
    if stem is not None:
        path = leave_room_for_ext(path)
    try:
        archive_key = _archive_key(plan, rule, context)
    except RenderError as exc:
        problem = f"cannot make its archive key: {exc}"
        item = bound()
        return FileRequest(key, stage.name, url, "", (), problem=problem, item=item)
    return FileRequest(
        key,
        stage.name,
        url,
        str(path),
        tuple(headers.items()),
        ext_to_come=stem is not None,
        archive_key=archive_key,
        item=bound(),  # for its manifest row
    )


def _archive_key(plan: Plan, rule: DownloadRule, context: Mapping[str, Any]) -> str | None:
    """What tells the file apart in output.archive: its rule's archive_key rendered (None:
    its URL does, or the crawl keeps no archive)."""
    if rule.archive_key is None or plan.output.archive is None:
        return None
    return render(rule.archive_key, context)


ITEM_VALUE_CHARS = 60  # a value in a manifest row's `item`: longer ones are cut, with a `…`


def item_names(plan: Plan, context: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """What tells an item apart in the manifest: the names its stage and the stages above bind
    (not vars, nor --set), secrets masked, each value cut to :data:`ITEM_VALUE_CHARS`."""
    given = {name for name, _ in plan.vars}
    return tuple(
        (name, _shortened(redact_value(value, plan.secrets)))
        for name, value in context.items()
        if name not in given
    )


def _shortened(value: Any) -> Any:
    """A number, true, false or null as it is; anything else as its text, cut if long."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = format_value(value)
    if len(text) <= ITEM_VALUE_CHARS:
        return text
    return text[: ITEM_VALUE_CHARS - 1] + "…"
