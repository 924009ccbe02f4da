"""Hostile crawl files: each is refused quickly, with one line that says where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apiserver import Api
from tests.conftest import RunCli
from tests.support import Run, manifest_records
from yamlcrawl.backends import modes
from yamlcrawl.language.loader import ConfigError, load_spec, load_text

MODES = modes()
EXPECTED_YAML = "— expected valid YAML (check quotes, indentation, colons)"


def _laughs(levels: int) -> str:
    """The "billion laughs": each level an anchored list of nine aliases of the one before."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        aliases = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\nstages: {s: {url: http://h}}\n"


def _nested(opening: str, closing: str, depth: int) -> str:
    return f"stages: {{s: {{url: http://h}}}}\nx-deep: {opening * depth}1{closing * depth}\n"


HOSTILE: dict[str, tuple[str, str]] = {
    "an alias bomb (billion laughs, under 500 bytes)": (
        _laughs(9),
        "crawler.yaml:6:10: invalid YAML: the alias '*a4' makes aliases copy more than"
        " 100,000 values — expected fewer or smaller aliases (each copies everything its"
        " anchor holds)",
    ),
    "a recursive alias": (
        "stages: &s {s: {url: http://h}, t: *s}\n",
        "crawler.yaml:1:36: invalid YAML: the alias '*s' is inside the node it names (a loop)"
        " — expected an alias after its anchor's node has ended",
    ),
    "a recursive merge": (
        "stages: &s {s: {url: http://h}, <<: *s}\n",
        "crawler.yaml:1:37: invalid YAML: the alias '*s' is inside the node it names (a loop)"
        " — expected an alias after its anchor's node has ended",
    ),
    "an alias to nothing": (
        "stages: *nowhere\n",
        "crawler.yaml:1:9: invalid YAML: the alias '*nowhere' names no anchor"
        " — expected &NAME before *NAME",
    ),
    "lists nested 100,000 deep": (
        _nested("[", "]", 100_000),
        "crawler.yaml:2:108: invalid YAML: lists and mappings nested more than 100 levels deep"
        " — expected at most 100 levels",
    ),
    "mappings nested 100,000 deep": (
        _nested("{a: ", "}", 100_000),
        "crawler.yaml:2:405: invalid YAML: lists and mappings nested more than 100 levels deep"
        " — expected at most 100 levels",
    ),
    "block mappings nested 150 deep": (
        "stages: {s: {url: http://h}}\n"
        + "".join("  " * i + "k:\n" for i in range(150))
        + "  " * 150
        + "v\n",
        "crawler.yaml:102:201: invalid YAML: lists and mappings nested more than 100 levels"
        " deep — expected at most 100 levels",
    ),
    "an alias that takes a deep node deeper": (
        "x-deep: &d " + "[" * 60 + "]" * 60 + "\nx-more: " + "[" * 50 + "*d" + "]" * 50 + "\n",
        "crawler.yaml:2:59: invalid YAML: lists and mappings nested more than 100 levels deep"
        " — expected at most 100 levels",
    ),
    "a merge of a list of numbers": (
        "x-a: &a [1, 2]\nstages: {s: {url: http://h, <<: *a}}\n",
        "crawler.yaml:2:29: invalid YAML: '<<' (a merge key) is not given a mapping or a list"
        " of mappings — expected '<<: *anchor' or '<<: [*anchor, *other]' naming mappings",
    ),
    "a second document": (
        "stages: {s: {url: http://h}}\n---\nstages: {}\n",
        "crawler.yaml:2:1: invalid YAML: a second document in the file"
        " — expected one YAML document",
    ),
    "an anchor defined twice": (
        "x-a: &a 1\nx-b: &a 2\nstages: {s: {url: http://h}}\n",
        "crawler.yaml:2:6: invalid YAML: the anchor '&a' is defined twice (first at line 1,"
        " column 6) — expected each anchor name once",
    ),
    "a number tag on a word": (
        "stages: {s: {url: http://h}}\nname: !!int twelve\n",
        "crawler.yaml:2:7: invalid YAML: 'twelve' is not a tag:yaml.org,2002:int"
        " — expected plain YAML, no tags",
    ),
    "a file over 4 MiB": (
        "stages: {s: {url: http://h}}\n" + "# padding\n" * 420_000,
        "crawler.yaml:1:1: the file is longer than 4,194,304 bytes"
        " — expected a crawl file of at most 4 MiB",
    ),
}


