"""The work itself, shared by every mode: fetch a page, download a file.

A unit of work and its result are plain frozen dataclasses, so any backend can pickle them to a
worker process and back. A backend decides only *where* :func:`run_unit` runs; what it does is
the same everywhere, so every mode produces the same results by construction.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any

from yamlcrawl.http.fetch import FetchError, download_to, fetch_document, with_query
from yamlcrawl.http.transport import PRIVATE_HEADERS
from yamlcrawl.language.jsonpaths import find_all, find_first
from yamlcrawl.language.plan import DownloadRule, Plan, StagePlan
from yamlcrawl.language.template import Field as TemplateField
from yamlcrawl.language.template import RenderError, compile_template, lookup
from yamlcrawl.storage.outdir import describe, stops_the_run, temporary_path
from yamlcrawl.storage.safepath import (
    UnsafePathError,
    escape_value,
    extension_for,
    leave_room_for_ext,
    relative_path,
    resolve_inside,
)
from yamlcrawl.types import (
    DownloadUnit,
    FileRequest,
    FileResult,
    Key,
    PageResult,
    PageUnit,
    Pairs,
    Result,
    Unit,
    UnitId,
    unit_id,
)
from yamlcrawl.work.events import ByteCounter, Event, emit, worker_name
from yamlcrawl.work.paging import next_page, request_for

# RFC 9110's token for a header name; in a value, any control character but a tab (a CR or LF
# would end the header and start another: header injection).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class HeaderError(ValueError):
    """A header that cannot be sent: its template failed, or its name or value is unsafe."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"cannot build header {name}: {problem}")


# Threads cannot be killed: a backend that must stop them sets this, and downloads in progress
# give up at their next chunk (processes are stopped with a signal instead).
STOP = threading.Event()
# A Dask worker serves whichever runs use its cluster: a task notes its run in RUN.name, and a
# stopped run is named in STOPPED_RUNS, so only that run's downloads give up.
RUN = threading.local()
STOPPED_RUNS: set[str] = set()


class StoppedError(Exception):
    """A download noticed STOP and gave up; its temporary file is already removed."""


def failed(plan: Plan, unit: Unit, reason: str) -> PageResult | FileResult:
    """The result of a unit that could not be done at all."""
    if isinstance(unit, PageUnit):
        return PageResult(unit, plan.stage(unit.stage).url, reason)
    return FileResult(unit, "failed", error=reason)


def run_unit(plan: Plan, unit: Unit) -> Result:
    """Do one unit of work. Never raises for a failure of the unit itself: it is in the result."""
    try:
        if isinstance(unit, PageUnit):
            return fetch_page(plan, unit)
        return download_file(plan, unit)
    except Exception as exc:  # odd data or a bug fails this unit, never the whole run
        return failed(plan, unit, f"unexpected {type(exc).__name__}: {exc}")


def _render(source: str, context: Mapping[str, Any]) -> str:
    return compile_template(source).render(context)


def _render_pairs(pairs: Pairs, context: Mapping[str, Any]) -> dict[str, str]:
    return {name: _render(value, context) for name, value in pairs}


def _render_headers(pairs: Pairs, context: Mapping[str, Any]) -> dict[str, str]:
    """Headers rendered from their templates; `HeaderError` names the one that fails."""
    headers: dict[str, str] = {}
    for name, source in pairs:
        try:
            headers[name] = _render(source, context)
        except RenderError as exc:
            raise HeaderError(name, str(exc)) from exc
    return headers


