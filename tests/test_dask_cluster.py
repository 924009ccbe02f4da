"""Dask mode on a cluster of separate hosts (tests/netns.py: a worker per network namespace,
the scheduler and the site on the bridge), through the CLI, and the cluster's faults: a worker
unreachable at start, partitioned mid-run (and back), SIGKILLed, the scheduler killed. Each
run ends with the serial run's files, byte for byte, or stops with one line."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.netns import (
    Crawl,
    NetnsCluster,
    cannot_make_namespaces,
    netns_cluster,
    watched_crawl,
)
from tests.support import (
    Site,
    lol_args,
    lol_serial_run,
    lol_served,
    manifest_records,
    same_records,
    saved_files,
)

pytestmark = pytest.mark.xdist_group("netns-cluster")  # one cluster, built once
DELAY = 0.05  # seconds each response waits: a dask run lasts a few seconds, long enough to break
STALL_BOUND = 15.0  # seconds without a new file that a partition may cost (Dask's defaults: 30+)
FAULT_AFTER = 8  # files saved before the fault


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetnsCluster]:
    """Two hosts of two threads each, for the whole module (starting one costs seconds)."""
    reason = cannot_make_namespaces()
    if reason is not None:
        pytest.skip(f"no netns cluster: {reason}")
    with netns_cluster(2, tmp_path_factory.mktemp("netns")) as started:
        yield started


@pytest.fixture(scope="module")
def site(cluster: NetnsCluster) -> Iterator[Site]:
    """The LoL mirror on the bridge address, every answer DELAY late."""
    with lol_served(cluster.gateway, DELAY) as served:
        yield served


@pytest.fixture(scope="module")
def serial(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serial run's output folder."""
    return lol_serial_run(site, tmp_path_factory.mktemp("serial") / "out")


@pytest.fixture
def healthy(cluster: NetnsCluster) -> NetnsCluster:
    """The cluster as new before each test: links up, a scheduler, every worker joined."""
    for host in cluster.hosts:
        cluster.restore(host)
    if cluster.scheduler is None or cluster.scheduler.poll() is not None:
        cluster.restart()
    cluster.wait_for_workers(len(cluster.hosts))
    return cluster


def files_in(output: Path) -> int:
    """Files the run has put in place so far."""
    if not output.is_dir():
        return 0
    return sum(
        1
        for path in output.rglob("*")
        if path.is_file()
        and ".yamlcrawl" not in path.parts
        and path.suffix != ".part"
        and path.name != "manifest.jsonl"
    )


def crawl(
    cluster: NetnsCluster, site: Site, output: Path, fault: Callable[[], Any] | None = None
) -> Crawl:
    """Run the CLI in dask mode against the cluster; call ``fault`` once FAULT_AFTER files are
    in place, and measure the longest time without a new file from then on."""
    args = lol_args(site, output, "--mode", "dask", "--scheduler", cluster.address, "-q")
    return watched_crawl(args, lambda: files_in(output), FAULT_AFTER, fault)


def same_as_serial(output: Path, serial: Path, *, faults: bool = False) -> None:
    """The same files, byte for byte, and the same manifest but for its times (and, after
    ``faults``, how each file was got: saved, or found present)."""
    assert saved_files(output) == saved_files(serial)
    same_records(manifest_records(output), serial, faults=faults)


def test_without_root_the_cluster_tests_skip_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cannot_make_namespaces() == "network namespaces need root (`ip netns add`)"


def test_the_output_is_the_serial_runs(
    healthy: NetnsCluster, site: Site, serial: Path, tmp_path: Path
) -> None:
    run = crawl(healthy, site, tmp_path / "out")
    assert (run.code, run.err) == (0, "")
    same_as_serial(tmp_path / "out", serial)


def test_a_worker_unreachable_at_start_is_left_out(
    healthy: NetnsCluster, site: Site, serial: Path, tmp_path: Path
) -> None:
    """The worker that answered is then killed mid-run: its tasks go to the worker its
    supervisor starts (a new address), not wait for the one that did answer."""
    cut, other = healthy.hosts
    healthy.cut(cut)
    run = crawl(healthy, site, tmp_path / "out", lambda: healthy.kill_worker(other))
    assert run.code == 0
    (line,) = run.err.splitlines()
    assert line.startswith(f"yamlcrawl: warning: the dask worker at tcp://{cut.address}:")
    assert line.endswith("; going on with the 1 other")
    same_as_serial(tmp_path / "out", serial, faults=True)


def test_no_worker_reachable_at_start_stops_with_one_line(
    healthy: NetnsCluster, site: Site, tmp_path: Path
) -> None:
    for host in healthy.hosts:
        healthy.cut(host)
    run = crawl(healthy, site, tmp_path / "out")
    assert run.code == 2
    (line,) = run.err.splitlines()
    assert line.startswith(
        f"yamlcrawl: dask mode: no worker of the scheduler at {healthy.address} answered"
        " within 10 s ("
    )
    assert line.endswith(") — expected its workers running and reachable from here")
    assert files_in(tmp_path / "out") == 0


def test_a_worker_partitioned_mid_run_costs_seconds_and_is_used_again_once_back(
    healthy: NetnsCluster, site: Site, serial: Path, tmp_path: Path
) -> None:
    """Its tasks move once the scheduler drops it (5 s without a heartbeat). When its link is
    back, Dask's worker shuts down (the scheduler has forgotten it) and its supervisor starts a
    new one, which joins and takes tasks of the next run."""
    victim = healthy.hosts[0]
    back = threading.Thread(target=healthy.restore_once_dropped, args=(victim,))

    def partition() -> None:
        healthy.cut(victim)
        back.start()

    run = crawl(healthy, site, tmp_path / "out", partition)
    print(f"partition: longest stall {run.stall:.1f} s")
    assert (run.code, run.err) == (0, "")
    assert run.stall < STALL_BOUND
    same_as_serial(tmp_path / "out", serial, faults=True)

    back.join()
    healthy.wait_for_workers(len(healthy.hosts))
    assert healthy.tasks_run()[victim.name] == 0  # a new worker
    again = crawl(healthy, site, tmp_path / "again")
    assert (again.code, again.err) == (0, "")
    same_as_serial(tmp_path / "again", serial)
    assert healthy.tasks_run()[victim.name] > 0


def test_a_worker_killed_mid_run(
    healthy: NetnsCluster, site: Site, serial: Path, tmp_path: Path
) -> None:
    run = crawl(healthy, site, tmp_path / "out", lambda: healthy.kill_worker(healthy.hosts[0]))
    print(f"worker killed: longest stall {run.stall:.1f} s")
    assert (run.code, run.err) == (0, "")
    assert run.stall < STALL_BOUND
    same_as_serial(tmp_path / "out", serial, faults=True)


def test_the_scheduler_killed_mid_run_stops_it_and_a_rerun_finishes(
    healthy: NetnsCluster, site: Site, serial: Path, tmp_path: Path
) -> None:
    run = crawl(healthy, site, tmp_path / "out", healthy.kill_scheduler)
    assert run.code == 130
    assert run.err.splitlines() == [
        f"yamlcrawl: the dask scheduler at {healthy.address} was lost mid-run; the run stops"
        " here as if interrupted — the files saved are kept, and a rerun with a running"
        " scheduler fetches the rest"
    ]
    assert 0 < files_in(tmp_path / "out") < len(saved_files(serial))
    healthy.restart()
    rerun = crawl(healthy, site, tmp_path / "out")
    assert (rerun.code, rerun.err) == (0, "")
    same_as_serial(tmp_path / "out", serial, faults=True)
