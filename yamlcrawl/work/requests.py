"""Building requests from templates: URLs, query, bodies and headers (never one with a line
break), and which headers carry secrets.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from collections.abc import Mapping
from functools import cache
from typing import Any

from yamlcrawl.http.fetch import with_query
from yamlcrawl.http.transport import PRIVATE_HEADERS
from yamlcrawl.language.plan import Plan, StagePlan
from yamlcrawl.language.template import Field as TemplateField
from yamlcrawl.language.template import RenderError, compile_template, lookup
from yamlcrawl.types import (
    PageUnit,
    Pairs,
)
from yamlcrawl.work.paging import request_for

# RFC 9110's token for a header name; in a value, any control character but a tab (a CR or LF
# would end the header and start another: header injection).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class HeaderError(ValueError):
    """A header that cannot be sent: its template failed, or its name or value is unsafe."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"cannot build header {name}: {problem}")


def render(source: str, context: Mapping[str, Any]) -> str:
    return compile_template(source).render(context)


def resolve(url: str, base: str) -> str:
    """``url`` resolved against the URL of the page it came from, as a browser resolves a link
    (``/x``, ``x``, ``../x``, ``//host/x``, ``?q=1``); an absolute URL, or one without a base
    (a start page), is kept as it is: exactly, as urljoin would drop the tabs and line breaks
    a hostile value has, which then could not be shown escaped."""
    if not base or not url or url.lower().startswith(("http://", "https://")):
        return url
    return urllib.parse.urljoin(base, url)


def _render_pairs(pairs: Pairs, context: Mapping[str, Any]) -> dict[str, str]:
    return {name: render(value, context) for name, value in pairs}


def render_headers(pairs: Pairs, context: Mapping[str, Any]) -> dict[str, str]:
    """Headers rendered from their templates; `HeaderError` names the one that fails."""
    headers: dict[str, str] = {}
    for name, source in pairs:
        try:
            headers[name] = render(source, context)
        except RenderError as exc:
            raise HeaderError(name, str(exc)) from exc
    return headers


def refuse_injection(headers: Mapping[str, str]) -> None:
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


def page_signature(plan: Plan, unit: PageUnit) -> tuple[str, str] | None:
    """A digest of the request ``unit`` makes (stage, method, URL, query, body) and its URL, or
    None if it cannot be built (its worker will say why)."""
    stage = plan.stage(unit.stage)
    try:
        url, params, body = page_request(stage, unit)
    except RenderError:
        return None
    text = json.dumps([stage.name, stage.method, url, sorted(params.items())])
    digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False)
    if body is not None:
        digest.update(body[1])
    return digest.hexdigest(), with_query(url, params)


def page_request(
    stage: StagePlan, unit: PageUnit
) -> tuple[str, dict[str, str], tuple[str, bytes] | None]:
    """The URL, query parameters and body of the page ``unit`` asks for (this page of it).

    A relative URL resolves against the page the unit's item came from (``unit.base``).
    """
    url = resolve(render(stage.url, unit.context), unit.base)
    params = _render_pairs(stage.params, unit.context)
    url, params = request_for(stage.paginate, unit.page, url, params)
    return url, params, _page_body(stage, unit.context)


def _page_body(stage: StagePlan, context: Mapping[str, Any]) -> tuple[str, bytes] | None:
    """A page request's body, if the stage has one: (content type, bytes)."""
    if stage.json_body is not None:
        data = json.dumps(render_json(stage.json_body, context), ensure_ascii=False)
        return "application/json", data.encode("utf-8")
    if stage.form:
        fields = _render_pairs(stage.form, context)
        return "application/x-www-form-urlencoded", urllib.parse.urlencode(fields).encode()
    return None


def render_json(value: Any, context: Mapping[str, Any]) -> Any:
    """A JSON body with its strings rendered; a string that is one plain field keeps its type."""
    if isinstance(value, str):
        template = compile_template(value)
        only = template.parts[0] if len(template.parts) == 1 else None
        if isinstance(only, TemplateField) and not only.filters and only.spec is None:
            return lookup(context, only)  # {"id": "{book.id}"} sends 7, not "7"
        return template.render(context)
    if isinstance(value, dict):
        return {key: render_json(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_json(item, context) for item in value]
    return value


def page_headers(plan: Plan, stage: StagePlan, context: Mapping[str, Any]) -> dict[str, str]:
    """A page request's headers: http's and the stage's, cookies, credentials.

    Raises:
        HeaderError: One of them cannot be rendered, or would inject a header.
    """
    headers = render_headers(plan.http_headers + stage.headers, context)
    try:
        cookies = _render_pairs(plan.http_cookies + stage.cookies, context)
    except RenderError as exc:
        raise HeaderError("Cookie", str(exc)) from exc
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    auth = stage.auth
    try:
        if auth is not None and auth.bearer is not None:
            headers["Authorization"] = f"Bearer {render(auth.bearer, context)}"
        elif auth is not None and auth.user is not None and auth.password is not None:
            pair = f"{render(auth.user, context)}:{render(auth.password, context)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    except RenderError as exc:
        raise HeaderError("Authorization", str(exc)) from exc
    refuse_injection(headers)
    return headers


def digest_credentials(stage: StagePlan, context: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (user, password) a stage's Digest authentication answers challenges with, if any.

    Raises:
        HeaderError: One of them cannot be rendered.
    """
    auth = stage.auth
    if auth is None or auth.digest_user is None or auth.digest_password is None:
        return None
    try:
        return render(auth.digest_user, context), render(auth.digest_password, context)
    except RenderError as exc:
        raise HeaderError("Authorization", str(exc)) from exc
