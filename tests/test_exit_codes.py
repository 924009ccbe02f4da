"""How a run ends: the exit code and the summary's verdict line tell "nothing succeeded" (3)
from "some units failed" (1), from "all done" (0) and "interrupted" (130); and the summary's
numbers are read as people read them (``244.2 MB``, ``152.8 MB/s``, ``1,914 files/s``)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver import Api, Reply
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan
from yamlcrawl.types import Failure, RunStats
from yamlcrawl.ui import cli
from yamlcrawl.ui.outcome import exit_code, verdict, verdict_line
from yamlcrawl.ui.summary import summary_rows
from yamlcrawl.ui.units import count_text, duration_text, rate_text, size_text, speed_text

# --- 1. end to end: a local API, through the CLI, in every mode -------------------------------

CRAWL = """name: exits
vars: {{api: "{api}"}}
http: {{retries: 0}}
stages:
  list:
    url: "{{api}}/list"
    each: "$.items[*]"
    as: item
    downloads:
      - {{url: "{{api}}/f/{{item}}.bin", save_as: "{{item}}.bin"}}
"""

Site = Callable[[Api], None]


def files(api: Api, count: int, missing: tuple[int, ...] = (), sigint: int = 0) -> None:
    """``/list`` names ``count`` files; each is served but those ``missing`` (404), and the
    one numbered ``sigint`` sends this process Ctrl-C (SIGINT) as it is asked for."""
    api.routes["/list"] = lambda q: ({"items": list(range(1, count + 1))}, {})
    for n in range(1, count + 1):
        if n not in missing:
            api.routes[f"/f/{n}.bin"] = _file(n, interrupt=n == sigint)


def _file(n: int, interrupt: bool) -> Callable[[dict[str, str]], Reply]:
    def route(query: dict[str, str]) -> Reply:
        if interrupt:
            os.kill(os.getpid(), signal.SIGINT)
        return f"file {n}".encode(), {"Content-Type": "application/octet-stream"}

    return route


RUNS: dict[str, tuple[Site, int, str, set[str]]] = {
    # (the site, the exit code, the report's verdict, the summary's verdict lines it may give:
    # where files fail in parallel, any of them may be the first)
    "all fine": (lambda api: files(api, 20), 0, "finished", {"exits: finished"}),
    "one failure among many": (
        lambda api: files(api, 20, missing=(7,)),
        1,
        "finished with failures",
        {"exits: finished with failures (1 of 20 files failed)"},
    ),
    "a local API where no page is served": (
        lambda api: None,
        3,
        "nothing succeeded",
        {
            "exits: finished: nothing succeeded (0 of 1 page fetched; first failure:"
            " GET URL/list failed: HTTP 404 Not Found)"
        },
    ),
    "a local API where every file fails": (
        lambda api: files(api, 3, missing=(1, 2, 3)),
        3,
        "nothing succeeded",
        {
            "exits: finished: nothing succeeded (0 of 3 files saved; first failure:"
            f" GET URL/f/{n}.bin failed: HTTP 404 Not Found)"
            for n in (1, 2, 3)
        },
    ),
    "interrupted": (
        lambda api: files(api, 3, sigint=2),
        130,
        "interrupted",
        {"exits: interrupted"},
    ),
}


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
@pytest.mark.parametrize(("site", "code", "said", "lines"), RUNS.values(), ids=list(RUNS))
def test_each_run_ends_with_its_exit_code_and_verdict(
    mode: str,
    site: Site,
    code: int,
    said: str,
    lines: set[str],
    api: Api,
    run_cli: RunCli,
    mode_args: ModeArgs,
    tmp_path: Path,
) -> None:
    site(api)
    config, report = tmp_path / "crawl.yaml", tmp_path / "report.json"
    config.write_text(CRAWL.format(api=api.base), "utf-8")
    run = run_cli(config, *mode_args(mode), "-q", "-o", tmp_path / "out", "--report", report)
    assert run.code == code, run.out + run.err
    assert run.out.splitlines()[0].replace(api.base, "URL") in lines, run.out
    data = json.loads(report.read_text("utf-8"))
    assert (data["verdict"], data["exit_code"]) == (said, code)


def test_help_lists_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    said = capsys.readouterr().out
    codes = said[said.index("exit codes:") :].splitlines()[1:]
    assert [line.split()[0] for line in codes] == ["0", "1", "2", "3", "130"]
    assert "  3    nothing succeeded: no page fetched, or every file tried failed" in codes


# --- 2. what "succeeded" means: the verdict and the code of every kind of run ----------------


def stats(
    *,
    pages: int = 1,
    pages_failed: int = 0,
    files_failed: int = 0,
    rules: int = 0,
    **counts: Any,
) -> RunStats:
    """A run's counts, with a failure listed for each page, file and rule that failed."""
    failures = [
        *(Failure("page", "list", f"http://h/p{n}", None, "HTTP 404") for n in range(pages_failed)),
        *(Failure("file", "list", f"http://h/{n}", "f", "HTTP 500") for n in range(files_failed)),
        *(Failure("match", "list", "http://h/p", None, "matched nothing") for _ in range(rules)),
    ]
    return RunStats(
        pages=pages, pages_failed=pages_failed, failed=files_failed, failures=failures, **counts
    )