def _refuse_injection(headers: Mapping[str, str]) -> None:
    """Raise `HeaderError` for a header name that is not a token, or a value with a CR, LF or
    other control character (rendered from data, it would smuggle in headers of its own)."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise HeaderError(repr(name), "the name is not a valid header name")
        bad = _CONTROL.search(value)
        if bad is not None:  # the value itself is not shown: it may carry a secret
            problem = f"the value has a control character ({bad[0]!r}): header injection refused"
            raise HeaderError(name, problem)


def private_headers(plan: Plan, templates: Pairs, headers: Mapping[str, str]) -> tuple[str, ...]:
    """The headers a redirect to another origin must drop, lowercased.

    Authorization, Proxy-Authorization and Cookie; any header whose template uses a var that
    took a value from ``${ENV}``; and any header whose value holds such a value.
    """
    secret_vars = _secret_vars(plan.vars, plan.secrets)
    private = {name.lower() for name in headers if name.lower() in PRIVATE_HEADERS}
    private.update(
        name.lower()
        for name, source in templates
        if secret_vars and compile_template(source).names() & secret_vars
    )
    private.update(
        name.lower()
        for name, value in headers.items()
        if any(secret in value for secret in plan.secrets)
    )
    return tuple(sorted(private))


@cache
def _secret_vars(
    variables: tuple[tuple[str, Any], ...], secrets: tuple[str, ...]
) -> frozenset[str]:
    """The vars whose value holds a value from the environment."""
    return frozenset(
        name
        for name, value in variables
        if isinstance(value, str) and any(secret in value for secret in secrets)
    )


def fetch_page(plan: Plan, unit: PageUnit) -> PageResult:
    """Fetch a page, bind its fields, fan out over ``each``, and list the files it asks for."""
    stage = plan.stage(unit.stage)
    context = unit.context
    try:
        url, params, body = _page_request(stage, unit)
        headers = _page_headers(plan, stage, context)
    except HeaderError as exc:
        return PageResult(unit, stage.url, str(exc))
    except RenderError as exc:
        return PageResult(unit, stage.url, f"cannot build the request: {exc}")
    uid = unit_id(unit)
    emit(plan.events, Event("start", worker_name(), uid, f"{stage.method} {url}"))
    try:
        document = fetch_document(
            plan.http,
            url,
            method=stage.method,
            params=params,
            headers=headers,
            fmt=stage.format,
            on_retry=partial(_report_retry, plan, uid),
            body=body,
            private=private_headers(plan, plan.http_headers + stage.headers, headers),
        )
    except FetchError as exc:
        return PageResult(unit, url, str(exc), attempts=exc.attempts)
    before = unit.page.items if unit.page is not None else 0
    try:
        contexts, found, passed = fan_out(plan, stage, context, document.data, before)
    except TooManyItemsError as exc:
        return PageResult(unit, url, str(exc), attempts=document.attempts, bytes=document.bytes)
    children = _children(unit, stage, contexts)
    warning = None
    if stage.paginate is not None:
        counts = (found, len(contexts))  # an empty page ends it; one `where` emptied does not
        following, warning = next_page(
            stage.paginate, unit.page, unit.key, document, counts, plan.limit, (url, params)
        )
        if following is not None:
            children += (PageUnit(following.key(), unit.stage, context, following),)
    return PageResult(
        unit,
        url,
        None,
        children=children,
        files=_file_requests(plan, unit, stage, contexts),
        items=len(contexts) if stage.each else 0,
        attempts=document.attempts,
        bytes=document.bytes,
        warning=warning,
        records=tuple(_record(stage, c) for c in contexts) if stage.emit else (),
        left_out=found - passed if stage.where else 0,
    )


def _record(stage: StagePlan, context: Mapping[str, Any]) -> dict[str, Any]:
    """One `emit` row: each column's template rendered; a missing value is null."""
    assert stage.emit is not None
    row: dict[str, Any] = {}
    for column, source in stage.emit[1]:
        try:
            row[column] = _render_json(source, context)
        except RenderError:
            row[column] = None
    return row


def page_signature(plan: Plan, unit: PageUnit) -> tuple[str, str] | None:
    """A digest of the request ``unit`` makes (stage, method, URL, query, body) and its URL, or
    None if it cannot be built (its worker will say why)."""
    stage = plan.stage(unit.stage)
    try:
        url, params, body = _page_request(stage, unit)
    except RenderError:
        return None
    text = json.dumps([stage.name, stage.method, url, sorted(params.items())])
    digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False)
    if body is not None:
        digest.update(body[1])
    return digest.hexdigest(), with_query(url, params)


def _page_request(
    stage: StagePlan, unit: PageUnit
) -> tuple[str, dict[str, str], tuple[str, bytes] | None]:
    """The URL, query parameters and body of the page ``unit`` asks for (this page of it)."""
    url = _render(stage.url, unit.context)
    params = _render_pairs(stage.params, unit.context)
    url, params = request_for(stage.paginate, unit.page, url, params)
    return url, params, _page_body(stage, unit.context)


def _page_body(stage: StagePlan, context: Mapping[str, Any]) -> tuple[str, bytes] | None:
    """A page request's body, if the stage has one: (content type, bytes)."""
    if stage.json_body is not None:
        data = json.dumps(_render_json(stage.json_body, context), ensure_ascii=False)
        return "application/json", data.encode("utf-8")
    if stage.form:
        fields = _render_pairs(stage.form, context)
        return "application/x-www-form-urlencoded", urllib.parse.urlencode(fields).encode()
    return None


