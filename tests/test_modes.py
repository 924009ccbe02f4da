"""Every mode gives serial's files, bytes and manifest; each process has its own session;
a worker that dies mid-unit is noticed, its unit retried, and the run finishes."""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import signal
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ModeArgs, RunCli
from tests.support import ROOT, SAMPLES, Recorder, Site, lol_args, manifest_records, saved_files
from yamlcrawl.backends import modes
from yamlcrawl.engine.coordinator import Coordinator
from yamlcrawl.http import curl
from yamlcrawl.http.session import Session, new_page_session
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import build_plan
from yamlcrawl.types import DownloadUnit, FileResult, HttpSettings
from yamlcrawl.work import run as work
from yamlcrawl.work.cancel import CancelToken
from yamlcrawl.work.context import RunContext

MODES = ["serial", "process", "queue", "pool", "thread", "dask"]
PROCESS_MODES = ["process", "queue", "pool"]


def expected_files(site: Site) -> dict[str, bytes]:
    """What the sample's expected.json says the crawl saves, with the bytes it must have."""
    return {e["path"]: site.source_bytes(e["source"]) for e in site.expected}


def outcome(output: Path) -> tuple[dict[str, bytes], list[str]]:
    """Files with their bytes, and the manifest records in a canonical order (without the
    time each was settled, the one field that differs from run to run)."""
    timeless = ({k: v for k, v in r.items() if k != "time"} for r in manifest_records(output))
    records = sorted(json.dumps(r, sort_keys=True) for r in timeless)
    return saved_files(output), records


@pytest.fixture(scope="module")
def serial_lol(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], list[str]]:
    """The reference: crawler.yaml on the LoL mirror in serial mode."""
    from samples.serve import start_server
    from yamlcrawl.ui import cli

    server, base = start_server(SAMPLES / "lol" / "site")
    try:
        output = tmp_path_factory.mktemp("serial") / "out"
        site = Site("lol", SAMPLES / "lol" / "site", server, base)
        assert cli.main([str(a) for a in lol_args(site, output, "--mode", "serial", "-q")]) == 0
        files, records = outcome(output)
        return files, [r.replace(base, "BASE") for r in records]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("mode", "start_method"),
    # Dask's workers by spawn, its default and yamlcrawl's: a local cluster forked from this
    # busy test process can hang while it starts (README, "Scale-out"), as CI once saw here.
    [(mode, "spawn" if mode == "dask" else "fork") for mode in MODES]
    + [(mode, "spawn") for mode in PROCESS_MODES],
)
def test_every_mode_gives_the_same_lol_files_and_manifest(
    mode: str,
    start_method: str,
    lol_site: Site,
    run_cli: RunCli,
    tmp_path: Path,
    serial_lol: tuple[dict[str, bytes], list[str]],
) -> None:
    output = tmp_path / "out"
    options = ["--mode", mode, "--workers", "3", "--start-method", start_method, "-q"]
    run = run_cli(*lol_args(lol_site, output, *options))
    assert run.code == 0, run.out + run.err
    files, records = outcome(output)
    assert files == serial_lol[0]
    assert [r.replace(lol_site.base, "BASE") for r in records] == serial_lol[1]
    assert not list(output.rglob("*.part"))


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_gives_the_other_samples_expected_files(
    mode: str, other_site: Site, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path
) -> None:
    """Dask mode joins the shared cluster: the LoL test above starts local clusters."""
    output = tmp_path / "out"
    config = SAMPLES / other_site.name / "crawler.yaml"
    options = [*mode_args(mode), "--workers", "2", "--threads", "2", "-q"]
    run = run_cli(config, "--set", f"api={other_site.base}", "--output", output, *options)
    assert run.code == 0, run.out + run.err
    assert saved_files(output) == expected_files(other_site)


class EngineOfOneProcess(curl.Engine):
    """A real libcurl engine that refuses transfers from any process but the one that made it."""

    def __init__(self) -> None:
        super().__init__()
        self.made_in = os.getpid()

    def run(self, transfer: Any) -> curl.Reply:
        if os.getpid() != self.made_in:
            raise AssertionError(f"engine made in {self.made_in} used in {os.getpid()}")
        return super().run(transfer)


