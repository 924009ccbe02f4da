"""`where` operators: each rule, loaded from YAML through the plan, against the texts items give.

Every row goes the whole way an operator goes in a run: the schema reads the rule, the checks
pass it, the plan compiles it, and the runtime tests an item's text with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apiserver import Api
from tests.conftest import RunCli
from tests.support import manifest_records
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan
from yamlcrawl.language.spec import RuleSpec
from yamlcrawl.language.where import RULES
from yamlcrawl.work.pages import Uncompared, fan_out, passes


def kept(rule: str, value: object, uncompared: Uncompared | None = None) -> bool:
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
    context = {"item": {} if value is None else {"v": value}}
    return passes(plan.stage("s"), context, uncompared)


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
    # comparisons: numbers by value (exactly), whatever their JSON type
    ("{gt: 5}", 6, True),
    ("{gt: 5}", 5, False),
    ("{gt: 5}", "5.000001", True),
    ("{gt: 5}", -7, False),
    ("{gt: 2.5}", "3", True),
    ("{gt: 9007199254740992}", 9007199254740993, True),  # past float's precision
    ("{gt: 1e3}", 1001, True),  # YAML reads 1e3 as text: still a number
    ("{gt: '-1'}", "0", True),
    ("{ge: 5}", 5, True),
    ("{ge: 5}", 5.0, True),
    ("{ge: 5}", 4.99, False),
    ("{lt: 5}", 4, True),
    ("{lt: 5}", 5, False),
    ("{le: 5}", 5, True),
    ("{le: 5}", 6, False),
    # ... and dates in time: a date is its midnight; no offset is UTC
    ("{gt: 2024-05-01}", "2024-05-02", True),
    ("{gt: 2024-05-01}", "2024-05-01", False),
    ("{gt: 2024-05-01}", "2024-05-01T00:00:01Z", True),
    ("{gt: 2024-05-01}", "2024-04-30T23:59:59", False),
    ("{gt: 2024-05-01}", "2024-05-01T01:00:00+02:00", False),  # 23:00 UTC the day before
    ("{ge: '2024-05-01T12:00:00Z'}", "2024-05-01T14:00:00+02:00", True),  # the same moment
    ("{lt: 2024-05-01T12:00:00Z}", "2024-05-01T11:59:59Z", True),
    ("{le: 2024-05-01}", "2024-05-01", True),
    ("{le: 2024-05-01}", "2025-01-01", False),
]

# A value a comparison cannot order against its operand: left out, and why is said.
NOT_COMPARABLE = [
    ("{gt: 5}", "five", "{item.v} gave 'five', not a number to compare with gt 5"),
    ("{gt: 5}", None, "{item.v} gave '', not a number to compare with gt 5"),  # missing
    ("{gt: 5}", True, "{item.v} gave 'true', not a number to compare with gt 5"),
    ("{gt: 5}", "NaN", "{item.v} gave 'NaN', not a number to compare with gt 5"),
    ("{lt: 5}", "2024-05-01", "{item.v} gave '2024-05-01', not a number to compare with lt 5"),
    (
        "{ge: 2024-05-01}",
        "20240502",  # a number, not a date
        "{item.v} gave '20240502', not a date to compare with ge 2024-05-01",
    ),
    (
        "{le: 2024-05-01}",
        "May 1",
        "{item.v} gave 'May 1', not a date to compare with le 2024-05-01",
    ),
    (
        "{gt: 1}",
        "x" * 100,
        f"{{item.v}} gave '{'x' * 60}…', not a number to compare with gt 1",  # cut
    ),
]


@pytest.mark.parametrize(("rule", "value", "expected"), CASES)
def test_each_operator_against_values(rule: str, value: object, expected: bool) -> None:
    assert kept(rule, value) is expected


@pytest.mark.parametrize(("rule", "value", "why"), NOT_COMPARABLE)
def test_a_value_a_comparison_cannot_order_is_left_out(rule: str, value: object, why: str) -> None:
    uncompared = Uncompared()
    assert kept(rule, value, uncompared) is False
    assert (uncompared.count, uncompared.first) == (1, why)


def test_a_page_says_how_many_items_it_could_not_compare() -> None:
    text = "stages:\n  s:\n    url: x\n    each: $.i[*]\n    as: i\n    where: {'{i}': {lt: 3}}\n"
    plan = build_plan(load_text(text, "crawler.yaml", environ={}).spec)
    data = {"i": [1, "one", 2, None, 5]}
    contexts, found, passed, uncompared = fan_out(plan, plan.stage("s"), {}, data)
    assert ([c["i"] for c in contexts], found, passed) == ([1, 2], 5, 2)
    assert uncompared.warning() == (
        "where left out 2 items it could not compare; the first: {i} gave 'one', not a number"
        " to compare with lt 3"
    )


@pytest.mark.parametrize(
    ("year", "expected"), [(1999, False), (2000, True), (2009, True), (2010, False)]
)
def test_a_range_is_two_rules_on_templates_that_give_the_same_text(
    year: int, expected: bool
) -> None:
    text = "stages:\n  s:\n    url: x\n    each: $.i[*]\n    as: i\n"
    text += "    where: {'{i.year}': {ge: 2000}, '{i.year|strip}': {lt: 2010}}\n"
    plan = build_plan(load_text(text, "crawler.yaml", environ={}).spec)
    assert passes(plan.stage("s"), {"i": {"year": year}}) is expected


def test_the_schema_has_a_key_for_each_operator() -> None:
    keys = [field.alias or name for name, field in RuleSpec.model_fields.items()]
    assert keys == list(RULES)
    descriptions = [field.description for field in RuleSpec.model_fields.values()]
    assert descriptions == [op.description for op in RULES.values()]


BOOKS = [
    {"id": 1, "pages": 96, "published": "2019-11-02"},
    {"id": 2, "pages": 412, "published": "2021-03-15T09:30:00Z"},
    {"id": 3, "pages": "n/a", "published": "2020-01-01"},  # neither a number nor after 2020
    {"id": 4, "pages": 100.5, "published": None},  # no date to compare
    {"id": 5, "pages": 1200, "published": "2024-02-29"},
]


def comparing_crawl(tmp_path: Path) -> Path:
    """Two stages over the same books: the long ones (`gt` a number), the recent (`gt` a date)."""
    config = tmp_path / "crawl.yaml"
    config.write_text(
        """