def _render_json(value: Any, context: Mapping[str, Any]) -> Any:
    """A JSON body with its strings rendered; a string that is one plain field keeps its type."""
    if isinstance(value, str):
        template = compile_template(value)
        only = template.parts[0] if len(template.parts) == 1 else None
        if isinstance(only, TemplateField) and not only.filters:
            return lookup(context, only)  # {"id": "{book.id}"} sends 7, not "7"
        return template.render(context)
    if isinstance(value, dict):
        return {key: _render_json(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_json(item, context) for item in value]
    return value


def _page_headers(plan: Plan, stage: StagePlan, context: Mapping[str, Any]) -> dict[str, str]:
    """A page request's headers: http's and the stage's, cookies, credentials.

    Raises:
        HeaderError: One of them cannot be rendered, or would inject a header.
    """
    headers = _render_headers(plan.http_headers + stage.headers, context)
    try:
        cookies = _render_pairs(plan.http_cookies + stage.cookies, context)
    except RenderError as exc:
        raise HeaderError("Cookie", str(exc)) from exc
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    auth = stage.auth
    try:
        if auth is not None and auth.bearer is not None:
            headers["Authorization"] = f"Bearer {_render(auth.bearer, context)}"
        elif auth is not None and auth.user is not None and auth.password is not None:
            pair = f"{_render(auth.user, context)}:{_render(auth.password, context)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    except RenderError as exc:
        raise HeaderError("Authorization", str(exc)) from exc
    _refuse_injection(headers)
    return headers


def item_contexts(
    plan: Plan, stage: StagePlan, context: Mapping[str, Any], data: Any, before: int = 0
) -> list[dict[str, Any]]:
    """One context per fan-out item (or one for the whole response when there is no ``each``).

    ``before``: items the earlier pages of a paginated request kept, which ``--limit`` counts.
    """
    return fan_out(plan, stage, context, data, before)[0]


def fan_out(
    plan: Plan, stage: StagePlan, context: Mapping[str, Any], data: Any, before: int = 0
) -> tuple[list[dict[str, Any]], int, int]:
    """The kept items' contexts (``where``, then ``--limit``), how many items the page had, and
    how many of them ``where`` kept."""
    base = dict(context)
    base.update((name, find_first(path, data)) for name, path in stage.fields)
    if stage.each is None or stage.as_ is None:
        kept = [base] if passes(stage, base) else []
        return kept, 1, len(kept)
    name = stage.as_
    items = find_all(stage.each, data)
    if len(items) > plan.max_items:
        raise TooManyItemsError(
            f"the page has {len(items):,} items at {stage.each}, more than run.max_items"
            f" ({plan.max_items:,}) — page the list (paginate), or raise run.max_items"
        )
    found = [{**base, name: item} for item in items]
    contexts = [c for c in found if passes(stage, c)]
    passed = len(contexts)
    if plan.limit is not None:
        contexts = contexts[: max(plan.limit - before, 0)]
    return contexts, len(found), passed


class TooManyItemsError(Exception):
    """A page whose fan-out finds more than ``run.max_items`` items: it fails, whole."""


def passes(stage: StagePlan, context: Mapping[str, Any]) -> bool:
    """Whether an item meets every ``where`` rule of its stage (a missing value is empty)."""
    for source, test, operand in stage.where:
        try:
            text = compile_template(source).render(context)
        except RenderError:
            text = ""
        if not _holds(test, operand, text):
            return False
    return True


def _holds(test: str, operand: Any, text: str) -> bool:
    if test == "equals":
        return bool(text == operand)
    if test == "not":
        return bool(text != operand)
    if test == "in":
        return text in operand
    if test == "not_in":
        return text not in operand
    if test == "matches":
        return re.fullmatch(operand, text) is not None
    return (text == "") is operand  # empty: true or false


def _children(
    unit: PageUnit, stage: StagePlan, contexts: list[dict[str, Any]]
) -> tuple[PageUnit, ...]:
    return tuple(
        PageUnit((*unit.key, item, child), name, context)
        for item, context in enumerate(contexts)
        for child, name in enumerate(stage.children)
    )


def _file_requests(
    plan: Plan, unit: PageUnit, stage: StagePlan, contexts: list[dict[str, Any]]
) -> tuple[FileRequest, ...]:
    return tuple(
        file_request(plan, stage, rule, context, (*unit.key, item, rule.index))
        for item, context in enumerate(contexts)
        for rule in stage.downloads
    )


def file_request(
    plan: Plan, stage: StagePlan, rule: DownloadRule, context: Mapping[str, Any], key: Key
) -> FileRequest:
    """Render one download rule for one item: its URL, its safe relative path, its headers."""
    try:
        url = _render(rule.url, context).strip()
    except RenderError as exc:
        return FileRequest(key, stage.name, "", "", (), skip=f"no URL ({exc})")
    if not url:
        return FileRequest(key, stage.name, "", "", (), skip="no URL (empty)")
    escape = partial(escape_value, replace=plan.output.replace)
    template = compile_template(rule.save_as)
    stem = template.response_ext()
    try:
        rendered = (stem or template).render(context, escape=escape)
        path = relative_path(rendered, plan.output.replace)
    except (RenderError, UnsafePathError) as exc:
        return FileRequest(key, stage.name, url, "", (), problem=f"cannot name the file: {exc}")
    try:
        headers = _render_headers(plan.http_headers + rule.headers, context)
        _refuse_injection(headers)
    except HeaderError as exc:
        return FileRequest(key, stage.name, url, "", (), problem=str(exc))
    if stem is not None:
        path = leave_room_for_ext(path)
    return FileRequest(
        key, stage.name, url, str(path), tuple(headers.items()), ext_to_come=stem is not None
    )


def download_file(plan: Plan, unit: DownloadUnit) -> FileResult:
    """Save one file, or find it already there; failures are in the result."""
    try:
        present = _already_there(plan, unit)
        if present is not None:
            return present
        target = resolve_inside(plan.output.dir, unit.path)
        uid = unit_id(unit)
        emit(plan.events, Event("start", worker_name(), uid, f"downloading {unit.planned}"))
        counter = ByteCounter(plan.events, uid)

        def on_bytes(amount: int) -> None:
            _stop_if_asked(amount)
            counter.add(amount)

        # No last report of the bytes: the result carries them, one datagram less per file.
        saved = download_to(
            plan.http,
            unit.url,
            target,
            headers=dict(unit.headers),
            on_bytes=on_bytes,
            on_retry=partial(_report_retry, plan, uid),
            final_for_type=partial(_typed_target, plan, unit) if unit.ext_to_come else None,
            private=_download_private(plan, unit),
            temporary=temporary_path(plan.output.dir),
        )
    except FetchError as exc:
        return FileResult(unit, "failed", error=str(exc), attempts=exc.attempts)
    except StoppedError as exc:
        return FileResult(unit, "failed", error=str(exc))
    except UnsafePathError as exc:
        return FileResult(unit, "failed", error=f"cannot write {unit.planned}: {exc}")
    except OSError as exc:
        why = f"cannot write {unit.planned}: {describe(exc)}"
        return FileResult(unit, "failed", error=why, folder_full=stops_the_run(exc))
    return FileResult(
        unit,
        "saved",
        bytes=saved.bytes,
        sha256=saved.sha256,
        attempts=saved.attempts,
        saved_as=_sibling(unit.path, saved.path.name) if unit.ext_to_come else None,
    )


def _download_private(plan: Plan, unit: DownloadUnit) -> tuple[str, ...]:
    """A download's private headers; a header any of its stage's downloads builds from a
    secret counts for all of them (the unit does not say which rule it came from)."""
    rules = plan.stage(unit.stage).downloads
    templates = plan.http_headers + tuple(pair for rule in rules for pair in rule.headers)
    return private_headers(plan, templates, dict(unit.headers))


def _already_there(plan: Plan, unit: DownloadUnit) -> FileResult | None:
    """The result for a file an earlier run saved whole (or that is simply there), else None.

    A name settled by ``{ext}`` is known only from the resume state: without it, the file is
    fetched again.
    """
    where = unit.found if unit.ext_to_come else unit.path
    if unit.overwrite or where is None:
        return None
    target = resolve_inside(plan.output.dir, where)
    if not target.is_file():
        return None
    present = _verified(target, unit.expect)
    if present is None:
        return None
    return present_result(unit, present, where if unit.ext_to_come else None)


def _typed_target(plan: Plan, unit: DownloadUnit, content_type: str | None) -> Path:
    """Where a ``{ext}`` file goes once its response's Content-Type is known."""
    return resolve_inside(plan.output.dir, unit.path + extension_for(content_type, unit.url))


def _sibling(path: str, name: str) -> str:
    head, _, _ = path.rpartition("/")
    return f"{head}/{name}" if head else name


def _report_retry(plan: Plan, uid: UnitId, reason: str) -> None:
    emit(plan.events, Event("retry", worker_name(), uid, reason))


def _stop_if_asked(_: int) -> None:
    if STOP.is_set() or (STOPPED_RUNS and getattr(RUN, "name", None) in STOPPED_RUNS):
        raise StoppedError("stopped: the run was interrupted")


def _verified(target: Path, expect: tuple[int, str] | None) -> tuple[int, str] | None:
    """Size and SHA-256 of a file already there, or None if it is not the one expected."""
    if expect is not None and target.stat().st_size != expect[0]:
        return None  # damaged: cut short or grown, fetch it again
    size, digest = _size_and_sha256(target)
    if expect is not None and digest != expect[1]:
        return None
    return size, digest


def present_result(
    unit: DownloadUnit, found: tuple[int, str], saved_as: str | None = None
) -> FileResult:
    """A file found complete on disk."""
    return FileResult(unit, "present", bytes=found[0], sha256=found[1], saved_as=saved_as)


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 16):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
