"""jsonpath extraction on real LoL documents: fields, fan-out, filters, --limit."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from typing import Any

import pytest

from tests.support import SAMPLES
from yamlcrawl.language.jsonpaths import JsonPathError, compile_jsonpath, find_all, find_first
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import Plan, StagePlan, build_plan
from yamlcrawl.language.spec import CrawlSpec
from yamlcrawl.types import PageUnit
from yamlcrawl.work.pages import file_request, item_contexts

HERO = SAMPLES / "lol/site/images/lol/act/img/js/hero"


def document(hero: int) -> Any:
    return json.loads((HERO / f"{hero}.js").read_text("utf-8"))


def test_extended_filters_select_normal_skins_only() -> None:
    names = [skin["name"] for skin in find_all('$.skins[?(@.chromas == "0")]', document(103))]
    assert names == [
        "九尾妖狐",
        "偶像歌手 阿狸",
        "K/DA 阿狸",
        "至臻 K/DA 阿狸",
        "K/DA ALL OUT 阿狸",
    ]


def test_recursive_descent_and_first_match() -> None:
    assert find_first("$.hero.name", document(17)) == "迅捷斥候"
    assert find_first("$..heroId", document(17)) == "17"
    assert find_first("$.hero.nothing", document(17)) is None


def test_a_broken_jsonpath_raises_with_the_parser_message() -> None:
    with pytest.raises(JsonPathError, match="Parse error"):
        compile_jsonpath("$.skins[?(@.chromas ==")


def lol_plan(limit: int | None = None) -> tuple[Plan, StagePlan]:
    spec = CrawlSpec.model_validate(
        {
            "vars": {"img": "http://mirror"},
            "stages": {
                "skins": {
                    "url": "{img}/hero/1.js",
                    "fields": {"hero_name": "$.hero.name", "missing": "$.nope"},
                    "each": "$.skins[*]",
                    "as": "skin",
                    "downloads": [
                        {"url": "{skin.mainImg}", "save_as": "{hero_name}/{skin.name}.jpg"}
                    ],
                }
            },
        }
    )
    plan = build_plan(spec).with_overrides(limit=limit)
    return plan, plan.stage("skins")


def test_item_contexts_bind_fields_and_one_item_each() -> None:
    plan, stage = lol_plan()
    contexts = item_contexts(plan, stage, {"img": "http://mirror"}, document(103))
    assert len(contexts) == 8
    assert {c["hero_name"] for c in contexts} == {"九尾妖狐"}
    assert all(c["missing"] is None for c in contexts)
    assert [c["skin"]["name"] for c in contexts][3] == "K/DA 阿狸"


def test_limit_keeps_the_first_items() -> None:
    plan, stage = lol_plan(limit=2)
    contexts = item_contexts(plan, stage, {}, document(103))
    assert [c["skin"]["name"] for c in contexts] == ["九尾妖狐", "偶像歌手 阿狸"]


def test_file_requests_skip_empty_urls_and_make_names_safe() -> None:
    plan, stage = lol_plan()
    contexts = item_contexts(plan, stage, {}, document(103))
    requests = [
        file_request(plan, stage, stage.downloads[0], c, (0, i)) for i, c in enumerate(contexts)
    ]
    assert requests[3].path == "九尾妖狐/K／DA 阿狸.jpg"
    assert requests[2].skip == "no URL (empty)"  # a chroma
    assert requests[2].path == ""


def test_a_null_field_in_save_as_is_a_problem_not_a_crash() -> None:
    plan, stage = lol_plan()
    rule = replace(stage.downloads[0], save_as="{missing}/{skin.name}.jpg")
    request = file_request(
        plan, stage, rule, {"missing": None, "skin": {"name": "a", "mainImg": "u"}}, (0,)
    )
    assert (
        request.problem == "cannot name the file: {missing}: the value is null or matched nothing"
    )


def test_units_are_plain_picklable_data() -> None:
    import pickle

    plan, _ = lol_plan()
    unit = PageUnit((0, 1), "skins", {"img": "http://mirror", "hero": {"heroId": "1"}})
    assert pickle.loads(pickle.dumps(unit)) == unit
    assert pickle.loads(pickle.dumps(plan)).stage("skins") == plan.stage("skins")


WHERE_ITEMS = [
    {"name": "K/DA 阿狸", "chromas": "0", "mainImg": "a.jpg", "tier": 3},
    {"name": "K/DA 阿狸 (炫彩)", "chromas": "1", "mainImg": "", "tier": 1},
    {"name": "源计划", "chromas": "0", "tier": 2},
]


@pytest.mark.parametrize(
    ("where", "kept"),
    [
        ("{'{skin.chromas}': '0'}", ["K/DA 阿狸", "源计划"]),
        ("{'{skin.chromas}': {not: '0'}}", ["K/DA 阿狸 (炫彩)"]),
        ("{'{skin.tier}': {in: [1, 2]}}", ["K/DA 阿狸 (炫彩)", "源计划"]),  # numbers as text
        ("{'{skin.tier}': {not_in: [3]}}", ["K/DA 阿狸 (炫彩)", "源计划"]),
        ("{'{skin.name}': {matches: 'K/DA.*'}}", ["K/DA 阿狸", "K/DA 阿狸 (炫彩)"]),
        ("{'{skin.mainImg}': {empty: false}}", ["K/DA 阿狸"]),  # '' and missing are empty
        ("{'{skin.mainImg}': {empty: true}, '{skin.tier}': 1}", ["K/DA 阿狸 (炫彩)"]),  # all hold
    ],
)
def test_where_keeps_the_items_that_meet_every_rule(where: str, kept: list[str]) -> None:
    text = f"""
stages:
  skins:
    url: http://h/skins
    each: $.skins[*]
    as: skin
    where: {where}
"""
    plan = build_plan(load_text(text, "crawler.yaml", environ={}).spec)
    contexts = item_contexts(plan, plan.stage("skins"), {}, {"skins": WHERE_ITEMS})
    assert [c["skin"]["name"] for c in contexts] == kept


def test_limit_counts_what_where_kept() -> None:
    text = "stages:\n  s:\n    url: x\n    each: $.s[*]\n    as: skin\n"
    text += "    where: {'{skin.chromas}': '0'}\n"
    plan = build_plan(load_text(text, "crawler.yaml", environ={}).spec).with_overrides(limit=1)
    contexts = item_contexts(plan, plan.stage("s"), {}, {"s": WHERE_ITEMS})
    assert [c["skin"]["name"] for c in contexts] == ["K/DA 阿狸"]


def test_a_parser_warning_is_never_a_parse_error() -> None:
    # Newer jsonpath-ng warns about syntax it still parses (an unquoted word as an operand, `&`
    # in filters); under warnings-as-errors that must stay a valid path, not "does not parse".
    compile_jsonpath.cache_clear()
    data = {"items": [{"kind": "a", "n": 2, "id": 1}, {"kind": "a", "n": 0, "id": 2}]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert find_all("$.items[?(@.kind == 'a' & @.n > 1)].id", data) == [1]
        assert find_all("$.items[?(@.kind == a)].id", data) == [1, 2]
