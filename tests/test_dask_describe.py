"""Dask mode shows the cluster as it is: the summary's mode row, the report's ``cluster`` and
`yamlcrawl plan` name its workers, their threads and addresses, and its scheduler; a local
cluster (started by the platform's start method) still survives a worker killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from tests.conftest import RunCli
from tests.support import SAMPLES, Site, lol_args, manifest_records, saved_files
from yamlcrawl.backends import modes
from yamlcrawl.backends.dask import DaskBackend, cluster_shape
from yamlcrawl.engine.coordinator import Coordinator
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import Plan, build_plan
from yamlcrawl.types import ClusterShape, RunStats
from yamlcrawl.ui.report import report
from yamlcrawl.ui.summary import mode_text, summary_rows

SCHEDULER = "tcp://10.77.0.1:8786"

MODE_TEXTS = [
    (
        ClusterShape(SCHEDULER, (("tcp://10.77.0.11:40001", 8), ("tcp://10.77.0.12:40002", 8))),
        "dask, 2 workers × 8 threads (10.77.0.11, 10.77.0.12) at tcp://10.77.0.1:8786",
    ),
    (
        ClusterShape(SCHEDULER, (("tcp://127.0.0.1:4001", 2), ("tcp://127.0.0.1:4002", 2))),
        "dask, 2 workers × 2 threads (127.0.0.1:4001, 127.0.0.1:4002) at tcp://10.77.0.1:8786",
    ),
    (
        ClusterShape("tcp://127.0.0.1:8786", (("tcp://127.0.0.1:1", 2),) * 2, local=True),
        "dask, local cluster of 2 workers × 2 threads",
    ),
    (
        ClusterShape(SCHEDULER, (("tcp://10.0.0.2:9000", 1),)),
        "dask, 1 worker × 1 thread (10.0.0.2) at tcp://10.77.0.1:8786",
    ),
    (
        ClusterShape(
            SCHEDULER,
            (("tcp://10.0.0.2:9000", 4), ("tcp://10.0.0.3:9000", 4), ("tcp://10.0.0.4:9000", 2)),
        ),
        "dask, 3 workers, 10 threads in all (10.0.0.2, 10.0.0.3, 10.0.0.4) at tcp://10.77.0.1:8786",
    ),
    (
        ClusterShape(SCHEDULER, tuple((f"tcp://10.0.0.{n}:9000", 1) for n in range(1, 9))),
        "dask, 8 workers × 1 thread (10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.6"
        " and 2 more) at tcp://10.77.0.1:8786",
    ),
    (
        ClusterShape("tcp://[::1]:8786", (("tcp://[::1]:4001", 2), ("tcp://[fe80::2]:4001", 2))),
        "dask, 2 workers × 2 threads ([::1], [fe80::2]) at tcp://[::1]:8786",
    ),
]


def crawl_plan(**overrides: Any) -> Plan:
    """crawler.yaml's plan (the LoL crawl) with ``overrides``."""
    loaded = load_spec(SAMPLES.parent / "crawler.yaml", {"img": "http://127.0.0.1:9/img"}, modes())
    return build_plan(loaded.spec, loaded.source).with_overrides(**overrides)


@pytest.mark.parametrize(("shape", "text"), MODE_TEXTS)
def test_the_mode_row_names_the_cluster_as_found(shape: ClusterShape, text: str) -> None:
    plan = crawl_plan(mode="dask", workers=4, threads=1)  # the file's figures: not shown
    assert mode_text(plan, RunStats(cluster=shape)) == text


def test_without_a_cluster_the_mode_row_is_the_files_figures() -> None:
    plan = crawl_plan(mode="queue", workers=4, threads=2)
    assert mode_text(plan, RunStats()) == "queue, 4 workers × 2 threads"
    assert report(plan, RunStats())["cluster"] is None


def test_the_shape_is_what_the_scheduler_says() -> None:
    info = {
        "address": SCHEDULER,
        "workers": {
            "tcp://10.0.0.3:9000": {"nthreads": 8, "name": "b"},
            "tcp://10.0.0.2:9000": {"nthreads": 4, "name": "a"},
        },
    }
    assert cluster_shape(info, local=False) == ClusterShape(
        SCHEDULER, (("tcp://10.0.0.2:9000", 4), ("tcp://10.0.0.3:9000", 8))
    )


def test_a_joined_cluster_is_shown_in_the_summary_the_report_and_plan(
    dask_scheduler: str,
    lol_site: Site,
    run_cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # the summary's rows on one line each
    with Client(dask_scheduler) as client:
        workers = sorted(client.nthreads())
    addresses = ", ".join(w.removeprefix("tcp://") for w in workers)
    shown = f"2 workers × 2 threads ({addresses}) at {dask_scheduler}"
    output, saved = tmp_path / "out", tmp_path / "report.json"
    options = ["--mode", "dask", "--scheduler", dask_scheduler, "--report", saved]

    run = run_cli("run", *lol_args(lol_site, output, *options, "--workers", "4"))

    assert run.code == 0, run.out + run.err
    assert f"│ mode │ dask, {shown} │" in " ".join(run.out.split())
    assert json.loads(saved.read_text("utf-8"))["cluster"] == {
        "scheduler": dask_scheduler,
        "local": False,
        "workers": [{"address": worker, "threads": 2} for worker in workers],
    }
    planned = run_cli("plan", *lol_args(lol_site, output)[:3], *options[:4])  # no --output
    assert planned.code == 0, planned.err
    assert f"dask: the cluster of {shown}" in " ".join(planned.out.split())


def test_a_local_cluster_is_shown_and_survives_a_worker_killed_mid_run(
    slow_lol_site: Site, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    img = f"{slow_lol_site.base}/images/lol/act/img"
    loaded = load_spec(SAMPLES.parent / "crawler.yaml", {"img": img}, modes())
    plan = build_plan(loaded.spec, loaded.source).with_overrides(
        mode="dask", workers=2, threads=2, output_dir=str(output)
    )
    coordinator = Coordinator(plan, [])
    backend = coordinator.backend
    assert isinstance(backend, DaskBackend) and backend.cluster is not None
    victim = sorted(n.pid for n in backend.cluster.workers.values() if n.pid)[0]
    killed: list[int] = []
    run_over = threading.Event()

    def kill_when_busy() -> None:
        while len(list(output.rglob("*.jpg"))) < 8:
            if run_over.wait(0.01):
                return  # the run ended first: nothing killed, which the test then says
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    try:
        stats = coordinator.run()
    finally:
        run_over.set()
        killer.join()

    assert killed == [victim], "the run ended before a worker could be killed mid-run"
    assert stats.ok and stats.saved + stats.present == 48
    assert dict(summary_rows(plan, stats))["mode"] == "dask, local cluster of 2 workers × 2 threads"
    cluster = report(plan, stats)["cluster"]
    assert cluster["local"] is True and [w["threads"] for w in cluster["workers"]] == [2, 2]
    records = [r for r in manifest_records(output) if r["status"] in ("saved", "present")]
    assert sorted(r["path"] for r in records) == sorted(saved_files(output))
    assert len(records) == 48
