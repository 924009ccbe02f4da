"""`where` operators: each rule, loaded from YAML through the plan, against the texts items give.

Every row goes the whole way an operator goes in a run: the schema reads the rule, the checks
pass it, the plan compiles it, and the runtime tests an item's text with it.
"""

from __future__ import annotations

import pytest

from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan
from yamlcrawl.language.spec import RuleSpec
from yamlcrawl.language.where import RULES
from yamlcrawl.work.pages import passes


def kept(rule: str, value: object) -> bool:
    """Whether an item whose ``v`` is ``value`` passes ``where: {'{item.v}': RULE}``."""
    text = f"""
stages:
  s:
    url: http://h/items
    each: $.items[*]
    as: item
    where: {{'{{item.v}}': {rule}}}
"""
    plan = build_plan(load_text(text, "crawler.yaml", environ={}).spec)
    return passes(plan.stage("s"), {"item": {} if value is None else {"v": value}})


# (rule, the item's value (None: missing), kept?)
CASES = [
    ("'0'", "0", True),
    ("'0'", 0, True),  # numbers are compared as the text JSON writes
    ("0", "0", True),
    ("true", True, True),
    ("'0'", "00", False),
    ("'0'", None, False),
    ("''", None, True),  # a missing value is empty
    ("{not: 'a'}", "b", True),
    ("{not: 'a'}", "a", False),
    ("{in: [1, 'b']}", 1, True),
    ("{in: [1, 'b']}", "b", True),
    ("{in: [1, 'b']}", "c", False),
    ("{in: []}", "c", False),
    ("{not_in: [1, 'b']}", "c", True),
    ("{not_in: [1, 'b']}", "1", False),
    ("{matches: 'a.c'}", "abc", True),
    ("{matches: 'a.c'}", "abcd", False),  # the whole value
    ("{matches: 'a.c'}", "xabc", False),
    ("{empty: true}", "", True),
    ("{empty: true}", None, True),
    ("{empty: true}", "x", False),
    ("{empty: false}", "x", True),
    ("{empty: false}", None, False),
]


@pytest.mark.parametrize(("rule", "value", "expected"), CASES)
def test_each_operator_against_values(rule: str, value: object, expected: bool) -> None:
    assert kept(rule, value) is expected


def test_the_schema_has_a_key_for_each_operator() -> None:
    keys = [field.alias or name for name, field in RuleSpec.model_fields.items()]
    assert keys == list(RULES)
    descriptions = [field.description for field in RuleSpec.model_fields.values()]
    assert descriptions == [op.description for op in RULES.values()]