VERDICTS: dict[str, tuple[RunStats, int, str]] = {
    "all done": (stats(pages=3, saved=40), 0, "finished"),
    "a dry run": (stats(dry_run=True, planned=4), 0, "dry run finished"),
    "all done, nothing to do": (stats(pages=1), 0, "finished"),
    "one file of 3,060 failed": (
        stats(pages=60, saved=3059, files_failed=1),
        1,
        "finished with failures (1 of 3,060 files failed)",
    ),
    "pages and files failed, and a rule": (
        stats(pages=14, pages_failed=2, saved=3000, present=57, files_failed=3, rules=1),
        1,
        "finished with failures (2 of 14 pages failed, 3 of 3,060 files failed,"
        " 1 rule matched nothing)",
    ),
    "a rule under --strict, nothing else": (
        stats(pages=2, rules=2),
        1,
        "finished with failures (2 rules matched nothing)",
    ),
    "every file failed, but records were written": (
        stats(pages=3, files_failed=4, records=3),
        1,
        "finished with failures (4 of 4 files failed)",
    ),
    "every file tried failed, others were present": (
        stats(pages=3, present=5, files_failed=4),
        1,
        "finished with failures (4 of 9 files failed)",
    ),
    "every file tried failed, others in the archive": (
        stats(pages=3, archived=5, files_failed=1),
        1,
        "finished with failures (1 of 6 files failed)",
    ),
    "the list fetched, every detail page failed, no file tried": (
        stats(pages=13, pages_failed=12),
        1,
        "finished with failures (12 of 13 pages failed)",
    ),
    "no page fetched": (
        stats(pages=12, pages_failed=12),
        3,
        "finished: nothing succeeded (0 of 12 pages fetched; first failure: HTTP 404)",
    ),
    "pages fetched, every file failed": (
        stats(pages=3, files_failed=40),
        3,
        "finished: nothing succeeded (0 of 40 files saved; first failure: HTTP 500)",
    ),
    "a dry run with no page fetched": (
        stats(pages=1, pages_failed=1, dry_run=True),
        3,
        "finished: nothing succeeded (0 of 1 page fetched; first failure: HTTP 404)",
    ),
    "interrupted before anything succeeded": (
        stats(pages=1, pages_failed=1, interrupted=True),
        130,
        "interrupted",
    ),
    "the folder stopped taking files": (
        stats(pages=1, saved=3, stopped="the disk is full"),
        2,
        "stopped",
    ),
}


@pytest.mark.parametrize(("run", "code", "line"), VERDICTS.values(), ids=list(VERDICTS))
def test_what_succeeded_decides_the_verdict_and_the_code(
    run: RunStats, code: int, line: str
) -> None:
    assert (exit_code(run), verdict_line(run)) == (code, line)
    assert line.startswith(verdict(run).replace("nothing", "finished: nothing", 1))


# --- 3. the summary's numbers -----------------------------------------------------------------

UNITS: list[tuple[str, str]] = [
    (count_text(3060), "3,060"),
    (size_text(0), "0 bytes"),
    (size_text(1), "1 byte"),
    (size_text(999), "999 bytes"),
    (size_text(8_200), "8.2 kB"),
    (size_text(244_247_372), "244.2 MB"),
    (size_text(3_500_000_000), "3.5 GB"),
    (speed_text(0, 0.0), "0 bytes/s"),
    (speed_text(512, 1.0), "512 bytes/s"),
    (speed_text(8_200, 1.0), "8.2 kB/s"),  # a tiny run: not 0.00 MB/s
    (speed_text(244_247_372, 1.598), "152.8 MB/s"),
    (speed_text(3_500_000_000, 1.0), "3.5 GB/s"),
    (rate_text(0, 5.0, "files"), "0 files/s"),
    (rate_text(1, 2.08, "files"), "0.48 files/s"),
    (rate_text(25, 2.0, "files"), "12.5 files/s"),
    (rate_text(3060, 1.598, "files"), "1,915 files/s"),
    (duration_text(0.004), "4 ms"),
    (duration_text(0.42), "420 ms"),
    (duration_text(4.214), "4.21 s"),
    (duration_text(12.34), "12.3 s"),
    (duration_text(252.4), "4 min 12 s"),
    (duration_text(7500), "2 h 05 min"),
]


@pytest.mark.parametrize(("shown", "expected"), UNITS, ids=[e for _, e in UNITS])
def test_numbers_read_as_people_read_them(shown: str, expected: str) -> None:
    assert shown == expected


SUMMARY_PLAN = build_plan(
    load_text("stages:\n  list: {url: 'http://h/list'}\n", environ={}).spec
).with_overrides(output_dir="/out")

SUMMARIES: dict[str, tuple[RunStats, dict[str, str]]] = {
    "a big run": (
        stats(pages=60, saved=3060, bytes=244_247_372, elapsed=1.598),
        {
            "files saved": "3,060",
            "size of files saved": "244.2 MB",
            "time": "1.60 s",
            "throughput": "1,915 files/s, 152.8 MB/s",
        },
    ),
    "a tiny run": (
        stats(saved=1, bytes=82, elapsed=0.01),
        {
            "files saved": "1",
            "size of files saved": "82 bytes",
            "time": "10 ms",
            "throughput": "100 files/s, 8.2 kB/s",
        },
    ),
    "nothing saved": (
        stats(pages=1, pages_failed=1, elapsed=0.02),
        {
            "files saved": "0",
            "size of files saved": "0 bytes",
            "time": "20 ms",
            "throughput": "0 files/s, 0 bytes/s",
        },
    ),
}


@pytest.mark.parametrize(("run", "expected"), SUMMARIES.values(), ids=list(SUMMARIES))
def test_the_summary_shows_sizes_speeds_and_counts_in_one_way(
    run: RunStats, expected: dict[str, str]
) -> None:
    rows = dict(summary_rows(SUMMARY_PLAN, run))
    assert {label: rows[label] for label in expected} == expected
