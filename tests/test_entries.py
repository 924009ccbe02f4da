"""`key: NAME` beside `each`/`as`: each item's key (an object member's name, a list item's index)
is bound too, so one rule saves every entry of an object under its own name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import Api
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import saved_files
from yamlcrawl.language.jsonpaths import find_entries

DOCUMENT: dict[str, Any] = {
    "sprites": {"front": "f.png", "back": None, "shiny": {"key": "own"}},
    "moves": ["tackle", "growl", "ember"],
    "items": [{"k": 1}, {"k": 2}, {"k": 3}],
}

# (each, the (key, value) pairs it finds, in document order). An object's entries are `.*`:
# what `[*]` gives on an object differs between jsonpath-ng versions (1.8: the object itself).
ENTRIES = [
    ("$.sprites.*", [("front", "f.png"), ("back", None), ("shiny", {"key": "own"})]),
    ("$.moves[*]", [(0, "tackle"), (1, "growl"), (2, "ember")]),
    ("$.moves[1:]", [(1, "growl"), (2, "ember")]),
    ("$.items[?(@.k > 1)]", [(1, {"k": 2}), (2, {"k": 3})]),
    ("$.moves[2]", [(2, "ember")]),
    ("$.sprites.front", [("front", "f.png")]),
    ("$..k", [("k", 1), ("k", 2), ("k", 3)]),
    ("$", [(None, DOCUMENT)]),
]


@pytest.mark.parametrize(("each", "expected"), ENTRIES)
def test_each_match_has_its_key(each: str, expected: list[tuple[Any, Any]]) -> None:
    assert find_entries(each, DOCUMENT) == expected


CRAWL = """
vars: {api: "http://127.0.0.1"}
stages:
  pokemon:
    url: "{api}/pokemon/1"
    fields: {name: $.name}
    each: $.sprites.*
    as: sprite
    key: slot
    where: {"{sprite}": {empty: false}}
    emit: {to: sprites.jsonl, fields: {slot: "{slot}", file: "{sprite}"}}
    downloads:
      - {url: "{sprite}", save_as: "{name}/{slot}.png"}
  moves:
    url: "{api}/pokemon/1"
    each: $.moves[*]
    as: move
    key: n
    emit: {to: moves.jsonl, fields: {n: "{n}", move: "{move.name}", key: "{move.key}"}}
  move:
    from: moves
    url: "{api}/move?n={n}"
    downloads:
      - {url: "{api}/move?n={n}", save_as: "moves/{n}-{move.name}.json"}
"""


def serve_pokemon(api: Api) -> None:
    sprites = {"front_default": "/s/front.png", "back_default": "/s/back.png", "back_shiny": None}
    moves = [{"name": "tackle", "key": "t"}, {"name": "growl", "key": "g"}]
    api.routes["/pokemon/1"] = lambda q: (
        {"name": "bulbasaur", "sprites": sprites, "moves": moves},
        {},
    )
    api.routes["/s/front.png"] = lambda q: (b"front", {})
    api.routes["/s/back.png"] = lambda q: (b"back", {})
    api.routes["/move"] = lambda q: ({"n": q["n"]}, {})


def rows(output: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (output / name).read_text("utf-8").splitlines()]


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_one_rule_saves_every_entry_under_its_key(
    api: Api, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, mode: str
) -> None:
    serve_pokemon(api)
    config = tmp_path / "crawl.yaml"
    config.write_text(CRAWL, "utf-8")
    output = tmp_path / "out"
    result = run_cli(config, "--set", f"api={api.base}", "--output", output, *mode_args(mode))
    assert result.code == 0, result.out + result.err
    files = saved_files(output)
    assert files["bulbasaur/front_default.png"] == b"front"
    assert files["bulbasaur/back_default.png"] == b"back"
    assert json.loads(files["moves/0-tackle.json"]) == {"n": "0"}
    assert json.loads(files["moves/1-growl.json"]) == {"n": "1"}
    assert sorted(name for name in files if name.endswith(".png")) == [
        "bulbasaur/back_default.png",
        "bulbasaur/front_default.png",
    ]  # back_shiny is null: `where` left it out
    assert rows(output, "sprites.jsonl") == [
        {"slot": "front_default", "file": "/s/front.png"},
        {"slot": "back_default", "file": "/s/back.png"},
    ]
    # An item's own `key` field is the item's: `key:` binds another name, and shadows nothing.
    assert rows(output, "moves.jsonl") == [
        {"n": 0, "move": "tackle", "key": "t"},
        {"n": 1, "move": "growl", "key": "g"},
    ]


def test_plan_shows_the_key(run_cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "crawl.yaml"
    config.write_text(CRAWL, "utf-8")
    result = run_cli("plan", config)
    assert result.code == 0, result.err
    assert "each $.sprites.* as sprite, key slot" in result.out
    assert "each $.moves[*] as move, key n" in result.out
