"""The plan's `emit` files as the storage layer keeps them: names, columns, mode, key, meta."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from yamlcrawl.language.plan import Plan, StagePlan
from yamlcrawl.language.template import RenderError, Template, compile_template
from yamlcrawl.storage.records import RecordFile


def record_files(plan: Plan) -> list[RecordFile]:
    """One per stage that emits, in stage order."""
    return [_record_file(stage) for stage in plan.stages if stage.emit is not None]


def _record_file(stage: StagePlan) -> RecordFile:
    assert stage.emit is not None
    to, columns = stage.emit
    options = stage.emit_options
    key = None if options.key is None else partial(_key, compile_template(options.key))
    return RecordFile(
        name=to,
        columns=tuple(column for column, _ in columns),
        append=options.mode == "append",
        key=key,
        meta=options.meta,
    )


def _key(template: Template, cells: Mapping[str, str]) -> str | None:
    """A row's key: the template over its cells' text (None: it cannot be rendered, or is
    empty, so the row is told apart by its whole content)."""
    try:
        return template.render(cells) or None
    except RenderError:
        return None
