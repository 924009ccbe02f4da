"""The live display stays calm at 4 x 16: busy workers only, the longest at work first, as many
as the terminal has room for (8 at most) under ``N busy / M idle``; nothing wider than the
terminal; no worker lines once the run ends; no remaining time while a total grows; red only
for failures; ``NO_COLOR`` takes the colours, not the display."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.color import Color
from rich.console import Console
from rich.segment import Segment

from tests.test_progress import Clock, file_unit, lol_plan, skins_to_come
from yamlcrawl.engine.publish import Publisher
from yamlcrawl.types import FileResult, PageResult, PageUnit
from yamlcrawl.ui.display import Display, natural
from yamlcrawl.work.events import Event

TIME = r"\d+:\d\d:\d\d"


def drawn(screen: Display, width: int = 100, height: int = 30) -> list[str]:
    """The display's lines on a terminal of this size, as text."""
    console = Console(  # soft_wrap: as the run's own console (ui/log.py plain_console)
        file=io.StringIO(), force_terminal=True, width=width, height=height, record=True,
        soft_wrap=True,
    )  # fmt: skip
    console.print(screen)
    return console.export_text().splitlines()


def busy_run(workers: int = 4, threads: int = 16) -> tuple[Display, Publisher, Clock]:
    """A display of a run at ``workers x threads`` with the hero list in and skins to come."""
    run = skins_to_come(workers, threads)
    return run.screen, run.reporter, run.clock


def start_files(reporter: Publisher, clock: Clock, threads: list[int]) -> None:
    """Each thread (in this order, 0.1 s apart) starts a file with a long URL."""
    for n in threads:
        reporter.file_planned(file_unit(n, 0))
        url = f"http://h/{'very/' * 30}{n}.jpg"
        event = Event("start", f"pid 7 thread {n}", ("file", file_unit(n, 0).key), url)
        reporter.worker_events([event])
        clock.now += 0.1


def worker_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("pid 7 thread ")]


def test_at_4_x_16_the_longest_at_work_come_first_then_busy_and_idle() -> None:
    screen, reporter, clock = busy_run()
    start_files(reporter, clock, [10, 2, 1, *range(11, 40)])  # 32 busy, 10 the longest
    reporter.file_done(FileResult(file_unit(2, 0), "saved", bytes=10, sha256="x"))
    lines = drawn(screen)
    names = [line.split("  ")[0] for line in worker_lines(lines)]
    assert names == [f"pid 7 thread {n}" for n in (10, 1, 11, 12, 13, 14, 15, 16)]
    assert lines[-1] == "31 busy / 33 idle (8 at work the longest shown)"
    assert all(cell_len(line) <= 100 for line in lines)
    assert re.search(r"very/very/…\s+\d+\.\ds$", worker_lines(lines)[0])  # cut, time kept


def test_a_short_terminal_lists_fewer_workers_and_never_overflows() -> None:
    screen, reporter, clock = busy_run()
    start_files(reporter, clock, list(range(1, 65)))
    # 4 bars, the counters on 2 lines at 60 columns, the busy line, a spare line
    for height, listed in [(30, 8), (14, 6), (9, 1), (8, 0), (3, 0)]:
        lines = drawn(screen, width=60, height=height)
        assert len(worker_lines(lines)) == listed, (height, lines)
        assert all(cell_len(line) <= 60 for line in lines)
        if height >= 8:
            assert len(lines) <= height - 1 and lines[-1].startswith("64 busy / 0 idle")


@pytest.mark.parametrize(
    ("names", "ordered"),
    [
        (["thread 10", "thread 2", "thread 1"], ["thread 1", "thread 2", "thread 10"]),
        (["pid 100 thread 3", "pid 99 thread 12"], ["pid 99 thread 12", "pid 100 thread 3"]),
        (
            ["dask worker b thread 2", "dask worker a thread 10"],
            ["dask worker a thread 10", "dask worker b thread 2"],
        ),
    ],
)
def test_worker_names_sort_by_their_numbers(names: list[str], ordered: list[str]) -> None:
    assert sorted(names, key=natural) == ordered


def test_workers_started_together_are_listed_in_numeric_order() -> None:
    screen, reporter, _ = busy_run()
    for n in (10, 2, 1):
        reporter.file_planned(file_unit(n, 0))
        reporter.worker_events(
            [Event("start", f"pid 7 thread {n}", ("file", file_unit(n, 0).key), "x")]
        )
    names = [line.split("  ")[0] for line in worker_lines(drawn(screen))]
    assert names == ["pid 7 thread 1", "pid 7 thread 2", "pid 7 thread 10"]


def test_a_start_that_comes_after_its_result_is_no_busy_worker() -> None:
    screen, reporter, _ = busy_run()
    screen.live = True  # events are sent (not drawn live here: no run_started again)
    unit = file_unit(3, 0)
    reporter.file_planned(unit)
    reporter.file_done(FileResult(unit, "saved", bytes=10, sha256="x"))
    reporter.worker_events([Event("start", "pid 7 thread 3", ("file", unit.key), "late")])
    assert worker_lines(drawn(screen)) == [] and drawn(screen)[-1] == "0 busy / 64 idle"


