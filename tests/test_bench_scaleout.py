"""benchmarks/dask_scaleout.py's pure parts: reading a process's CPU from /proc, the model of
where the speed-up ends on given figures, the site moved to another address, nginx listening on
it. The benchmark itself (a netns cluster, minutes of crawling) is not run by the suite."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from benchmarks import lolsite
from benchmarks.nginx import render_config
from benchmarks.scaleout_model import (
    Floor,
    Run,
    Shape,
    bounds,
    explain,
    median_run,
    model,
    save,
    stat_cpu,
    summary,
)

# the workers' 4 s of CPU is 1 ms a request: requests x (delay + 1 ms) / threads =
# 4000 x 20 ms / 8 = 10 s for one worker
SHAPE = Shape(requests=4000, files=3000, delay=0.019, threads=8, cores=2)


def measured(workers: int, wall: float = 10.0) -> Run:
    """A run whose scheduler spent 1.5 s, 0.5 s of it idling (0.05 s/s over 10 s): 1 s busy
    over 250 tasks; the client 3 s, 1 s of it what the one-page crawl costs too."""
    return Run(
        workers=workers, wall=wall, client_cpu=3.0, worker_cpu=4.0, scheduler_cpu=1.5,
        tasks=250, idle=0.05, fixed_wall=2.0, fixed_cpu=1.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stat", "ticks", "cpu"),
    [
        ("4242 (python3) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9", 100, 3.0),
        # a command name holding spaces and a ")" does not shift the fields
        ("7 (dask worker) x) R 1 7 7 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0", 10, 1.0),
    ],
)
def test_the_cpu_of_a_process_is_read_after_its_name(stat: str, ticks: int, cpu: float) -> None:
    assert stat_cpu(stat, ticks) == pytest.approx(cpu)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="no /proc")
def test_the_cpu_read_from_proc_is_the_kernels() -> None:
    sum(i * i for i in range(300_000))  # some CPU time to read
    times = os.times()
    own = stat_cpu(Path(f"/proc/{os.getpid()}/stat").read_text())
    assert own == pytest.approx(times.user + times.system, abs=0.05)


def test_the_scheduler_per_task_is_its_cpu_beyond_idling() -> None:
    run = measured(1)
    assert run.busy_scheduler == pytest.approx(1.0)
    assert run.per_task == pytest.approx(0.004)


def test_each_bound_comes_from_a_measured_figure_and_the_largest_binds() -> None:
    # (workers, latency, worker, scheduler, client, CPU over 2 cores, binding)
    table = [
        (1, 10.0, 4.0, 1.0, 2.0, 3.5, "latency"),
        (2, 5.0, 2.0, 1.0, 2.0, 3.5, "latency"),
        (4, 2.5, 1.0, 1.0, 2.0, 3.5, "cpu"),
    ]
    for workers, latency, worker, scheduler, client, cpu, binding in table:
        found = bounds(measured(workers), SHAPE)
        figures = (found.latency, found.worker, found.scheduler, found.client, found.cpu)
        assert figures == pytest.approx((latency, worker, scheduler, client, cpu))
        assert found.binding() == binding


def test_the_model_says_where_the_speed_up_ends() -> None:
    fit = model([measured(1), measured(2), measured(3)], SHAPE)
    assert fit.fixed == 2.0
    assert fit.predicted == pytest.approx({1: 12.0, 2: 7.0, 3: 5.5})
    assert fit.binding == {1: "latency", 2: "latency", 3: "cpu"}
    assert (fit.per_task, fit.task_ceiling, fit.files_per_task) == pytest.approx((0.004, 250, 12))
    assert fit.file_ceiling == pytest.approx(3000)
    assert fit.scheduler_workers == pytest.approx(10.0)  # 10 s of waiting / 1 s of scheduler
    assert fit.end_workers == pytest.approx(5.0)  # 10 s / the client's 2 s
    # on hosts of their own: 2 s fixed + max(10 s / n, 4 s / n, 1 s, 2 s)
    assert fit.projected == pytest.approx(
        {1: 12.0, 2: 7.0, 3: 2 + 10 / 3, 4: 4.5, 6: 4.0, 8: 4.0, 16: 4.0}
    )


def test_the_model_is_printed_with_its_figures() -> None:
    floors = [Floor(2000, 1.0, 0.5), Floor(2000, 3.0, 2.0, "submit")]
    lines = explain([measured(1), measured(2), measured(3)], floors, SHAPE)
    assert "  T_fixed (the same command crawling one page) 2.00 s" in lines
    assert (
        "  n=3: latency 3.33, worker 1.33, scheduler 1.00, client 2.00, CPU/2 cores 3.50 s:"
        " cpu binds; T = 5.50 s, measured 10.00 s (+4.50 s)" in lines
    )
    assert any("(Dask's no-op floor 0.25 ms: 4000 tasks/s; submit: 1.00 ms)" in s for s in lines)


def test_the_median_run_takes_each_figure_s_median() -> None:
    runs = [measured(2, 5.0), measured(2, 7.0), measured(2, 6.0)]
    assert median_run(runs) == measured(2, 6.0)


def test_the_site_moves_to_another_address_with_its_images_shared(tmp_path: Path) -> None:
    site, moved = tmp_path / "site", tmp_path / "moved"
    (site / "js").mkdir(parents=True)
    (site / "js/hero.js").write_text('{"img": "http://127.0.0.1:18080/a/b.jpg"}', "utf-8")
    (site / "urls.txt").write_text("http://127.0.0.1:18080/a/b.jpg\tx/b.jpg\n", "utf-8")
    (site / "b.jpg").write_bytes(b"http://127.0.0.1:18080 stays in an image")
    lolsite.relocate(site, "http://127.0.0.1:18080", moved, "http://10.77.3.1:18080")
    assert (moved / "js/hero.js").read_text("utf-8") == '{"img": "http://10.77.3.1:18080/a/b.jpg"}'
    assert (moved / "urls.txt").read_text("utf-8") == "http://10.77.3.1:18080/a/b.jpg\tx/b.jpg\n"
    assert (moved / "b.jpg").stat().st_ino == (site / "b.jpg").stat().st_ino


@pytest.mark.parametrize(
    ("host", "listen"),
    [({}, "listen 127.0.0.1:18080;"), ({"host": "10.77.3.1"}, "listen 10.77.3.1:18080;")],
)
def test_nginx_listens_on_the_address_asked(host: dict[str, str], listen: str) -> None:
    assert listen in render_config(Path(sys.prefix), 18080, 0, None, **host)


def test_without_namespaces_the_benchmark_skips_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import dask_scaleout

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert dask_scaleout.main([]) == 0
    said = capsys.readouterr().out
    assert said == "dask_scaleout: skipped: network namespaces need root (`ip netns add`)\n"


def test_saved_figures_are_reported_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks import dask_scaleout

    runs = [measured(1, 12.0), measured(2, 7.0), measured(3, 6.0)]
    # two rounds of both floors; each kind's medians are reported
    floors = [Floor(2000, 1.0, 0.4), Floor(2000, 3.0, 2.2, "submit")]
    floors += [Floor(2000, 1.2, 0.6), Floor(2000, 3.4, 2.6, "submit")]
    save(tmp_path / "figures.json", runs, floors, SHAPE)
    assert dask_scaleout.main(["--report", str(tmp_path / "figures.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == summary(runs, floors, SHAPE)
    assert lines[0] == (
        "medians of 1 runs; 19 ms per response; 4000 requests, 3000 files; 8 threads per worker;"
        " 2 cores"
    )
    # 3000 files in 12 s; the scheduler 1.5 s, 0.6 s of it idling: 0.9 s over 250 tasks
    row = ["1", "12.00", "250", "1.00x", "3.00s", "4.00s", "1.50s", "250", "3.60", "ms"]
    assert lines[2].split() == row
    assert lines[6:8] == [
        "Dask's floor, client.map of a no-op, 2000 tasks: 0.55 ms a task (wall),"
        " 0.25 ms of scheduler CPU a task",
        "Dask's floor, a no-op client.submit-ted and gathered one at a time, as yamlcrawl does,"
        " 2000 tasks: 1.60 ms a task (wall), 1.20 ms of scheduler CPU a task",
    ]
