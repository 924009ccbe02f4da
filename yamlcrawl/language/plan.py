"""Validated spec -> a frozen, picklable plan.

The plan is plain data (strings, numbers, tuples): every process of every mode gets the same plan
and compiles the templates and jsonpaths it needs itself, once, on first use.

Each plan class takes the fields of its spec model by name (:func:`from_spec`): a new spec field
reaches the plan by a field of the same name, and only what the plan adds is written out here
(names, children, the order of stages, defaults that depend on others, `where` compiled).
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from yamlcrawl.language.pagination import STYLES
from yamlcrawl.language.rulenames import distinct, rule_name
from yamlcrawl.language.where import EQUALS, Scalar
from yamlcrawl.storage.cookiefile import read_cookies_file
from yamlcrawl.storage.objectstore import split_output
from yamlcrawl.types import Cookies, HttpSettings, OnConflict, Pairs, Replace

if TYPE_CHECKING:  # workers unpickle plans without loading pydantic
    from yamlcrawl.language.spec import (
        CrawlSpec,
        PaginateSpec,
        RuleSpec,
        StageSpec,
    )

T = TypeVar("T")


def taken_from(path: str, *, as_is: bool = False) -> dict[str, Any]:
    """A plan field's metadata: take the spec field at ``path`` (dotted: ``basic.user``) rather
    than the one of its own name; ``as_is``: keep the value as the spec has it (JSON data)."""
    return {"spec": path, "as_is": as_is}


@dataclass(frozen=True)
class DownloadRule:
    """One file per item of a stage: where from and where to."""

    index: int
    url: str
    save_as: str
    headers: Pairs
    required: bool = False  # an item whose url or save_as names a missing key fails the run
    archive_key: str | None = None  # what tells the file apart in output.archive (else its URL)
    name: str = ""  # what its bar and the plan call it (language/rulenames.py)


@dataclass(frozen=True)
class AuthPlan:
    """Credentials for page requests: a bearer token, or a basic or Digest user and password
    (templates)."""

    bearer: str | None = None
    user: str | None = field(default=None, metadata=taken_from("basic.user"))
    password: str | None = field(default=None, metadata=taken_from("basic.password"))
    digest_user: str | None = field(default=None, metadata=taken_from("digest.user"))
    digest_password: str | None = field(default=None, metadata=taken_from("digest.password"))


@dataclass(frozen=True)
class PagePlan:
    """How a stage's next page is asked for, and when the pagination ends (spec.PaginateSpec)."""

    by: str
    param: str | None
    start: int
    size: int | None
    size_param: str | None
    # `from`: a jsonpath to the cursor or the next URL
    source: str | None = field(metadata=taken_from("from_"))
    has_more: str | None
    total: str | None
    max_pages: int


@dataclass(frozen=True)
class EmitOptions:
    """How a stage's `emit` file is kept (spec.EmitSpec, beside `to` and `fields`)."""

    mode: Literal["replace", "append"] = "replace"
    key: str | None = None  # a template over the emit's columns (mode: append)
    meta: bool = False  # add _run_id, _fetched_at, _source_url


@dataclass(frozen=True)
class IncrementalPlan:
    """Only items newer than the stored cursor (spec.IncrementalSpec; work/incremental.py)."""

    cursor: str  # a jsonpath into each item
    stop: str = "never"  # seen: a pagination ends at a page with no newer item


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
    # Plain JSON data; strings are templates.
    json_body: Any = field(default=None, compare=False, metadata=taken_from("json_", as_is=True))
    form: Pairs = ()
    where: tuple[tuple[str, str, Any], ...] = ()  # (template, test, operand): all must hold
    emit: tuple[str, Pairs] | None = None  # (file in the output folder, (column, template)...)
    required: tuple[str, ...] = ()  # the fields a page must match (`required: true`)
    key: str | None = None  # the name each item's key (member name or index) is bound to
    emit_options: EmitOptions = EmitOptions()  # with `emit`: replace or append, key, meta
    incremental: IncrementalPlan | None = None  # a cursor: only items newer than the last run's


@dataclass(frozen=True)
class OutputPlan:
    """Where files go and how names are settled."""

    dir: str
    on_conflict: OnConflict
    manifest: str | None
    replace: Replace
    archive: str | None = None  # the SQLite file shared by crawls (storage/archive.py)
    page_cache: float = 256  # MB of compressed page bodies kept for conditional requests
    store: str | None = None  # an object store's URL: files go there, `dir` keeps the run's own