def pages_of_one_process(settings: HttpSettings) -> requests.Session:
    """The page client factory of the test below: a real one that refuses to send from any
    process but the one that made it."""
    client = new_page_session(settings)
    made_in = os.getpid()
    send = client.send

    def guarded(*args: Any, **kwargs: Any) -> requests.Response:
        if os.getpid() != made_in:
            raise AssertionError(f"page client made in {made_in} used in {os.getpid()}")
        return send(*args, **kwargs)

    client.send = guarded  # type: ignore[method-assign]
    return client


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_each_process_uses_a_client_it_made_itself(
    mode: str, lol_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original shared one session across forked children and got other requests' bytes.

    Every page client the run's session makes, and every libcurl engine files go through,
    remembers the process that made it; sending from any other process fails the unit, so a
    client or an engine shared across a fork would fail this run.
    """
    monkeypatch.setattr(curl, "Engine", EngineOfOneProcess)
    monkeypatch.setattr(curl, "_engines", {})  # none made yet, in this process or any
    loaded = load_spec(
        ROOT / "crawler.yaml", {"img": f"{lol_site.base}/images/lol/act/img"}, modes()
    )
    plan = build_plan(loaded.spec, loaded.source).with_overrides(
        mode=mode, start_method="fork", output_dir=str(tmp_path / "out")
    )
    session = Session(plan.http, pages=pages_of_one_process)
    coordinator = Coordinator(plan, [Recorder()], session=session)
    parent = curl.engine()  # clients in the parent (process mode forks later)
    coordinator.context.session.page_client()
    try:
        stats = coordinator.run()
    finally:
        parent.close()
    assert stats.ok, stats.failures
    assert stats.saved == 48


class DiesAtItsFirstChunk(CancelToken):
    """A cancel token that kills its process when a download looks at it (with each chunk)."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def check(self) -> None:
        faulthandler.disable()  # pytest's would print a "fatal error" report for SIGSEGV
        if self.how == "os._exit":
            os._exit(3)
        os.kill(os.getpid(), getattr(signal, self.how))


def die_on_first_try(how: str, marker: Path, victim: str) -> Callable[..., Any]:
    """A download_file that kills its own worker process the first time it meets ``victim``.

    It dies mid-body: after the first chunk has been written to the `.part` file.
    """
    real = work.download_file

    def download_file(run: RunContext, unit: DownloadUnit) -> FileResult:
        if unit.path != victim or marker.exists():
            return real(run, unit)
        marker.touch()
        return real(replace(run, cancel=DiesAtItsFirstChunk(how)), unit)

    return download_file


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSEGV", "os._exit"])
@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_a_worker_that_dies_mid_download_is_noticed_and_its_file_retried(
    mode: str,
    how: str,
    lol_site: Site,
    run_cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = "九尾妖狐/K／DA 阿狸电脑版.jpg"
    monkeypatch.setattr(work, "download_file", die_on_first_try(how, tmp_path / "died", victim))
    output = tmp_path / "out"
    run = run_cli(*lol_args(lol_site, output, "--mode", mode, "--start-method", "fork", "-v"))
    assert (tmp_path / "died").exists(), "the victim was never downloaded"
    assert run.code == 0, run.out + run.err
    assert saved_files(output) == expected_files(lol_site)
    assert not list(output.rglob("*.part"))


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_a_unit_that_always_kills_its_worker_fails_alone(
    mode: str,
    lol_site: Site,
    run_cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = "迅捷斥候/迅捷斥候电脑版.jpg"
    real = work.download_file

    def deadly(run: Any, unit: DownloadUnit) -> FileResult:
        if unit.path == victim:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(run, unit)

    monkeypatch.setattr(work, "download_file", deadly)
    output = tmp_path / "out"
    run = run_cli(*lol_args(lol_site, output, "--mode", mode, "--start-method", "fork", "-q"))
    assert run.code == 1
    assert len(saved_files(output)) == 47
    failed = [r for r in manifest_records(output) if r["status"] == "failed"]
    assert [r["path"] for r in failed] == [victim]
    assert "SIGKILL" in failed[0]["error"] or "died" in failed[0]["error"], failed[0]["error"]
    assert "(2 times)" in failed[0]["error"]


def kill_siblings_once(marker: Path, victim: str) -> Callable[..., Any]:
    """A download_file that, on ``victim``, SIGKILLs every other worker of the run once.

    Idle workers die too, some while they wait in ``get()`` holding the task queue's lock: the
    worst moment for a shared queue.
    """
    real = work.download_file

    def download_file(run: Any, unit: DownloadUnit) -> FileResult:
        if unit.path == victim and not marker.exists():
            marker.touch()
            for pid in sibling_workers():
                with contextlib.suppress(ProcessLookupError):  # it may have just ended
                    os.kill(pid, signal.SIGKILL)
        return real(run, unit)

    return download_file


def sibling_workers() -> list[int]:
    """The other worker processes of this worker's parent (not its resource tracker)."""
    me, parent = os.getpid(), os.getppid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == parent and b"resource_tracker" not in command:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds sibling workers through /proc")
@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_idle_workers_killed_while_holding_the_queue_lock_do_not_hang_the_run(
    mode: str,
    lol_site: Site,
    run_cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = "九尾妖狐/九尾妖狐手机版.jpg"
    monkeypatch.setattr(work, "download_file", kill_siblings_once(tmp_path / "done", victim))
    output = tmp_path / "out"
    options = ["--mode", mode, "--workers", "4", "--start-method", "fork", "-q"]
    run = run_cli(*lol_args(lol_site, output, *options))
    assert (tmp_path / "done").exists()
    assert run.code == 0, run.out + run.err
    assert saved_files(output) == expected_files(lol_site)
