"""Which page requests are made conditional, and what an earlier run kept of them goes into the
unit (the coordinator does this as it hands a page to a worker, which may be another process
or a Dask worker: the kept body travels with the unit, and only the main process reads the
store).
"""

from __future__ import annotations

from dataclasses import replace

from yamlcrawl.http.fetch import with_query
from yamlcrawl.language.plan import Plan
from yamlcrawl.language.template import RenderError
from yamlcrawl.storage.pagecache import PageCache
from yamlcrawl.types import PageUnit
from yamlcrawl.work.requests import page_request


def cache_key(plan: Plan, unit: PageUnit) -> str | None:
    """The URL (query included) a page is kept by, or None: only a GET without a body is (a
    request that sends a body may ask something else each time), and one that cannot be built
    is not (its worker will say why)."""
    stage = plan.stage(unit.stage)
    if stage.method != "GET" or stage.json_body is not None or stage.form:
        return None
    try:
        url, params, _ = page_request(stage, unit)
    except RenderError:
        return None
    return with_query(url, params)


def with_cached(plan: Plan, unit: PageUnit, cache: PageCache) -> PageUnit:
    """``unit`` with what ``cache`` holds for its request, and whether its response is kept."""
    key = cache_key(plan, unit)
    if key is None:
        return unit
    cached = cache.lookup(key)
    if cached is None and not cache.keeps:
        return unit
    return replace(unit, cached=cached, keep=cache.keeps)
