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
            " (filters: basename, ext, hash, lower, quote, stem, strip, upper, default, path)",
        ),
    ],
)
def test_malformed_templates_say_where(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(template)
    assert str(caught.value) == message


def test_compiled_once_per_process() -> None:
    assert compile_template("{x}/{y}") is compile_template("{x}/{y}")


# Format specs (`{n:03d}`, `{date:%Y/%m}`) and `default:TEXT`: values as APIs give them.
VALUES: dict[str, Any] = {
    "n": 7,
    "seven": "7",
    "whole": 7.0,
    "ratio": 1.5,
    "cents": "0.1",
    "big": 1234567,
    "big_text": "1234567",
    "code": "00123",
    "name": "K/DA 阿狸",
    "evil": "../x",
    "day": "2024-03-05",
    "when": "2024-03-05T10:11:12+01:00",
    "zulu": "2024-03-05T00:00:00Z",
    "naive": "2024-03-05T23:59:00",
    "stamp": 1700000000,
    "stamp_text": "1700000000",
    "fraction": 1700000000.25,
    "compact": "20240305",
    "null": None,
    "empty": "",
    "nothing": [],
    "zero": 0,
    "no": False,
    "url": "https://h/img/a",
    "word": "abc",
    "vague": "yesterday",
    "flag": True,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{n:03d}", "007"),
        ("{seven:03d}", "007"),  # a number as text formats as the number
        ("{whole:03d}", "007"),  # a whole float is a whole number
        ("{n:x}|{n:b}|{n:o}", "7|111|7"),
        ("{ratio:.2f}", "1.50"),
        ("{cents:.3f}", "0.100"),  # text is read exactly: 0.1, not 0.1000000000000000055
        ("{ratio:.0%}", "150%"),
        ("{big:,}", "1,234,567"),
        ("{big_text:,}|{seven:03}|{seven:+}", "1,234,567|007|+7"),  # a number as text, too
        ("{code:>7}|{code:.3}", "  00123|001"),  # but a spec text takes keeps it text
        ("{n:>4}|{n:<4}|{n:^5}", "   7|7   |  7  "),
        ("{n: >3}", "  7"),  # a spec is taken as written: a space fills
        ("{name:.4}", "K/DA"),
        ("{day:%Y/%m}", "2024/03"),
        ("{day:%d %B %Y (%a)}", "05 March 2024 (Tue)"),
        ("{when:%Y-%m-%d %H:%M %z}", "2024-03-05 10:11 +0100"),  # its own offset is kept
        ("{zulu:%H:%M %Z}", "00:00 UTC"),
        ("{naive:%H:%M}", "23:59"),  # no offset: taken as it is
        ("{stamp:%Y-%m-%dT%H:%M:%S%z}", "2023-11-14T22:13:20+0000"),  # epoch seconds: UTC
        ("{stamp_text:%Y}", "2023"),
        ("{fraction:%S.%f}", "20.250000"),
        ("{compact:%Y-%m-%d}", "2024-03-05"),  # ISO 8601's basic form before epoch seconds
        ("{day:%Y%%}", "2024%"),
        ("{null|default:untitled}", "untitled"),
        ("{missing|default:untitled}", "untitled"),  # nothing bound at all
        ("{url.nope|default:untitled}", "untitled"),  # a key that is not there
        ("{empty|default:untitled}", "untitled"),
        ("{nothing|default:untitled}", "untitled"),
        ("{zero|default:untitled}|{no|default:untitled}", "0|false"),  # values, not missing
        ("{name|default:untitled}", "K/DA 阿狸"),
        ("{url|ext|default:.bin}", ".bin"),  # stands in for what the filters before it leave
        ("{null|default:none|upper}", "NONE"),  # and the filters after it apply to it
        ("{null|default:0:03d}", "000"),  # the spec comes last and formats the default too
        ("{n|default:0:03d}", "007"),
        ("{null|default:2024-01-31:%Y/%m}", "2024/01"),
        ("{null|default: spaced out }", "spaced out"),
        ("{n:}", "7"),  # an empty spec is none, as in Python
    ],
)
def test_format_specs_and_defaults(template: str, expected: str) -> None:
    assert compile_template(template).render(VALUES) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # The `/` a date spec writes makes folders; what its directives give never does.
        ("{day:%Y/%m}/{name}.jpg", "2024/03/K／DA 阿狸.jpg"),
        ("{day:%x}", "03／05／24"),  # %x writes slashes of its own: they are not the user's
        ("{name:>10}", "   K／DA 阿狸"),  # a Python spec pads the escaped value
        ("{evil:>6}", "  ..／x"),  # `..` cannot come through as a folder of its own
        ("{null|default:a/b}", "a／b"),  # a default is text like a value: escaped
        ("{name:.3}", "K／D"),
    ],
)
def test_specs_in_file_names(template: str, expected: str) -> None:
    assert compile_template(template).render(VALUES, escape=escape_value) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{word:03d}", "{word:03d}: 'abc' is not a whole number (for '03d')"),
        ("{ratio:d}", "{ratio:d}: '1.5' is not a whole number (for 'd')"),
        ("{flag:03d}", "{flag:03d}: 'true' is not a whole number (for '03d')"),
        ("{word:.2f}", "{word:.2f}: 'abc' is not a number (for '.2f')"),
        (
            "{vague:%Y}",
            "{vague:%Y}: 'yesterday' is not an ISO 8601 date or epoch seconds (for '%Y')",
        ),
        ("{flag:%Y}", "{flag:%Y}: 'true' is not an ISO 8601 date or epoch seconds (for '%Y')"),
        ("{word:,}", "{word:,}: 'abc' cannot be formatted by ',' (Cannot specify ',' with 's'.)"),
        ("{null:03d}", "{null:03d}: the value is null or matched nothing"),
        ("{url.nope:03d}", "{url.nope:03d}: url has no 'nope'"),
    ],
)
def test_values_a_spec_cannot_format_fail_with_the_field_named(template: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        compile_template(template).render(VALUES)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{n:03q}",
            "format spec '03q' at character 1 is not a Python format spec such as 03d, .2f or"
            " >10, or a date spec such as %Y-%m-%d",
        ),
        (
            "{n:,s}",
            "format spec ',s' at character 1 is not a Python format spec such as 03d,"
            " .2f or >10, or a date spec such as %Y-%m-%d",
        ),
        (
            "{d:%Y%}",
            "format spec '%Y%' at character 1 ends in a lone '%' (write %% for a percent sign)",
        ),
        (
            "{d:%Y-%e}",
            "format spec '%Y-%e' at character 1 has '%e', which is not a date directive"
            f" (directives: {' '.join('%' + d for d in 'aAbBcdfGHIjmMpSuUVwWxXyYzZ%')})",
        ),
        (
            "{n:03d|upper}",
            "format spec '03d|upper' at character 1 has a '|' (the spec comes last:"
            " {name|filter:spec})",
        ),
        (
            "{n|pad:3}",
            "unknown filter 'pad' at character 1"
            " (filters: basename, ext, hash, lower, quote, stem, strip, upper, default, path)",
        ),
        *(
            (
                template,
                "'default' without a text at character 1"
                " (write default:TEXT, the text used for a missing, null or empty value)",
            )
            for template in ("{n|default}", "{n|default:}", "{n|default: }")
        ),
        ("{n|default:a|default:b}", "a second 'default' at character 1 (one at most)"),
        (
            "{n|default:none:03d}",
            "default 'none' at character 1 does not format: 'none' is not a whole number"
            " (for '03d')",
        ),
        (
            "{d|default:never|upper:%Y}",
            "default 'never' at character 1 does not format: 'NEVER' is not an ISO 8601 date"
            " or epoch seconds (for '%Y')",
        ),
    ],
)
def test_malformed_specs_and_defaults_say_where(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_template(template)
    assert str(caught.value) == message


def test_a_json_value_keeps_its_type_only_without_filters_or_spec() -> None:
    from yamlcrawl.work.requests import render_json

    body = {"id": "{n}", "padded": "{n:03d}", "named": "{null|default:x}"}
    assert render_json(body, VALUES) == {"id": 7, "padded": "007", "named": "x"}


def test_a_plain_ext_with_a_spec_is_not_the_responses() -> None:
    assert compile_template("{n}{ext}").response_ext() is not None
    assert compile_template("{n}{ext:>5}").response_ext() is None
