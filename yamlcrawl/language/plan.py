"""Validated spec -> a frozen, picklable plan.

The plan is plain data (strings, numbers, tuples): every process of every mode gets the same plan
and compiles the templates and jsonpaths it needs itself, once, on first use.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from yamlcrawl.language.pagination import STYLES
from yamlcrawl.language.where import EQUALS, Scalar
from yamlcrawl.types import Channel, HttpSettings, Pairs, Replace

if TYPE_CHECKING:  # workers unpickle plans without loading pydantic
    from yamlcrawl.language.spec import (
        AuthSpec,
        CrawlSpec,
        PaginateSpec,
        RuleSpec,
        StageSpec,
    )

OnConflict = Literal["suffix", "overwrite", "skip"]


@dataclass(frozen=True)
class DownloadRule:
    """One file per item of a stage: where from and where to."""

    index: int
    url: str
    save_as: str
    headers: Pairs


@dataclass(frozen=True)
class AuthPlan:
    """Credentials for page requests: a bearer token, or a basic user and password (templates)."""

    bearer: str | None = None
    user: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class PagePlan:
    """How a stage's next page is asked for, and when the pagination ends (spec.PaginateSpec)."""

    by: str
    param: str | None
    start: int
    size: int | None
    size_param: str | None
    source: str | None  # `from`: a jsonpath to the cursor or the next URL
    has_more: str | None
    total: str | None
    max_pages: int


@dataclass(frozen=True)
class StagePlan:
    """One stage, with the names of its children in file order."""

    name: str
    parent: str | None
    url: str
    method: str
    params: Pairs
    headers: Pairs
    format: Literal["json", "jsonp"]
    fields: Pairs
    each: str | None
    as_: str | None
    downloads: tuple[DownloadRule, ...]
    children: tuple[str, ...]
    paginate: PagePlan | None = None
    cookies: Pairs = ()
    auth: AuthPlan | None = None  # the stage's own, or http.auth
    json_body: Any = field(default=None, compare=False)  # plain JSON data; strings are templates
    form: Pairs = ()
    where: tuple[tuple[str, str, Any], ...] = ()  # (template, test, operand): all must hold
    emit: tuple[str, Pairs] | None = None  # (file in the output folder, (column, template)...)


