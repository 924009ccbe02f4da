"""A download rule's bar is named by its `name:`, else by what its save_as says literally."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan
from yamlcrawl.language.rulenames import distinct, rule_name
from yamlcrawl.ui.planview import show_plan


@pytest.mark.parametrize(
    ("save_as", "name"),
    [
        ("{hero_name}/{skin.name}电脑版.jpg", "电脑版"),  # the file name's own words
        ("{hero_name}/{skin.name}手机版.jpg", "手机版"),
        ("{a}-small-{b}_v2.jpg", "small v2"),  # separators around words dropped
        ("cover.jpg", "cover"),
        ("{id}.thumb.png", "thumb"),
        ("{w}x{h}.png", "png files"),  # a lone Latin letter is not a word
        ("avatars/{user.login}{user.avatar_url|ext}", "avatars"),  # the last literal folder
        ("images/{post.id}.png", "images"),  # a folder says more than an extension
        ("raw/{d:%Y/%m}/{id}.json", "raw"),  # a date's folders are a field's, not literal
        ("{x}/{y}.png", "png files"),  # only the extension is literal
        ("{x}/{y}.JPG", "jpg files"),
        ("{author.name}/{book.year} - {book.title}{book.cover|ext}", "skins[1] files"),
        ("{file|hash}{ext}", "skins[1] files"),  # nothing literal: its place
        ("{x", "skins[1] files"),  # a template that does not parse (the loader says why)
    ],
)
def test_a_rule_is_named_from_its_save_as(save_as: str, name: str) -> None:
    assert rule_name("skins", 1, save_as) == name


def test_a_rule_of_its_own_name_keeps_it() -> None:
    assert rule_name("skins", 0, "{x}/{y}.png", "封面 covers") == "封面 covers"


def test_rules_that_would_show_one_name_get_their_place() -> None:
    names = [("a", 0, "png files"), ("a", 1, "png files"), ("b", 0, "电脑版"), ("b", 1, "x")]
    assert distinct(names) == {
        ("a", 0): "png files (a[0])",
        ("a", 1): "png files (a[1])",
        ("b", 0): "电脑版",
        ("b", 1): "x",
    }


CRAWL = """\
stages:
  heroes:
    url: http://h/list
    each: $.items[*]
    as: item
    downloads:
      - {url: "{item.a}", save_as: "{item.id}/{item.n}电脑版.jpg"}
      - {url: "{item.b}", save_as: "{item.id}/{item.n}.png"}
      - {url: "{item.c}", save_as: "{item.id}.png"}
      - {url: "{item.d}", save_as: "{item.id}.gif", name: "[bold]封面\\x1b[2J"}
"""


def test_the_plan_names_each_rule_escaped() -> None:
    plan = build_plan(load_text(CRAWL, "crawler.yaml").spec)
    names = [rule.name for rule in plan.stage("heroes").downloads]
    told_apart = ["png files (heroes[1])", "png files (heroes[2])"]
    assert names == ["电脑版", *told_apart, "[bold]封面\x1b[2J"]
    console = Console(file=io.StringIO(), width=200, record=True, force_terminal=True)
    show_plan(plan, console)
    text = console.export_text()
    assert "download [0] 电脑版: {item.a} -> {item.id}/{item.n}电脑版.jpg" in text
    assert "download [2] png files (heroes[2]): {item.c} -> {item.id}.png" in text
    assert "download [3] [bold]封面\\x1b[2J: {item.d} -> {item.id}.gif" in text  # as text
    assert "\x1b[2J" not in console.file.getvalue()  # type: ignore[attr-defined]
