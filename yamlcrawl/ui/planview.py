"""``yamlcrawl plan``: the stages as a tree and the topology as it will run, with no request."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from yamlcrawl.backends import describe
from yamlcrawl.language.pagination import STYLES
from yamlcrawl.language.plan import EmitOptions, Plan, StagePlan, per
from yamlcrawl.language.redact import redact
from yamlcrawl.language.where import OPERATORS, Compare
from yamlcrawl.shown import shown
from yamlcrawl.types import HttpSettings


def stage_tree(plan: Plan) -> Tree:
    """Every stage under its parent, with what it fetches, binds, keeps, pages and saves."""
    text = _Text(plan.secrets)
    root = Tree(f"[bold]{text(plan.name)}[/] ({text(plan.source)})")
    nodes: dict[str, Tree] = {}
    for stage in plan.stages:
        parent = nodes[stage.parent] if stage.parent else root
        nodes[stage.name] = parent.add(_stage_label(plan, stage, text))
    return root


class _Text:
    """Text of the crawl made fit to draw: secrets masked, controls escaped, markup escaped."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets

    def __call__(self, value: str) -> str:
        return escape(shown(redact(value, self.secrets)))


def _stage_label(plan: Plan, stage: StagePlan, text: _Text) -> str:
    head = (
        f"[bold]{text(stage.name)}[/]: {stage.method} {text(stage.url)}"
        f"{' (jsonp)' if stage.format == 'jsonp' else ''}, {per(plan, stage)}"
    )
    lines = [line for part in STAGE_PARTS for line in part(stage)]
    return "\n".join([head, *(f"  {text(line)}" for line in lines)])


def _fields(stage: StagePlan) -> list[str]:
    return [f"{name} = {path}{_required(name in stage.required)}" for name, path in stage.fields]


def _required(required: bool) -> str:
    return " (required)" if required else ""


def _each(stage: StagePlan) -> list[str]:
    if stage.each is None:
        return []
    key = f", key {stage.key}" if stage.key else ""
    return [f"each {stage.each} as {stage.as_ or ''}{key}"]


def _where(stage: StagePlan) -> list[str]:
    return [
        f"where {template} {test} {_operand(test, value)}" for template, test, value in stage.where
    ]


def _operand(test: str, operand: Any) -> str:
    """A `where` operand as JSON writes it; a comparison's number or date as it is."""
    if isinstance(OPERATORS[test], Compare):
        return str(operand)
    return json.dumps(operand, ensure_ascii=False)


def _paginate(stage: StagePlan) -> list[str]:
    page = stage.paginate
    if page is None:
        return []
    style = STYLES[page.by]
    settings = [
        f"{key}: {getattr(page, item.name)}"
        for item in fields(page)
        if (key := item.metadata.get("spec", item.name).rstrip("_")) != "by"
        and getattr(page, item.name) is not None
        and (key != "start" or key in (*style.needs, *style.may))  # a default it does not use
    ]
    return [f"paginate by {page.by}: {', '.join(settings)}"]


def _incremental(stage: StagePlan) -> list[str]:
    rule = stage.incremental
    return [] if rule is None else [f"incremental: cursor {rule.cursor}, stop {rule.stop}"]


def _emit(stage: StagePlan) -> list[str]:
    if stage.emit is None:
        return []
    to, columns = stage.emit
    kept = _emit_options(stage.emit_options)
    return [f"emit -> {to}{kept}: {', '.join(f'{name} = {value}' for name, value in columns)}"]


def _emit_options(options: EmitOptions) -> str:
    """`` (append by {id}, meta)``: how the file is kept, when not replaced plainly."""
    said = []
    if options.mode == "append":
        said.append("append" if options.key is None else f"append by {options.key}")
    if options.meta:
        said.append("meta")
    return f" ({', '.join(said)})" if said else ""


def _downloads(stage: StagePlan) -> list[str]:
    return [
        f"download [{rule.index}] {rule.name}: {rule.url} -> {rule.save_as}"
        f"{_required(rule.required)}"
        for rule in stage.downloads
    ]


# What a stage's node says under its request, a line or more per option, in this order.
STAGE_PARTS: tuple[Callable[[StagePlan], list[str]], ...] = (
    _fields,
    _each,
    _where,
    _paginate,
    _incremental,
    _emit,
    _downloads,
)


def topology_tree(lines: list[str]) -> Tree:
    """The backend's description as a tree: two spaces of indent are one level down."""
    root = Tree(f"[bold]{escape(lines[0])}[/]")
    stack: list[tuple[int, Tree]] = [(0, root)]
    for line in lines[1:]:
        depth = (len(line) - len(line.lstrip(" "))) // 2
        while len(stack) > 1 and stack[-1][0] >= depth:
            stack.pop()
        node = stack[-1][1].add(escape(line.strip()))
        stack.append((depth, node))
    return root


def show_plan(plan: Plan, console: Console) -> None:
    """Print the stage tree, then the topology of ``plan.mode``."""
    text = _Text(plan.secrets)
    console.print(stage_tree(plan))
    console.print(topology_tree([redact(line, plan.secrets) for line in describe(plan)]))
    console.print(f"output: {text(plan.output.dir)} (on_conflict: {plan.output.on_conflict})")
    if plan.output.store:
        console.print(f"files in: {text(plan.output.store)}")
    console.print(_http_line(plan.http))


def _http_line(http: HttpSettings) -> str:
    """The pace and patience of requests: what `http.rate`, `http.timeout`... came to."""
    parts = [f"timeout {http.timeout:g} s", f"retries {http.retries}"]
    parts.append("rate unlimited" if http.rate is None else f"rate {http.rate:g} per second")
    if http.per_host is not None:
        parts.append(f"per_host {http.per_host}")
    parts.append(f"deadline {http.attempt_deadline:g} s")
    return f"http: {', '.join(parts)}"
