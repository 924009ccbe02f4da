"""``yamlcrawl plan``: the stages as a tree and the topology as it will run, with no request."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from yamlcrawl.backends import describe
from yamlcrawl.language.plan import Plan, StagePlan, per


def stage_tree(plan: Plan) -> Tree:
    """Every stage under its parent, with what it fetches, binds and saves."""
    root = Tree(f"[bold]{escape(plan.name)}[/] ({escape(plan.source)})")
    nodes: dict[str, Tree] = {}
    for stage in plan.stages:
        parent = nodes[stage.parent] if stage.parent else root
        nodes[stage.name] = parent.add(_stage_label(plan, stage))
    return root


def _stage_label(plan: Plan, stage: StagePlan) -> str:
    lines = [
        f"[bold]{escape(stage.name)}[/]: {stage.method} {escape(stage.url)}"
        f"{' (jsonp)' if stage.format == 'jsonp' else ''}, {per(plan, stage)}"
    ]
    lines += [f"  {escape(name)} = {escape(path)}" for name, path in stage.fields]
    if stage.each is not None:
        lines.append(f"  each {escape(stage.each)} as {escape(stage.as_ or '')}")
    lines += [
        f"  download [{rule.index}] {escape(rule.url)} -> {escape(rule.save_as)}"
        for rule in stage.downloads
    ]
    return "\n".join(lines)


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
    console.print(stage_tree(plan))
    console.print(topology_tree(describe(plan)))
    console.print(f"output: {escape(plan.output.dir)} (on_conflict: {plan.output.on_conflict})")
