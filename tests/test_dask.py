"""`dask` mode on a cluster the test starts: a worker killed mid-run loses nothing, a shared
cluster serves several runs, progress comes from the workers, and what cannot work says why."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from tests.conftest import RunCli
from tests.support import (
    SAMPLES,
    Recorder,
    Site,
    list_crawl,
    lol_args,
    manifest_records,
    saved_files,
)
from yamlcrawl.backends import BackendError, modes
from yamlcrawl.backends import dask as dask_mode
from yamlcrawl.engine.coordinator import Coordinator
from yamlcrawl.http.session import Session
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import Plan, build_plan
from yamlcrawl.types import Lost, PageResult, PageUnit
from yamlcrawl.work.cancel import CancelToken
from yamlcrawl.work.context import RunContext


def local_cluster(workers: int = 2) -> LocalCluster:
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=2,
        processes=True,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL,
    )


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A cluster that outlives every run: what `dask scheduler` + `dask worker` give."""
    with local_cluster() as cluster:
        yield cluster.scheduler_address


def expected_files(site: Site) -> dict[str, bytes]:
    return {e["path"]: site.source_bytes(e["source"]) for e in site.expected}


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(
    slow_lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    killed: list[int] = []
    run_over = threading.Event()
    with local_cluster() as cluster, Client(cluster) as client:
        pids: dict[str, int] = client.run(os.getpid)
        victim = sorted(pids.values())[0]

        def kill_when_busy() -> None:
            while len(list(output.rglob("*.jpg"))) < 8:
                if run_over.wait(0.01):
                    return  # the run ended first: nothing to kill, and this thread ends with it
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        options = ["--mode", "dask", "--scheduler", cluster.scheduler_address, "-q"]
        try:
            run = run_cli(*lol_args(slow_lol_site, output, *options))
        finally:
            run_over.set()
            killer.join()  # never outlives this test
        assert run.code == 0, run.out + run.err
        assert killed == [victim], "the run ended before a worker could be killed mid-run"
        client.wait_for_workers(2, timeout=20)  # the nanny brought it back
        assert victim not in client.run(os.getpid).values()
    assert saved_files(output) == expected_files(slow_lol_site)
    # Each file once: a batch the dead worker had begun runs again elsewhere, and finds the
    # files it had finished present.
    records = [r for r in manifest_records(output) if r["status"] in ("saved", "present")]
    assert sorted(r["path"] for r in records) == sorted(expected_files(slow_lol_site))
    assert not list(output.rglob("*.part"))


def test_a_result_lost_with_the_last_checked_worker_is_computed_again_elsewhere(
    lol_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tasks go to the workers that passed the start check. A finished task whose worker dies
    before its result is gathered runs again, but only where it may: with no checked worker
    left, the gather would wait forever (seen on the netns cluster: one worker unreachable at
    start, the other killed mid-run). A gather still waiting when no checked worker is left is
    cancelled: the unit comes back lost, and sent again it goes to the workers there now."""
    monkeypatch.setattr(dask_mode, "GATHER_WAIT", 1.0)
    monkeypatch.setattr(dask_mode, "CAPACITY_EVERY", 0.0)  # every look at capacity counts
    with local_cluster() as cluster, Client(cluster) as client:
        pids: dict[str, int] = client.run(os.getpid)
        checked, silent = sorted(pids)
        probe = dask_mode._probe_one
        monkeypatch.setattr(  # the other worker does not answer the start check
            dask_mode, "_probe_one", lambda c, w, *a: "" if w == silent else probe(c, w, *a)
        )
        plan = lol_plan(lol_site, tmp_path / "out", scheduler=cluster.scheduler_address)
        backend = dask_mode.DaskBackend(RunContext(plan, Session(plan.http), CancelToken()))
        try:
            assert backend.allowed == [checked]
            unit = PageUnit((0,), plan.start_stages[0].name, dict(plan.vars))
            backend.submit(unit)
            (task,) = backend._tasks.values()
            deadline = time.monotonic() + 20
            while task.future.status != "finished" and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(pids[checked], signal.SIGKILL)  # its result, not yet gathered, with it
            (lost,) = poll_until_some(backend, deadline=time.monotonic() + 40)
            assert isinstance(lost, Lost) and lost.unit == unit
            backend.capacity()  # as the coordinator does before it sends the unit again
            assert backend.allowed is not None and checked not in backend.allowed
            backend.submit(unit)
            (result,) = poll_until_some(backend, deadline=time.monotonic() + 40)
        finally:
            backend.close()
    assert isinstance(result, PageResult) and result.error is None


def poll_until_some(backend: dask_mode.DaskBackend, deadline: float) -> list[Any]:
    """The backend's first results, polled for in a thread, so that a hang fails the test."""
    results: list[Any] = []

    def poll() -> None:
        while not results and time.monotonic() < deadline:
            results.extend(backend.poll(0.5))

    polling = threading.Thread(target=poll, daemon=True)
    polling.start()
    polling.join(deadline - time.monotonic() + 5)
    assert not polling.is_alive(), "the gather waited for a worker that is gone"
    return results


def test_a_shared_cluster_serves_run_after_run(
    scheduler: str, lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    args = lol_args(lol_site, output, "--mode", "dask", "--scheduler", scheduler, "-q")
    first = run_cli(*args)
    assert first.code == 0, first.out + first.err
    assert saved_files(output) == expected_files(lol_site)
    (output / "黑暗之女" / "黑暗之女电脑版.jpg").unlink()

    second = run_cli(*args)  # the same cluster, still up; the rerun fetches only what is gone

    assert second.code == 0, second.out + second.err
    statuses = [r["status"] for r in manifest_records(output)]
    assert statuses.count("saved") == 1 and statuses.count("present") == 47
    assert not list((output / ".yamlcrawl").glob("probe-*"))  # the start check cleans up
    with Client(scheduler) as client:
        assert len(client.nthreads()) == 2  # leaving a cluster does not stop its workers


def lol_plan(site: Site, output: Path, **overrides: Any) -> Plan:
    loaded = load_spec(
        SAMPLES.parent / "crawler.yaml", {"img": f"{site.base}/images/lol/act/img"}, modes()
    )
    plan = build_plan(loaded.spec, loaded.source)
    return plan.with_overrides(mode="dask", output_dir=str(output), **overrides)


def test_progress_comes_from_the_workers(scheduler: str, lol_site: Site, tmp_path: Path) -> None:
    recorder = Recorder()
    plan = lol_plan(lol_site, tmp_path / "out", scheduler=scheduler)
    stats = Coordinator(plan, [recorder]).run()
    time.sleep(0.3)  # events are advice and may trail the results: collect the last ones
    assert stats.saved == 48
    starts = [e for e in recorder.events if e.kind == "start"]
    assert starts, "no event came back from the workers"
    assert all(e.worker.startswith("dask worker ") for e in starts)
    assert {e.unit[0] for e in starts} == {"page", "file"}
    assert any(e.detail.startswith("downloading ") for e in starts)


def test_workers_that_do_not_see_the_output_folder_are_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "worker-view"
    (elsewhere / ".yamlcrawl").mkdir(parents=True)

    class Cluster:  # a worker that sees another file system at the same path
        def scheduler_info(self) -> dict[str, Any]:
            return {"workers": {"tcp://10.0.0.7:40111": {}}}

        def run(self, function: Any, folder: str, token: str, **how: Any) -> dict[str, Any]:
            assert how["workers"] == ["tcp://10.0.0.7:40111"]
            return {"tcp://10.0.0.7:40111": function(str(elsewhere), token)}

    folder = tmp_path / "out"
    with pytest.raises(BackendError) as caught:
        dask_mode.check_shared_output(Cluster(), str(folder))  # type: ignore[arg-type]
    message = str(caught.value)
    probe = message.split("cannot read ")[1].split(",")[0]
    assert message == (
        f"dask mode: the worker at tcp://10.0.0.7:40111 does not share the output folder"
        f" {folder}: it cannot read {probe}, which the client wrote (No such file or directory)"
        " — on a cluster, the output folder must be on a file system every worker mounts at"
        " the same path, writable by the workers"
    )
    assert not list((folder / ".yamlcrawl").iterdir())  # no probe left behind


def test_the_start_check_passes_for_workers_that_share_it(scheduler: str, tmp_path: Path) -> None:
    with Client(scheduler) as client:
        dask_mode.check_shared_output(client, str(tmp_path))
    assert not list((tmp_path / ".yamlcrawl").iterdir())


def test_an_unreachable_scheduler_is_one_clear_line(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dask_mode, "CONNECT_TIMEOUT", 1)
    config = SAMPLES.parent / "crawler.yaml"
    output = tmp_path / "out"
    address = "tcp://127.0.0.1:9"  # discard: nothing listens there
    run = run_cli(config, "--mode", "dask", "--scheduler", address, "--output", output)
    assert run.code == 2
    assert run.err.startswith(f"yamlcrawl: dask mode cannot reach the scheduler at {address} (")
    assert run.err.rstrip().endswith(
        "— expected a running `dask scheduler` there, or no run.scheduler for a local cluster"
    )
    assert len(run.err.strip().splitlines()) == 1 and "Traceback" not in run.err


def test_without_distributed_the_mode_says_how_to_install_it(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    config = SAMPLES.parent / "crawler.yaml"
    run = run_cli(config, "--mode", "dask", "--output", tmp_path / "out")
    assert run.code == 2
    assert run.err == (
        "yamlcrawl: mode dask needs the distributed package, which is not installed"
        " — pip install 'yamlcrawl[dask]'\n"
    )


def test_a_scheduler_needs_dask_mode(run_cli: RunCli) -> None:
    config = SAMPLES.parent / "crawler.yaml"
    run = run_cli("plan", config, "--scheduler", "tcp://127.0.0.1:8786")
    assert run.code == 2
    assert run.err == (
        "yamlcrawl: --scheduler is for dask mode, and the mode is pool: add --mode dask\n"
    )


def test_the_readme_cluster_commands_run_a_crawl(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    """`dask scheduler` and `dask worker` as the README says, then `--scheduler`."""
    info = tmp_path / "scheduler.json"
    dask = str(Path(sys.executable).with_name("dask"))  # the command pip installs
    scheduler = [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    started = [quietly([*scheduler, "--scheduler-file", str(info)])]
    try:
        deadline = time.monotonic() + 30
        while not info.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        started.append(quietly([dask, "worker", address, "--nthreads", "4", "--no-dashboard"]))
        output = tmp_path / "out"
        run = run_cli(*lol_args(lol_site, output, "--mode", "dask", "--scheduler", address, "-q"))
        assert run.code == 0, run.out + run.err
        assert saved_files(output) == expected_files(lol_site)
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(10)


def quietly(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Trickle(BaseHTTPRequestHandler):
    """A list of 8 files, each 64 KB every 50 ms (10 s a file; a 256 KB chunk arrives every
    0.2 s, and a download looks at its run's token with each); counts the files being sent."""

    protocol_version = "HTTP/1.1"
    sending = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        if self.path == "/list":
            self._send(json.dumps({"items": [f"f{i}" for i in range(8)]}).encode())
            return
        self.send_response(200)
        self.send_header("Content-Length", str(200 * 65536))
        self.end_headers()
        with Trickle.lock:
            Trickle.sending += 1
        try:
            for _ in range(200):
                self.wfile.write(b"x" * 65536)
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass  # the client went away
        finally:
            with Trickle.lock:
                Trickle.sending -= 1

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_stopping_one_run_on_a_shared_cluster_stops_its_downloads_and_no_other_run(
    scheduler: str, lol_site: Site, tmp_path: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        config = list_crawl(tmp_path, base, {"url": "{api}/{item}", "save_as": "{item}"})
        loaded = load_spec(config, modes=modes())
        plan = build_plan(loaded.spec, loaded.source).with_overrides(
            mode="dask", scheduler=scheduler, output_dir=str(tmp_path / "slow")
        )
        cancel = CancelToken()
        stopped: list[Any] = []

        def crawl() -> None:  # made and run in its thread (its resume state is SQLite's)
            stopped.append(Coordinator(plan, [Recorder()], cancel=cancel).run())

        running = threading.Thread(target=crawl)
        running.start()
        deadline = time.monotonic() + 30
        while Trickle.sending < 2:  # downloads at work on the cluster's threads
            assert time.monotonic() < deadline, "the downloads never started"
            time.sleep(0.05)
        cancel.stop()  # what Ctrl-C does
        running.join(10)
        assert stopped and stopped[0].interrupted
        deadline = time.monotonic() + 5
        while Trickle.sending:  # each download gave up at its next chunk, its socket closed
            assert time.monotonic() < deadline, f"{Trickle.sending} downloads still going"
            time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    # The workers stopped that run alone: the next one, on the same workers, is whole.
    stats = Coordinator(lol_plan(lol_site, tmp_path / "next", scheduler=scheduler), [Recorder()])
    assert stats.run().saved == 48
