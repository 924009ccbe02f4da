"""Thousands of stages: checking and running a chain costs time linear in its length.

The work is measured as the Python function calls made (counted by a profiler hook, so the
figures do not depend on the machine's load): twice the stages must cost about twice the calls,
where a quadratic step would cost four times as many and a cubic one eight.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks.stages import chain
from tests.apiserver import Api
from tests.conftest import RunCli
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan

LINEAR = 2.5  # calls(2N) / calls(N): about 2 when linear, 4 when quadratic


def calls_made(action: Callable[[], object]) -> int:
    """The Python function calls ``action`` makes in this thread."""
    count = 0

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        count += event == "call"

    sys.setprofile(hook)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


def validate(stages: int) -> None:
    loaded = load_text(chain(stages), "chain.yaml", environ={})
    plan = build_plan(loaded.spec, loaded.source)
    assert len(plan.stages) == stages
    assert plan.stage(f"s{stages - 2}").children == (f"s{stages - 1}",)


def test_checking_a_chain_of_stages_is_linear() -> None:
    small, large = calls_made(lambda: validate(500)), calls_made(lambda: validate(1000))
    assert large / small < LINEAR, (small, large)


def test_a_chain_of_2000_stages_validates_in_seconds() -> None:
    start = time.perf_counter()
    validate(2000)
    assert time.perf_counter() - start < 30  # about 0.2 s; 2 s before, 168 s at 10,000


def test_running_a_chain_of_stages_is_linear(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    api.routes["/p.json"] = lambda q: ({"v": 1}, {})

    def run(stages: int) -> None:
        crawl = tmp_path / f"chain{stages}.yaml"
        crawl.write_text(chain(stages), "utf-8")
        output = tmp_path / f"out{stages}"
        result = run_cli(crawl, "-q", "--set", f"api={api.base}", "--output", output)
        assert result.code == 0, result.err

    run(10)  # imports, compiled jsonpaths and templates: once a process
    small, large = calls_made(lambda: run(100)), calls_made(lambda: run(200))
    assert large / small < LINEAR, (small, large)
    assert len(api.asked) == 310


def test_a_chain_of_300_stages_runs_in_seconds(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    api.routes["/p.json"] = lambda q: ({"v": 1}, {})
    crawl = tmp_path / "chain.yaml"
    crawl.write_text(chain(300), "utf-8")
    start = time.perf_counter()
    run = run_cli(crawl, "--set", f"api={api.base}", "--output", tmp_path / "out")
    assert run.code == 0, run.err
    assert time.perf_counter() - start < 60  # about 0.5 s; 4 s before (25 s at 400 stages)
    assert len(api.asked) == 300
    assert api.asked[-1] == "/p.json?from=1"