@dataclass(frozen=True)
class OutputPlan:
    """Where files go and how names are settled."""

    dir: str
    on_conflict: OnConflict
    manifest: str | None
    replace: Replace


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, as plain picklable data."""

    name: str
    source: str
    vars: tuple[tuple[str, Any], ...]
    stages: tuple[StagePlan, ...]
    http: HttpSettings
    http_headers: Pairs
    output: OutputPlan
    mode: str
    workers: int
    limit: int | None
    threads: int = 1
    start_method: str | None = None
    # Where workers send progress events (events.py): the main process's socket, or a Dask topic.
    events: Channel | str | None = None
    scheduler: str | None = None  # dask mode: the scheduler's address (else a local cluster)
    max_items: int = 100_000  # a page whose `each` finds more fails (memory stays bounded)
    http_cookies: Pairs = ()
    secrets: tuple[str, ...] = ()  # values from ${ENV}: replaced by *** in everything shown
    _by_name: dict[str, StagePlan] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update((stage.name, stage) for stage in self.stages)

    def stage(self, name: str) -> StagePlan:
        """The stage called ``name``."""
        return self._by_name[name]

    @property
    def start_stages(self) -> tuple[StagePlan, ...]:
        """Stages without a parent, in file order."""
        return tuple(stage for stage in self.stages if stage.parent is None)

    def with_overrides(
        self,
        *,
        mode: str | None = None,
        workers: int | None = None,
        threads: int | None = None,
        limit: int | None = None,
        output_dir: str | None = None,
        start_method: str | None = None,
        scheduler: str | None = None,
    ) -> Plan:
        """A copy with command-line overrides applied (None keeps the file's value)."""
        output = self.output if output_dir is None else replace(self.output, dir=output_dir)
        return replace(
            self,
            mode=mode or self.mode,
            workers=workers or self.workers,
            threads=threads or self.threads,
            limit=limit or self.limit,
            output=output,
            start_method=start_method or self.start_method,
            scheduler=scheduler or self.scheduler,
            _by_name={},
        )


def per(plan: Plan, stage: StagePlan) -> str:
    """How often a stage's page is fetched: ``once`` or ``once per hero of heroes``."""
    if stage.parent is None:
        return "once"
    parent = plan.stage(stage.parent)
    return f"once per {parent.as_ or 'response'} of {parent.name}"


def build_plan(
    crawl: CrawlSpec, source: str = "crawler.yaml", secrets: tuple[str, ...] = ()
) -> Plan:
    """Turn a validated spec into a plan; stages in parent-before-child order.

    ``secrets``: the values vars took from the environment, to be kept out of every output.
    """
    order = _topological(crawl)
    children: dict[str, list[str]] = {}
    for name, stage in crawl.stages.items():  # once: a scan per stage is quadratic
        if stage.parent is not None:
            children.setdefault(stage.parent, []).append(name)
    stages = tuple(
        _stage_plan(name, crawl.stages[name], crawl, tuple(children.get(name, ())))
        for name in order
    )
    http = crawl.http
    return Plan(
        name=crawl.name,
        source=source,
        vars=tuple(crawl.vars.items()),
        stages=stages,
        http=HttpSettings(
            timeout=http.timeout,
            retries=http.retries,
            backoff=http.backoff,
            user_agent=http.user_agent,
            proxies=tuple(http.proxies.items()),
            verify=http.verify,
            max_redirects=http.max_redirects,
            retry_on=tuple(http.retry_on),
            max_bytes=http.max_bytes,
            max_page_bytes=http.max_page_bytes,
            rate=http.rate,
            per_host=http.per_host,
            deadline=http.deadline,
        ),
        http_headers=tuple(http.headers.items()),
        http_cookies=tuple(http.cookies.items()),
        secrets=secrets,
        output=OutputPlan(
            dir=crawl.output.dir,
            on_conflict=crawl.output.on_conflict,
            manifest=crawl.output.manifest or None,
            replace=crawl.output.replace,
        ),
        mode=crawl.run.mode,
        workers=crawl.run.workers,
        limit=crawl.run.limit,
        threads=crawl.run.threads,
        start_method=crawl.run.start_method,
        scheduler=crawl.run.scheduler,
        max_items=crawl.run.max_items,
    )


def _topological(crawl: CrawlSpec) -> list[str]:
    """Parents before children; among equals, file order."""
    sorter = graphlib.TopologicalSorter(
        {name: {s.parent} if s.parent else set() for name, s in crawl.stages.items()}
    )
    rank = {name: i for i, name in enumerate(crawl.stages)}
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=rank.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def _stage_plan(
    name: str, stage: StageSpec, crawl: CrawlSpec, children: tuple[str, ...]
) -> StagePlan:
    return StagePlan(
        name=name,
        parent=stage.parent,
        url=stage.url,
        method=stage.method,
        params=tuple(stage.params.items()),
        headers=tuple(stage.headers.items()),
        format=stage.format,
        fields=tuple(stage.fields.items()),
        each=stage.each,
        as_=stage.as_,
        downloads=tuple(
            DownloadRule(i, d.url, d.save_as, tuple(d.headers.items()))
            for i, d in enumerate(stage.downloads)
        ),
        children=children,
        paginate=_page_plan(stage.paginate),
        cookies=tuple(stage.cookies.items()),
        auth=_auth_plan(stage.auth or crawl.http.auth),
        json_body=stage.json_,
        form=tuple(stage.form.items()),
        where=tuple(_where_rule(template, rule) for template, rule in stage.where.items()),
        emit=None if stage.emit is None else (stage.emit.to, tuple(stage.emit.fields.items())),
    )


def _where_rule(template: str, rule: Scalar | RuleSpec) -> tuple[str, str, Any]:
    """One `where` entry as (template, operator's key, operand as the operator compiles it)."""
    from yamlcrawl.language.spec import RuleSpec  # here: workers load plans without pydantic

    if not isinstance(rule, RuleSpec):
        return (template, EQUALS.key, EQUALS.compile(rule))
    operator, operand = rule.tests()[0]  # exactly one: checked when the file was loaded
    return (template, operator.key, operator.compile(operand))


def _auth_plan(spec: AuthSpec | None) -> AuthPlan | None:
    if spec is None:
        return None
    if spec.basic is not None:
        return AuthPlan(user=spec.basic.user, password=spec.basic.password)
    return AuthPlan(bearer=spec.bearer)


def _page_plan(spec: PaginateSpec | None) -> PagePlan | None:
    if spec is None:
        return None
    start = spec.start if spec.start is not None else STYLES[spec.by].start
    return PagePlan(
        by=spec.by,
        param=spec.param,
        start=start,
        size=spec.size,
        size_param=spec.size_param,
        source=spec.from_,
        has_more=spec.has_more,
        total=spec.total,
        max_pages=spec.max_pages,
    )
