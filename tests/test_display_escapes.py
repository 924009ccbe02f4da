"""Text from a server never reaches a terminal or a log raw: control characters (ESC, CSI, OSC,
BEL, backspace, carriage return, C1) and bidi overrides are shown as visible escapes, in -v
lines, failures on stderr, the summary, the log file, the live display and the dry-run list."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from tests.apiserver import Api
from tests.conftest import RunCli
from yamlcrawl.engine.publish import Publisher
from yamlcrawl.shown import shown
from yamlcrawl.types import RunStats
from yamlcrawl.ui.display import Display
from yamlcrawl.ui.log import Log
from yamlcrawl.work.events import Event

CLEAR = "\x1b[2J"  # ESC CSI: clear the screen
TITLE = "\x1b]0;pwned\x07"  # OSC: retitle the window, ended by BEL
C1_CSI = "\x9b31m"  # the one-byte CSI of C1
REVERSED = "\u202egpj.exe"  # a bidi override: reads as exe.jpg
OVERWRITE = "\rok\bK"  # carriage return and backspace rewrite what was shown
HOSTILE = f"evil{CLEAR}{TITLE}{C1_CSI}{REVERSED}{OVERWRITE}"
RAW = ["\x1b", "\x07", "\x9b", "\u202e", "\r", "\b"]
VISIBLE = ["\\x1b[2J", "\\x1b]0;pwned\\x07", "\\x9b31m", "\\u202egpj.exe", "\\rok\\x08K"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("K/DA 阿狸\u00a0电脑版", "K/DA 阿狸\u00a0电脑版"),  # names stay as they are
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("\x07\x08\x7f\x9b", "\\x07\\x08\\x7f\\x9b"),
        ("line\r\nnext\tcell", "line\\r\\nnext\\tcell"),
        ("\u202e\u2066\u200f\u2028", "\\u202e\\u2066\\u200f\\u2028"),
    ],
)
def test_shown_escapes_controls_and_bidi_and_nothing_else(text: str, expected: str) -> None:
    assert shown(text) == expected


def hostile_site(api: Api) -> None:
    items = [{"id": 1, "name": HOSTILE}]
    api.routes["/list"] = lambda q: ({"items": items}, {})
    api.routes["/file"] = lambda q: (b"\x89PNG bytes", {"Content-Type": "image/png"})


def hostile_crawl(api: Api, tmp_path: Path) -> Path:
    crawl = {
        "vars": {"api": api.base},
        "http": {"retries": 0},
        "stages": {
            "list": {
                "url": "{api}/list",
                "each": "$.items[*]",
                "as": "item",
                "downloads": [
                    {"url": "{api}/file?id={item.id}", "save_as": "{item.name}.png"},
                    {"url": "{api}/gone/{item.name}", "save_as": "gone/{item.id}.png"},
                ],
            },
            "detail": {"from": "list", "url": "{api}/detail/{item.name}"},
        },
    }
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(crawl, allow_unicode=True), "utf-8")
    return path


def assert_escaped(text: str, *, where: str) -> None:
    for raw in RAW:
        assert raw not in text, f"raw {raw!r} in {where}: {text!r}"
    assert "\\x1b[2J" in text, f"no visible escape in {where}: {text!r}"


def test_a_hostile_site_shows_escapes_in_lines_failures_summary_and_log(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    hostile_site(api)
    log = tmp_path / "run.log"
    run = run_cli(hostile_crawl(api, tmp_path), "-v", "--log-file", log, "-o", tmp_path / "out")
    assert run.code == 1, run.out + run.err
    logged = log.read_text("utf-8")
    for where, text in [("stdout", run.out), ("stderr", run.err), ("log file", logged)]:
        assert_escaped(text, where=where)
    assert f"saved {VISIBLE[0]}" not in run.err  # (the saved name itself is made safe)
    failed_page = [line for line in run.err.splitlines() if line.startswith("failed page")]
    assert len(failed_page) == 1 and all(v in failed_page[0] for v in VISIBLE)
    assert all(v in run.out for v in VISIBLE)  # the summary's failure list
    report = tmp_path / "report.json"
    run_cli(hostile_crawl(api, tmp_path), "-q", "--report", report, "-o", tmp_path / "again")
    reasons = json.loads(report.read_text("utf-8"))["failures"]
    assert any(HOSTILE in failure["url"] for failure in reasons)  # JSON keeps the exact text


def test_the_dry_run_list_shows_escapes(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    hostile_site(api)
    run = run_cli(hostile_crawl(api, tmp_path), "--dry-run", "-o", tmp_path / "out")
    assert run.code == 1, run.out + run.err  # (the detail pages are fetched, and fail)
    listed = [line.split("\t") for line in run.out.splitlines() if "\t" in line]
    assert [url for _, url in listed if "/gone/" in url] == [f"{api.base}/gone/{shown(HOSTILE)}"]
    assert_escaped(run.out, where="the dry-run list")


def test_the_live_display_on_a_terminal_shows_escapes(tmp_path: Path) -> None:
    from tests.test_progress import lol_plan

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=300, color_system="standard")
    plan, stats = lol_plan("queue"), RunStats()
    live = Display(plan, console, live=True)
    reporter = Publisher([stats, live, Log(plan, console)])
    reporter.run_started(stats)
    detail = f"GET http://x/{HOSTILE}"
    reporter.worker_events([Event("start", f"dask worker {CLEAR}", ("page", (0,)), detail)])
    reporter.worker_events([Event("retry", "pid 7", ("page", (0,)), f"HTTP 503 {HOSTILE}")])
    console.print(live)
    live.finish()
    drawn = screen.getvalue()
    for hostile in [CLEAR, TITLE, C1_CSI, "\u202e", OVERWRITE]:
        assert hostile not in drawn
    assert all(visible in drawn for visible in VISIBLE)
    assert "dask worker \\x1b[2J" in drawn