def test_a_unit_lost_with_a_dead_worker_and_run_again_leaves_no_line() -> None:
    screen, reporter, _ = busy_run()
    unit = file_unit(3, 0)
    reporter.file_planned(unit)
    for worker in ("pid 7 thread 3", "pid 7 thread 4"):  # thread 3's process died
        reporter.worker_events([Event("start", worker, ("file", unit.key), "GET x")])
    assert len(worker_lines(drawn(screen))) == 2
    reporter.file_done(FileResult(unit, "saved", bytes=10, sha256="x"))
    assert worker_lines(drawn(screen)) == [] and drawn(screen)[-1] == "0 busy / 64 idle"


def test_the_end_leaves_the_bars_and_no_worker_lines() -> None:
    screen, reporter, clock = busy_run()
    start_files(reporter, clock, [1, 2, 3])
    assert len(worker_lines(drawn(screen))) == 3
    screen.finish()
    lines = drawn(screen)
    assert worker_lines(lines) == [] and not any("busy" in line for line in lines)
    assert lines[0].startswith("heroes pages") and lines[-1].startswith("already present")


def test_no_remaining_time_while_a_total_grows() -> None:
    screen, reporter, clock = busy_run()
    reporter.file_planned(file_unit(0, 0))
    reporter.file_planned(file_unit(1, 0))
    clock.now += 1
    reporter.file_done(FileResult(file_unit(0, 0), "saved", bytes=10, sha256="x"))
    clock.now += 1
    bar = next(line for line in drawn(screen) if line.startswith("电脑版"))
    assert "1/2+" in bar and len(re.findall(TIME, bar)) == 1  # elapsed only
    assert "eta" not in " ".join(drawn(screen))
    for n in range(3):  # the skins pages are in: every total is final
        reporter.page_done(PageResult(PageUnit((0, n, 0), "skins", {}), "http://h/s", None))
    clock.now += 1
    bar = next(line for line in drawn(screen) if line.startswith("电脑版"))
    assert re.search(rf"1/2 .* {TIME}\s+eta {TIME}", bar), bar


def red(color: Color | None) -> bool:
    """A red, or a pink close to it (rich's default bar colour)."""
    if color is None:
        return False
    r, g, b = color.get_truecolor()
    return r >= 120 and g < r * 0.5 and b < r * 0.6


def terminal(no_color: bool = False) -> Console:
    return Console(
        file=io.StringIO(), force_terminal=True, width=120, height=30,
        color_system="truecolor", no_color=no_color,
    )  # fmt: skip


def coloured(screen: Display) -> list[Segment]:
    console = terminal()
    return [segment for line in console.render_lines(screen, console.options) for segment in line]


def colour_codes(written: str) -> list[str]:
    """The SGR parameters of ``written`` that set a colour (30-49, 90-107)."""
    params = [p for sgr in re.findall(r"\x1b\[([0-9;]*)m", written) for p in sgr.split(";")]
    return [p for p in params if p and (30 <= int(p) <= 49 or 90 <= int(p) <= 107)]


def test_red_only_for_failures() -> None:
    screen, reporter, clock = busy_run()
    start_files(reporter, clock, [1, 2])
    reporter.file_planned(file_unit(5, 0))
    reporter.file_done(FileResult(file_unit(1, 0), "saved", bytes=10**6, sha256="x"))
    clock.now += 1
    assert [s.text for s in coloured(screen) if s.style and red(s.style.color)] == []
    reporter.file_done(FileResult(file_unit(2, 0), "failed", error="HTTP 404"))
    reddened = [s.text for s in coloured(screen) if s.style and red(s.style.color)]
    assert reddened == ["failed 1"]


def test_no_color_takes_the_colours_and_keeps_the_display(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from yamlcrawl.ui.cli import watchers

    screen, reporter, clock = busy_run()
    start_files(reporter, clock, [1, 2])
    reporter.file_done(FileResult(file_unit(2, 0), "failed", error="HTTP 404"))
    console = terminal()
    console.print(screen)
    assert colour_codes(console.file.getvalue())  # type: ignore[attr-defined]
    console = terminal(no_color=True)
    console.print(screen)
    written = console.file.getvalue()  # type: ignore[attr-defined]
    assert colour_codes(written) == [] and "failed 1" in written and "1 busy / 63 idle" in written
    monkeypatch.setenv("NO_COLOR", "1")
    tty = Console(file=io.StringIO(), force_terminal=True)  # reads NO_COLOR
    assert tty.no_color
    _, display = watchers(lol_plan(), 1, log=tty, out=Console(file=io.StringIO()))
    assert display is not None  # the live display stays on a terminal
    _, display = watchers(lol_plan(), 1, log=Console(file=io.StringIO()))
    assert display is None  # not a terminal: plain lines