@pytest.mark.parametrize("text, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_yaml_is_refused_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(text, "crawler.yaml", modes=MODES, environ={})
    assert str(caught.value).splitlines() == [message]


def test_the_alias_bomb_is_refused_by_the_cli_without_a_traceback(
    tmp_path: Path, run_cli: RunCli
) -> None:
    crawl = tmp_path / "crawler.yaml"
    crawl.write_text(_laughs(9), "utf-8")
    assert len(crawl.read_bytes()) < 500
    run: Run = run_cli("validate", crawl)
    assert run.code == 2
    assert run.err.splitlines() == [
        f"{crawl}{HOSTILE['an alias bomb (billion laughs, under 500 bytes)'][1][12:]}"
    ]


def test_a_file_over_the_limit_is_not_read_whole(tmp_path: Path) -> None:
    crawl = tmp_path / "crawler.yaml"
    crawl.write_bytes(b"stages: {s: {url: http://h}}\n" + b"#" * (50 * 1024 * 1024))
    with pytest.raises(ConfigError) as caught:
        load_spec(crawl, modes=MODES, environ={})
    assert str(caught.value) == (
        f"{crawl}:1:1: the file is longer than 4,194,304 bytes"
        " — expected a crawl file of at most 4 MiB"
    )


ACCEPTED: dict[str, str] = {
    "aliases that copy a little, many times": (
        "x-h: &h {Accept: a, X-One: b}\nstages:\n"
        + "".join(f"  s{i}: {{url: http://h/{i}, headers: *h}}\n" for i in range(2_000))
    ),
    "lists nested 99 deep beside the stages": _nested("[", "]", 99),
    "a merge whose own keys win": (
        "x-s: &s {url: http://h/base, method: POST}\nstages: {s: {<<: *s, url: http://h/own}}\n"
    ),
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_what_is_within_the_limits_loads(text: str) -> None:
    loaded = load_text(text, "crawler.yaml", modes=MODES, environ={})
    assert loaded.spec.stages


def test_a_merge_keeps_merged_keys_and_lets_own_keys_override() -> None:
    text = (
        "x-a: &a {url: http://h/a, method: POST}\n"
        "x-b: &b {url: http://h/b, format: jsonp, method: PUT}\n"
        "stages:\n  s: {<<: [*a, *b], method: GET, typo: 1}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_text(text, "crawler.yaml", modes=MODES, environ={})
    assert str(caught.value).startswith("crawler.yaml:4:34: unknown key 'typo' at stages.s")
    loaded = load_text(text.replace(", typo: 1", ""), "crawler.yaml", modes=MODES, environ={})
    stage = loaded.spec.stages["s"]
    assert (stage.url, stage.format, stage.method) == ("http://h/a", "jsonp", "GET")
    assert loaded.positions.of_value(("stages", "s", "format")) == (2, 35)


def test_a_path_value_2000_folders_deep_fails_that_file_with_its_reason(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    deep = "a/" * 2000 + "f.bin"
    api.routes["/list"] = lambda q: ({"items": [{"p": deep}, {"p": "b/ok.bin"}]}, {})
    api.routes["/file"] = lambda q: (b"data", {})
    crawl = tmp_path / "crawl.yaml"
    crawl.write_text(
        "stages:\n  s:\n    url: '{api}/list'\n    each: $.items[*]\n    as: item\n"
        "    downloads: [{url: '{api}/file', save_as: '{item.p|path}'}]\n",
        "utf-8",
    )
    output = tmp_path / "out"
    run = run_cli(crawl, "--set", f"api={api.base}", "--output", output)
    assert run.code == 1
    assert "RecursionError" not in run.out + run.err
    failed = [r for r in manifest_records(output) if r["status"] == "failed"]
    assert [r["error"] for r in failed] == [
        f"cannot name the file: '{deep}' is 2000 folders deep (at most 100)"
    ]
    assert (output / "b" / "ok.bin").read_bytes() == b"data"


def test_a_save_as_written_more_than_100_folders_deep_is_refused_by_the_loader() -> None:
    save_as = "d/" * 101 + "{item}"
    text = (
        "stages:\n  s:\n    url: http://h\n    each: $.items[*]\n    as: item\n"
        f"    downloads: [{{url: http://h/f, save_as: '{save_as}'}}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_text(text, "crawler.yaml", modes=MODES, environ={})
    assert str(caught.value).splitlines() == [
        f"crawler.yaml:6:44: save_as '{save_as}' is 101 folders deep (at most 100)"
        " at stages.s.downloads[0].save_as"
        " — expected a relative path inside the output folder, without '..' or empty parts"
    ]
    load_text(text.replace("d/" * 101, "d/" * 100), "crawler.yaml", modes=MODES, environ={})
