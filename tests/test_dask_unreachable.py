"""Dask: a cluster worker that does not answer when a run starts (here SIGSTOPped after it
joined) is left out with a one-line warning and the run goes on with the others; with no
worker answering, the run stops with one line. Never a traceback."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster

from tests.support import SAMPLES, Recorder, Site
from yamlcrawl.backends import BackendError, modes
from yamlcrawl.backends import dask as dask_mode
from yamlcrawl.engine.coordinator import Coordinator
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import Plan, build_plan

SHORT = {"distributed.comm.timeouts.connect": "2s"}  # a stopped worker fails fast


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCluster]:
    monkeypatch.setattr(dask_mode, "PROBE_TIMEOUT", 2.0, raising=False)
    with (
        dask.config.set(SHORT),
        LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.CRITICAL,
        ) as local,
    ):
        yield local


@contextlib.contextmanager
def stopped(cluster: LocalCluster, count: int) -> Iterator[list[str]]:
    """SIGSTOP ``count`` of the cluster's workers (after they joined), for a while."""
    with Client(cluster) as client:
        pids: dict[str, int] = client.run(os.getpid)
    victims = sorted(pids)[:count]
    for address in victims:
        os.kill(pids[address], signal.SIGSTOP)
    try:
        yield victims
    finally:
        for address in victims:
            os.kill(pids[address], signal.SIGCONT)


def lol_plan(site: Site, output: Path, scheduler: str) -> Plan:
    loaded = load_spec(
        SAMPLES.parent / "crawler.yaml", {"img": f"{site.base}/images/lol/act/img"}, modes()
    )
    plan = build_plan(loaded.spec, loaded.source)
    return plan.with_overrides(mode="dask", output_dir=str(output), scheduler=scheduler)


def test_an_unreachable_worker_is_left_out_with_a_warning(
    cluster: LocalCluster, lol_site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = lol_plan(lol_site, tmp_path / "out", cluster.scheduler_address)
    with stopped(cluster, 1) as (victim,):
        stats = Coordinator(plan, [Recorder()]).run()
    assert stats.saved == 48 and not stats.failures
    warned = capsys.readouterr().err.splitlines()
    assert warned == [
        f"yamlcrawl: warning: the dask worker at {victim} did not answer within 2 s;"
        " going on with the 1 other"
    ]


def test_no_worker_reachable_stops_with_one_line(
    cluster: LocalCluster, lol_site: Site, tmp_path: Path
) -> None:
    plan = lol_plan(lol_site, tmp_path / "out", cluster.scheduler_address)
    with stopped(cluster, 2) as (first, second), pytest.raises(BackendError) as raised:
        Coordinator(plan, [Recorder()])
    assert str(raised.value) == (
        f"dask mode: no worker of the scheduler at {cluster.scheduler_address} answered within"
        f" 2 s ({first}: no answer; {second}: no answer) — expected its workers running"
        " and reachable from here"
    )
