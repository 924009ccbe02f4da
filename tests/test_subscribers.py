"""The coordinator publishes, the rest subscribes: the publisher calls only the subscribers that
take an event, in their order; the counts (RunStats) are one set, settled by results; a run
publishes in crawl order in every mode; a dry run is the same loop with another output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import SAMPLES, Site
from yamlcrawl.backends import modes
from yamlcrawl.engine.coordinator import Coordinator
from yamlcrawl.engine.output import DryRun
from yamlcrawl.engine.publish import Publisher
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import Plan, build_plan
from yamlcrawl.types import (
    DownloadUnit,
    Event,
    FileRequest,
    FileResult,
    PageResult,
    PageUnit,
    RunStats,
    Subscriber,
)
from yamlcrawl.ui.outcome import verdict


class Files(Subscriber):
    """Takes files only."""

    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    def file_done(self, result: FileResult) -> None:
        self.calls.append(("files", result.unit.path))


class Pages(Files):
    """Takes pages, and files too."""

    def page_done(self, result: PageResult) -> None:
        self.calls.append(("pages", result.url))

    def file_done(self, result: FileResult) -> None:
        self.calls.append(("pages", result.unit.path))


def download(n: int) -> DownloadUnit:
    return DownloadUnit((0, n, 0), "list", f"http://h/{n}", f"{n}.bin", (), False)


def test_each_event_reaches_the_subscribers_that_take_it_in_their_order() -> None:
    calls: list[tuple[str, Any]] = []
    publisher = Publisher([Pages(calls), Subscriber(), Files(calls)])
    publisher.file_done(FileResult(download(1), "saved", bytes=3))
    publisher.page_done(PageResult(PageUnit((0,), "list", {}), "http://h/list", None))
    publisher.page_queued(PageUnit((0,), "list", {}))  # taken by none: nothing happens
    assert calls == [("pages", "1.bin"), ("files", "1.bin"), ("pages", "http://h/list")]
    assert publisher._page_queued == ()  # an event nobody takes costs an empty loop
    assert len(publisher._file_done) == 2 and not publisher.wants_worker_events()


def bytes_event(n: int, amount: int) -> Event:
    return Event("bytes", "pid 1", ("file", (0, n, 0)), amount=amount)


def retry_event(n: int) -> Event:
    return Event("retry", "pid 1", ("file", (0, n, 0)), "HTTP 503; retry 1 of 3")


@pytest.mark.parametrize(
    ("events", "results", "so_far", "exact"),
    [
        # (what workers said, results that came back, (bytes, retries) so far, exact ones)
        ([bytes_event(1, 700)], [], (700, 0), (0, 0)),
        ([bytes_event(1, 700)], [FileResult(download(1), "saved", 1000)], (1000, 0), (1000, 0)),
        ([bytes_event(1, 700)], [FileResult(download(1), "failed", error="reset")], (0, 0), (0, 0)),
        ([retry_event(1), retry_event(2)], [], (0, 2), (0, 0)),
        ([retry_event(1)], [FileResult(download(1), "saved", 5, attempts=2)], (5, 1), (5, 1)),
        ([], [FileResult(download(1), "present", 5, attempts=3)], (0, 2), (0, 2)),  # unwatched
        ([bytes_event(2, 9)], [FileResult(download(1), "saved", 5)], (14, 0), (5, 0)),
    ],
)
def test_the_counts_take_back_what_running_units_reported_once_their_results_come(
    events: list[Event],
    results: list[FileResult],
    so_far: tuple[int, int],
    exact: tuple[int, int],
) -> None:
    stats = RunStats()
    stats.worker_events(events)
    for result in results:
        stats.file_done(result)
    assert (stats.bytes_so_far, stats.retries_so_far) == so_far
    assert (stats.bytes, stats.retries) == exact


class Journal(Subscriber):
    """Keeps what a run published, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def run_started(self, stats: RunStats) -> None:
        self.seen.append(("run_started", stats))

    def page_released(self, result: PageResult) -> None:
        self.seen.append(("page_released", result.unit.key))

    def file_planned(self, unit: DownloadUnit) -> None:
        self.seen.append(("file_planned", unit.key))

    def file_done(self, result: FileResult) -> None:
        self.seen.append(("file_done", result.status))

    def file_skipped(self, request: FileRequest, status: str, reason: str) -> None:
        self.seen.append(("file_skipped", status))

    def run_ended(self, stats: RunStats) -> None:
        self.seen.append(("run_ended", stats))

    def of(self, event: str) -> list[Any]:
        return [what for name, what in self.seen if name == event]


def lol_plan(site: Site, output: Path, mode: str) -> Plan:
    loaded = load_spec(
        SAMPLES.parent / "crawler.yaml", {"img": f"{site.base}/images/lol/act/img"}, modes()
    )
    plan = build_plan(loaded.spec, loaded.source)
    return plan.with_overrides(mode=mode, output_dir=str(output), workers=2)


@pytest.mark.parametrize("mode", ["serial", "process", "queue", "pool", "thread"])
def test_a_run_publishes_in_crawl_order_in_every_mode(
    mode: str, lol_site: Site, tmp_path: Path
) -> None:
    """(dask runs the same loop: tests/test_dask.py)"""
    journal = Journal()
    stats = Coordinator(lol_plan(lol_site, tmp_path / "out", mode), [journal]).run()
    assert journal.seen[0] == ("run_started", stats) and journal.seen[-1] == ("run_ended", stats)
    released, planned = journal.of("page_released"), journal.of("file_planned")
    assert released == sorted(released) and len(released) == stats.pages == 6
    assert planned == sorted(planned) and len(planned) == stats.planned == 48
    assert journal.of("file_done") == ["saved"] * 48
    assert journal.of("file_skipped") == ["skipped"] * 12 == ["skipped"] * stats.skipped


def test_a_dry_run_is_the_same_loop_with_an_output_that_lists(
    lol_site: Site, tmp_path: Path
) -> None:
    journal = Journal()
    output = tmp_path / "out"
    stats = Coordinator(lol_plan(lol_site, output, "thread"), [journal], DryRun()).run()
    assert len(journal.of("file_planned")) == stats.planned == 48
    assert journal.of("file_done") == [] and stats.saved == 0
    assert not output.exists()  # no folder taken, no manifest, no state
    assert stats.dry_run and verdict(stats) == "dry run finished"


class CutShort(Subscriber):
    """A summary that Ctrl-C interrupts while it is written."""

    def run_ended(self, stats: RunStats) -> None:
        raise KeyboardInterrupt


def test_ctrl_c_while_the_summary_is_written_ends_the_run_interrupted_not_with_a_trace(
    lol_site: Site, tmp_path: Path
) -> None:
    stats = Coordinator(lol_plan(lol_site, tmp_path / "out", "serial"), [CutShort()]).run()
    assert stats.interrupted and stats.saved == 48
