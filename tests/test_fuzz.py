"""Random and mutated crawl files never give a traceback: a valid spec, or a clear error."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import ROOT
from yamlcrawl.language.loader import ConfigError, LoadedSpec, load_text
from yamlcrawl.language.plan import build_plan

MODES = ("serial", "process", "queue", "pool", "thread")
BASE: dict[str, Any] = yaml.safe_load((ROOT / "crawler.yaml").read_text("utf-8"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["{", "}", "{hero.", "$.[", "$..*", "../x", "/abs", "{x|path}", "${NOPE}"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in nested dicts and lists."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """crawler.yaml with a few values replaced, keys removed or keys added at random."""
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(data)))
        if not path:
            continue
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
    return yaml.safe_dump(data, allow_unicode=True)


def check(text: str) -> None:
    try:
        loaded = load_text(text, modes=MODES, environ={})
    except ConfigError as exc:
        for line in str(exc).splitlines():
            assert line.startswith("crawler.yaml:"), line
            assert " — expected " in line or "cannot read" in line, line
        return
    assert isinstance(loaded, LoadedSpec)
    build_plan(loaded.spec)


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_mutated_crawl_files_load_or_fail_clearly(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_loads_or_fails_clearly(text: str) -> None:
    check(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "stages:",
                "  a:",
                "    url: x",
                "  - b",
                "\t",
                ": :",
                "'",
                "&a",
                "*a",
                "<<: *a",
                "!!binary x",
                "? [a]",
            ]
        ),
        max_size=8,
    )
)
def test_yaml_shaped_fragments_load_or_fail_clearly(lines: list[str]) -> None:
    check("\n".join(lines))
