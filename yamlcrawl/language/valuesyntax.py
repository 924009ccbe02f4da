"""The two value syntaxes, told apart: stage `fields` take jsonpaths, templates take ``{names}``.

A stage field picks a value out of its stage's response (``$.hero.name``); an `emit` column or a
download's URL is a template over the names already bound (``{skin.name}``). Each is a common
slip for the other, and each is valid text in the other's place: ``$.id`` as an emit column is a
template without fields (the literal text ``$.id`` on every row), ``{item.id}`` as a field is a
jsonpath that does not parse. The loader refuses both and writes out the form that was meant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from yamlcrawl.language.jsonpaths import JsonPathError, compile_jsonpath
from yamlcrawl.language.template import TemplateError, compile_template

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# One step of a plain jsonpath: .key, [0], ['key'] or ["key"]; what a template path can say.
_STEP = re.compile(
    r"""\.([^.\[\]{}|:\s'"*]+)|\[(\d+)\]|\['([^'.{}|:\s]+)'\]|\["([^".{}|:\s]+)"\]"""
)


def is_jsonpath(value: str) -> bool:
    """Whether a template's text is, whole, a jsonpath (``$.id``, ``$.items[0].name``)."""
    if not value.startswith(("$.", "$[")) or "{" in value:
        return False
    try:
        compile_jsonpath(value)
    except JsonPathError:
        return False
    return True


def is_template(value: str) -> bool:
    """Whether a jsonpath's text is a template with fields (``{item.id}``), not a jsonpath."""
    if value.lstrip().startswith("$"):
        return False
    try:
        return bool(compile_template(value).fields)
    except TemplateError:
        return False


def template_path(jsonpath: str) -> str | None:
    """A plain jsonpath as a template's dotted path (``$.a[0]['b']`` -> ``a.0.b``), or None if
    it selects more than one value (``[*]``, ``..``, a filter)."""
    steps: list[str] = []
    rest = jsonpath.strip()[1:]
    while rest:
        match = _STEP.match(rest)
        if match is None:
            return None
        steps.append(next(group for group in match.groups() if group is not None))
        rest = rest[match.end() :]
    return ".".join(steps) or None


def template_for(jsonpath: str, column: str, as_: str | None, fields: Mapping[str, str]) -> str:
    """What to write for a jsonpath given where a template was expected, in a stage that binds
    ``as_`` and ``fields``: the field bound to that path, else the item's key, else a field to
    bind."""
    for name, expression in fields.items():
        if expression.strip() == jsonpath.strip():
            return f"'{{{name}}}'"
    dotted = template_path(jsonpath)
    if as_ is not None:
        return f"'{{{as_}.{dotted or 'KEY'}}}' (a key of the item)"
    name = column if _IDENTIFIER.match(column) and column not in fields else "NAME"
    return f"'{{{name}}}', with '{name}: {jsonpath}' in the stage's fields"


def jsonpath_for(template: str, bound: Mapping[str, str]) -> str:
    """What to write for a template given where a jsonpath was expected: the response's key, or,
    if it names a bound value, that value used as it is where it is needed."""
    field = compile_template(template).fields[0]
    if field.name in bound:
        return (
            f"a jsonpath into this stage's response such as '$.{field.path[-1]}';"
            f" '{field.name}' is bound already, write '{{{field.source}}}' where it is used"
        )
    return f"a jsonpath into this stage's response: '$.{'.'.join(field.path)}'"
