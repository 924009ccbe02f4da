"""The template mini-language: fields, paths, filters, escapes, and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from yamlcrawl.language.template import RenderError, TemplateError, compile_template
from yamlcrawl.storage.safepath import escape_value

CONTEXT: dict[str, Any] = {
    "img": "https://game.gtimg.cn/images/lol/act/img",
    "hero": {"heroId": "103", "name": "九尾妖狐", "roles": ["mage", "assassin"]},
    "skin": {
        "name": "K/DA 阿狸",
        "mainImg": "https://game.gtimg.cn/images/lol/act/img/skin/big_f9461e54.jpg?v=3#top",
        "loadingImg": "",
        "chromas": "0",
        "tags": None,
    },
    "n": 7,
    "ratio": 1.5,
    "flag": True,
    "path": "covers/2020/a%20b.PNG",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{img}/js/hero/{hero.heroId}.js",
            "https://game.gtimg.cn/images/lol/act/img/js/hero/103.js",
        ),
        ("{hero.name}", "九尾妖狐"),
        ("{hero.roles.1}", "assassin"),
        ("{hero.roles}", '["mage","assassin"]'),
        ("{n}-{ratio}-{flag}", "7-1.5-true"),
        ("{{literal}} {n}", "{literal} 7"),
        ("{skin.mainImg|ext}", ".jpg"),
        ("{skin.mainImg|basename}", "big_f9461e54.jpg"),
        ("{skin.mainImg|stem}", "big_f9461e54"),
        ("{path|basename}", "a b.PNG"),
        ("{path|ext|lower}", ".png"),
        ("{ skin.name | upper }", "K/DA 阿狸"),
        ("{skin.name|quote}", "K%2FDA%20%E9%98%BF%E7%8B%B8"),
        ("{hero.heroId|ext}", ""),
        ("{hero.name|hash}", "82192462948876f2"),  # sha256 of the UTF-8 text, 16 hex digits
        ("{skin.loadingImg}", ""),
        ("no fields at all", "no fields at all"),
    ],
)
def test_renders(template: str, expected: str) -> None:
    assert compile_template(template).render(CONTEXT) == expected


def test_names_are_the_roots_of_the_fields() -> None:
    template = compile_template("{img}/{hero.heroId}/{skin.name|lower}/{img}")
    assert template.names() == {"img", "hero", "skin"}


def test_escape_keeps_slashes_in_values_from_making_folders() -> None:
    template = compile_template("{hero.name}/{skin.name}电脑版.jpg")
    assert template.render(CONTEXT, escape=escape_value) == "九尾妖狐/K／DA 阿狸电脑版.jpg"


def test_path_filter_keeps_slashes_but_escapes_each_part() -> None:
    template = compile_template("{path|path}")
    context = {"path": "a/b\\c/d.jpg"}
    assert template.render(context, escape=escape_value) == "a/b＼c/d.jpg"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{skin.nope}", "{skin.nope}: skin has no 'nope'"),
        ("{hero.roles.5}", "{hero.roles.5}: hero.roles has no '5'"),
        ("{skin.tags}", "{skin.tags}: the value is null or matched nothing"),
        ("{ghost}", "{ghost}: nothing is bound to 'ghost'"),
        ("{skin.name.first}", "{skin.name.first}: skin.name has no 'first'"),
    ],
)
def test_missing_values_fail_with_the_field_named(template: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        compile_template(template).render(CONTEXT)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{img", "'{' at character 1 is never closed"),
        ("img}", "single '}' at character 4 (write '}}' for a brace)"),
        ("a{}b", "empty field '{}' at character 2"),
        ("{9lives}", "'9lives' at character 1 is not a name (letters, digits and _)"),
        ("{a..b}", "malformed path 'a..b' at character 1"),
        (
            "{a|bogus}",
            "unknown filter 'bogus' at character 1"
            " (filters: basename, ext, hash, lower, quote, stem, strip, upper, path)",
        ),
    ],
)
def test_malformed_templates_say_where(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(template)
    assert str(caught.value) == message


def test_compiled_once_per_process() -> None:
    assert compile_template("{x}/{y}") is compile_template("{x}/{y}")