@dataclass(frozen=True)
class Plan:
    """Everything a run needs, as plain picklable data."""

    name: str
    source: str
    vars: tuple[tuple[str, Any], ...]
    stages: tuple[StagePlan, ...]
    http: HttpSettings
    http_headers: Pairs = field(metadata=taken_from("http.headers"))
    output: OutputPlan
    mode: str
    workers: int
    limit: int | None
    threads: int = 1
    start_method: str | None = None
    scheduler: str | None = None  # dask mode: the scheduler's address (else a local cluster)
    max_items: int = 100_000  # a page whose `each` finds more fails (memory stays bounded)
    http_cookies: Pairs = field(default=(), metadata=taken_from("http.cookies"))
    secrets: tuple[str, ...] = ()  # values from ${ENV}: replaced by *** in everything shown
    # http.cookies_file's cookies, which the start pages send (and pass on: http/cookies.py)
    start_cookies: Cookies = field(default=(), repr=False)

    @cached_property
    def _by_name(self) -> dict[str, StagePlan]:
        # Made on first use in each copy: `replace` makes a plan with its own.
        return {stage.name: stage for stage in self.stages}

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
    stages = _rules_told_apart(stages)
    folder, store = split_output(crawl.output.dir)
    output = from_spec(
        OutputPlan, crawl.output, manifest=crawl.output.manifest or None, dir=folder, store=store
    )
    return from_spec(
        Plan,
        crawl,
        crawl.run,
        source=source,
        stages=stages,
        http=from_spec(HttpSettings, crawl.http),
        output=output,
        secrets=secrets,
        start_cookies=read_cookies_file(crawl.http.cookies_file) if crawl.http.cookies_file else (),
    )


def _rules_told_apart(stages: tuple[StagePlan, ...]) -> tuple[StagePlan, ...]:
    """Download rules that would show the same name get their place beside it."""
    names = distinct(
        (stage.name, rule.index, rule.name) for stage in stages for rule in stage.downloads
    )
    return tuple(
        replace(
            stage,
            downloads=tuple(
                replace(rule, name=names[(stage.name, rule.index)]) for rule in stage.downloads
            ),
        )
        if any(names[(stage.name, rule.index)] != rule.name for rule in stage.downloads)
        else stage
        for stage in stages
    )


def from_spec(plan: type[T], *specs: Any, **given: Any) -> T:
    """A plan dataclass from spec models: ``given`` fields, and every other one from the first
    spec model that has it (its own name, or the path :func:`taken_from` gives).

    Mappings become tuples of pairs and lists tuples (unless the field is ``as_is``); a field no
    spec has keeps its default. A spec model inside is never copied as it is: the plan says what
    it becomes (one more call of this, given).
    """
    values = dict(given)
    for item in fields(plan):  # type: ignore[arg-type]  # T is a dataclass
        if item.name in values or not item.init:
            continue
        path = item.metadata.get("spec", item.name).split(".")
        for spec in specs:
            if path[0] in type(spec).model_fields:
                value = _at(spec, path)
                values[item.name] = value if item.metadata.get("as_is") else _plain(value)
                break
    return plan(**values)


def _at(spec: Any, path: list[str]) -> Any:
    """The value at a dotted path of a spec model; None if a model on the way is missing."""
    value = spec
    for part in path:
        if value is None:
            return None
        value = getattr(value, part)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(value.items())
    if isinstance(value, list):
        return tuple(value)
    if hasattr(type(value), "model_fields"):
        raise TypeError(f"a spec model ({type(value).__name__}) needs its own plan class")
    return value


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
    auth = stage.auth or crawl.http.auth
    return from_spec(
        StagePlan,
        stage,
        name=name,
        downloads=tuple(
            from_spec(DownloadRule, d, index=i, name=rule_name(name, i, d.save_as, d.name))
            for i, d in enumerate(stage.downloads)
        ),
        children=children,
        paginate=_page_plan(stage.paginate),
        incremental=(
            None if stage.incremental is None else from_spec(IncrementalPlan, stage.incremental)
        ),
        auth=None if auth is None else from_spec(AuthPlan, auth),
        where=tuple(_where_rule(template, rule) for template, rule in stage.where.items()),
        emit=None if stage.emit is None else (stage.emit.to, tuple(stage.emit.fields.items())),
        emit_options=EmitOptions() if stage.emit is None else from_spec(EmitOptions, stage.emit),
        fields=tuple(stage.field_paths().items()),
        required=tuple(
            name for name, value in stage.fields.items() if getattr(value, "required", False)
        ),
    )


def _where_rule(template: str, rule: Scalar | RuleSpec) -> tuple[str, str, Any]:
    """One `where` entry as (template, operator's key, operand as the operator compiles it)."""
    from yamlcrawl.language.spec import RuleSpec  # here: workers load plans without pydantic

    if not isinstance(rule, RuleSpec):
        return (template, EQUALS.key, EQUALS.compile(rule))
    operator, operand = rule.tests()[0]  # exactly one: checked when the file was loaded
    return (template, operator.key, operator.compile(operand))


def _page_plan(spec: PaginateSpec | None) -> PagePlan | None:
    if spec is None:
        return None
    start = spec.start if spec.start is not None else STYLES[spec.by].start
    return from_spec(PagePlan, spec, start=start)