vars: {api: "http://127.0.0.1"}
stages:
  long:
    url: "{api}/books"
    each: "$.books[*]"
    as: book
    where: {"{book.pages}": {gt: 100}}
    emit: {to: long.jsonl, fields: {id: "{book.id}"}}
  recent:
    url: "{api}/books?recent"
    each: "$.books[*]"
    as: book
    where: {"{book.published}": {gt: 2020-01-01}}
    emit: {to: recent.jsonl, fields: {id: "{book.id}"}}
""",
        "utf-8",
    )
    return config


def ids(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text("utf-8").splitlines()]


@pytest.mark.parametrize("mode", ["serial", "queue"])
def test_a_crawl_compares_numbers_and_dates(
    api: Api, run_cli: RunCli, tmp_path: Path, mode: str
) -> None:
    api.routes["/books"] = lambda q: ({"books": BOOKS}, {})
    output, report = tmp_path / "out", tmp_path / "report.json"
    args = ("--output", output, "--report", report, "--mode", mode, "--workers", "2")
    run = run_cli(comparing_crawl(tmp_path), "--set", f"api={api.base}", *args)
    assert run.code == 0, run.out + run.err
    assert ids(output / "long.jsonl") == [2, 4, 5]
    assert ids(output / "recent.jsonl") == [2, 5]
    summary = json.loads(report.read_text("utf-8"))
    assert summary["left_out"] == 2 + 3  # long: 1, 3 ('n/a'); recent: 1, 3, 4 (no date)
    assert sorted(w.split(": ", 1)[1] for w in summary["warnings"]) == [
        "where left out 1 item it could not compare; the first: {book.pages} gave 'n/a',"
        " not a number to compare with gt 100",
        "where left out 1 item it could not compare; the first: {book.published} gave '',"
        " not a date to compare with gt 2020-01-01",
    ]
    warned = [r for r in manifest_records(output) if r.get("status") == "warning"]
    assert sorted(r["stage"] for r in warned) == ["long", "recent"]
    assert "where left out 1 item it could not compare" in run.out
