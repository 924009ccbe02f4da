"""The live display (rendered into a string with an injected clock, as rich's own tests do),
the plain output off a terminal, the report and log files, init and schema."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import NamedTuple

import jsonschema
import pytest
import yaml
from rich.console import Console

from tests.conftest import RunCli
from tests.support import ROOT, SAMPLES, Site, lol_args
from yamlcrawl.engine.publish import Publisher
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import Plan, build_plan
from yamlcrawl.types import DownloadUnit, FileResult, PageResult, PageUnit, RunStats
from yamlcrawl.ui import display, log
from yamlcrawl.ui.display import Display, PlainProgress
from yamlcrawl.ui.log import Log
from yamlcrawl.work.events import Event

MODES = ["serial", "process", "queue", "pool", "thread", "dask"]
BAR = "[━╸╺─]+"  # rich draws the done part, the rest, and a half-cell between


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lol_plan(mode: str = "queue") -> Plan:
    loaded = load_spec(ROOT / "crawler.yaml", modes=MODES)
    return build_plan(loaded.spec).with_overrides(mode=mode, workers=2)


def shown(drawn: Display) -> str:
    """What the live display shows now, as plain text."""
    console = Console(file=io.StringIO(), force_terminal=True, width=110, record=True)
    console.print(drawn)
    return console.export_text()


def file_unit(n: int, rule: int) -> DownloadUnit:
    return DownloadUnit(
        (0, 0, 0, n, rule), "skins", f"http://h/{n}.jpg", f"英雄/{n}.jpg", (), False
    )


class Run(NamedTuple):
    """A display fed as a run feeds it, and what moves it."""

    screen: Display
    reporter: Publisher
    clock: Clock
    stats: RunStats


def skins_to_come(workers: int = 2, threads: int = 1, mode: str = "queue") -> Run:
    """A display of a run at ``workers x threads`` with the hero list in and 3 skins to come."""
    clock, stats = Clock(), RunStats()
    plan = lol_plan(mode).with_overrides(workers=workers, threads=threads)
    screen = Display(plan, Console(file=io.StringIO()), live=False, clock=clock)
    reporter = Publisher([stats, screen])  # the counts and the display, as a run publishes
    reporter.run_started(stats)
    heroes = PageUnit((0,), "heroes", {})
    reporter.page_queued(heroes)
    reporter.page_done(PageResult(heroes, "http://h/list", None, items=3))
    for n in range(3):
        reporter.page_queued(PageUnit((0, n, 0), "skins", {}))
    return Run(screen, reporter, clock, stats)


def test_the_display_shows_growing_totals_bytes_workers_and_counters() -> None:
    screen, reporter, clock, stats = skins_to_come()
    reporter.page_done(PageResult(PageUnit((0, 0, 0), "skins", {}), "http://h/1.js", None))
    for n in range(4):
        reporter.file_planned(file_unit(n, 0))
    reporter.worker_events(
        [
            Event("start", "pid 41", ("file", (0, 0, 0, 0, 0)), "downloading 英雄/0.jpg"),
            Event("bytes", "pid 41", ("file", (0, 0, 0, 0, 0)), amount=1500),
            Event("start", "pid 42", ("page", (0, 1, 0)), "GET http://h/2.js"),
            Event("retry", "pid 42", ("page", (0, 1, 0)), "HTTP 503; retry 1 of 3 in 0.5 s"),
        ]
    )
    clock.now += 2.0
    stats.skipped = 2
    text = shown(screen)
    assert re.search(rf"heroes pages\s+{BAR}\s+1/1 ", text)
    assert re.search(rf"skins pages\s+{BAR}\s+1/3 ", text)  # final: the hero list is in
    assert re.search(rf"电脑版\s+{BAR}\s+0/4\+", text)  # the rule's name; more files may come
    assert re.search(rf"手机版\s+{BAR}\s+0/0\+", text)
    counters = (
        "already present 0 · skipped 2 · duplicates 0 · retried 1 · failed 0 · lost 0"
        " · 1.5 kB at 750 bytes/s"
    )
    assert counters in text
    assert re.search(r"pid 41\s+downloading 英雄/0.jpg\s+1.5 kB\s+2.0s\npid 42\s", text)
    assert re.search(r"pid 42\s+GET http://h/2.js\s+2.0s\n2 busy / 0 idle\n", text)

    for n in (1, 2):
        reporter.page_done(PageResult(PageUnit((0, n, 0), "skins", {}), f"http://h/{n}.js", None))
    unit = file_unit(0, 0)
    reporter.file_done(FileResult(unit, "saved", bytes=2000, sha256="x"))  # 500 never reported
    reporter.file_planned(file_unit(9, 0))
    reporter.worker_events([Event("bytes", "pid 43", ("file", (0, 0, 0, 9, 0)), amount=700)])
    reporter.file_done(FileResult(file_unit(9, 0), "failed", error="reset"))  # taken back
    clock.now += 1.0
    text = shown(screen)
    assert " · 2.0 kB at 667 bytes/s" in text  # 2,000 saved; the failed 700 taken back
    assert re.search(rf"skins pages\s+{BAR}\s+3/3 ", text)
    assert re.search(rf"电脑版\s+{BAR}\s+2/5 2.0 kB 667 bytes/s", text)  # final
    assert "pid" not in text and "0 busy / 2 idle" in text  # idle workers have no line


def test_serial_shows_no_worker_lines() -> None:
    screen = Display(lol_plan("serial"), Console(file=io.StringIO()), live=False, clock=Clock())
    screen.run_started(RunStats())
    screen.worker_events([Event("start", "pid 1", ("page", (0,)), "GET http://h/list")])
    assert "GET http://h/list" not in shown(screen)


def test_the_progress_line_is_key_value_pairs() -> None:
    clock = Clock()
    plan, stats = lol_plan(), RunStats()
    plain = PlainProgress(Log(plan, Console(file=io.StringIO())), clock=clock)
    reporter = Publisher([stats, plain])
    reporter.run_started(stats)
    reporter.page_queued(PageUnit((0,), "heroes", {}))
    clock.now += 1.25
    assert plain.line() == (
        "progress elapsed=1.2s pages=0/1+ files=0/0+ saved=0 present=0 skipped=0 retried=0"
        " failed=0 bytes=0"
    )


def pairs(line: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in line.split()[1:])


@pytest.mark.parametrize("mode", MODES)
def test_off_a_terminal_plain_lines_a_report_and_a_log(
    mode: str,
    lol_site: Site,
    run_cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(display, "PLAIN_INTERVAL", 0.0)  # a line at every tick
    output, report, log = tmp_path / "out", tmp_path / "run.json", tmp_path / "run.log"
    options = ["--mode", mode, "--workers", "2", "--report", report, "--log-file", log]
    run = run_cli(*lol_args(lol_site, output, *options))
    assert run.code == 0
    assert "\x1b[" not in run.out + run.err  # no live display, no colour codes
    lines = [line for line in run.err.splitlines() if line.startswith("progress ")]
    assert lines, run.err
    assert {"elapsed", "pages", "files", "saved", "failed", "bytes"} <= pairs(lines[-1]).keys()
    assert "lol-skins: finished" in run.out and "files saved" in run.out
    data = json.loads(report.read_text())
    assert (data["mode"], data["saved"], data["skipped"], data["failed"]) == (mode, 48, 12, 0)
    assert data["bytes"] == sum(p.stat().st_size for p in output.rglob("*.jpg"))
    assert data["failures"] == [] and data["verdict"] == "finished"
    logged = log.read_text()
    assert logged.count(" page ") == 6
    assert logged.count(" saved ") == 48
    assert pairs(logged.splitlines()[-1].split(" ", 1)[1])["files"] == "48/48"


def test_quiet_prints_only_the_summary(lol_site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    run = run_cli(*lol_args(lol_site, tmp_path / "out", "-q"))
    assert run.code == 0
    assert run.err == ""
    assert run.out.startswith("lol-skins: finished")


def test_verbose_logs_every_request(lol_site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    run = run_cli(*lol_args(lol_site, tmp_path / "out", "-v"))
    assert run.err.count("page ") == 6
    assert run.err.count("saved ") == 48
    assert run.err.count("skipped ") == 12


def test_a_failure_is_in_the_report(broken_lol_site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    (broken_lol_site.root / "images/lol/act/img/skinloading/1000.jpg").unlink()
    report = tmp_path / "run.json"
    run = run_cli(*lol_args(broken_lol_site, tmp_path / "out", "-q", "--report", report))
    assert run.code == 1
    data = json.loads(report.read_text())
    assert data["verdict"] == "finished with failures"
    assert [f["path"] for f in data["failures"]] == ["黑暗之女/黑暗之女手机版.jpg"]
    assert "HTTP 404" in data["failures"][0]["reason"]


def test_init_writes_a_starter_that_validates(run_cli: RunCli, tmp_path: Path) -> None:
    target = tmp_path / "crawler.yaml"
    assert run_cli("init", target).code == 0
    text = target.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert run_cli("validate", target).code == 0
    again = run_cli("init", target)
    assert again.code == 2 and "exists; --force replaces it" in again.err
    assert run_cli("init", target, "--force").code == 0


def test_the_schema_accepts_the_shipped_crawls_and_refuses_a_typo(run_cli: RunCli) -> None:
    run = run_cli("schema")
    schema = json.loads(run.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    for config in (ROOT / "crawler.yaml", *SAMPLES.glob("*/crawler.yaml")):
        jsonschema.validate(yaml.safe_load(config.read_text("utf-8")), schema)
    typo = {"stages": {"a": {"url": "x", "eacg": "$.x[*]"}}}
    with pytest.raises(jsonschema.ValidationError, match="eacg"):
        jsonschema.validate(typo, schema)
    with pytest.raises(jsonschema.ValidationError, match="'warp' is not one of"):
        jsonschema.validate({"run": {"mode": "warp"}, "stages": {"a": {"url": "x"}}}, schema)


@pytest.mark.parametrize(
    ("live", "verbosity", "log_file", "wanted"),
    [
        (True, log.NORMAL, False, True),  # the live display shows each worker
        (False, log.VERBOSE, False, True),  # -v logs each unit and retry
        (False, log.NORMAL, True, True),  # --log-file does too
        (False, log.NORMAL, False, False),  # a pipe or CI: plain lines only
        (True, log.QUIET, False, False),  # -q on a terminal: nothing live
    ],
)
def test_workers_send_events_only_when_someone_watches(
    live: bool, verbosity: int, log_file: bool, wanted: bool, tmp_path: Path
) -> None:
    from yamlcrawl.engine.coordinator import Coordinator
    from yamlcrawl.engine.output import DryRun
    from yamlcrawl.ui.cli import watchers

    plan = lol_plan("serial")
    subscribers, _ = watchers(
        plan,
        verbosity,
        live=live,
        log=Console(file=io.StringIO()),
        log_file=io.StringIO() if log_file else None,
    )
    assert Publisher(subscribers).wants_worker_events() is wanted
    coordinator = Coordinator(plan, subscribers, DryRun())  # makes, sends nothing
    try:
        assert (coordinator.context.events.address is not None) is wanted
    finally:
        coordinator.backend.abort()
        coordinator._close(completed=False)
