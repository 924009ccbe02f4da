"""Fixtures: the sample sites served on 127.0.0.1 (port 0), and an in-process CLI runner."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from samples.serve import start_server
from tests.apiserver import api  # noqa: F401 (a fixture, for every test module)
from tests.support import REWRITES, SAMPLES, Run, Site
from yamlcrawl.http.session import Session
from yamlcrawl.types import HttpSettings
from yamlcrawl.ui import cli

RunCli = Callable[..., Run]
MakeSession = Callable[..., Session]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: three test processes per two cores. Most tests wait (on their servers,
    timeouts, Dask heartbeats, killed workers) more than they compute, so one per core leaves
    the cores idle; two per core starve the cluster tests, whose faults are timed."""
    cores = os.cpu_count() or 1
    return cores + (cores + 1) // 2


def _serve(name: str, root: Path) -> Iterator[Site]:
    server, base = start_server(root, REWRITES.get(name, ()))
    try:
        yield Site(name, root, server, base)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def lol_site() -> Iterator[Site]:
    """The LoL mirror, as checked in."""
    yield from _serve("lol", SAMPLES / "lol" / "site")


@pytest.fixture
def slow_lol_site() -> Iterator[Site]:
    """The LoL mirror answering every request 60 ms late, so a run lasts long enough to kill."""
    server, base = start_server(SAMPLES / "lol" / "site", delay=0.06)
    try:
        yield Site("lol", SAMPLES / "lol" / "site", server, base)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["books", "gallery", "shop", "feed", "ids"])
def other_site(request: pytest.FixtureRequest) -> Iterator[Site]:
    """Each of the other sample sites in turn."""
    yield from _serve(request.param, SAMPLES / request.param / "site")


@pytest.fixture
def broken_lol_site(tmp_path: Path) -> Iterator[Site]:
    """A copy of the LoL mirror that a test may damage before crawling."""
    root = tmp_path / "site"
    shutil.copytree(SAMPLES / "lol" / "site", root)
    yield from _serve("lol", root)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Call the CLI in-process, as the console script would, and capture what it prints."""

    def run(*args: Any) -> Run:
        code = cli.main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


# The modes a language feature is tested in: one per topology family (issue 15).
LANGUAGE_MODES = ["serial", "queue", "pool", "dask"]
ModeArgs = Callable[[str], list[str]]


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """One local Dask cluster for all the dask-mode runs of this test process: starting one per
    run would cost seconds each."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL,
    )
    try:
        # Every worker joined before any test uses it: a test that sets up the workers (their
        # environment, as tests/test_object_store.py does) reaches only those joined by then.
        with Client(cluster, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster.scheduler_address
    finally:
        # Bounded: some distributed versions can wait forever here on a worker's nanny, at the
        # end of the session; a worker left over exits with this process (it watches its parent).
        with contextlib.suppress(Exception):
            cluster.close(timeout=15)


@pytest.fixture
def mode_args(request: pytest.FixtureRequest) -> ModeArgs:
    """The options that run a crawl in ``mode``: dask mode joins the shared cluster."""

    def args(mode: str) -> list[str]:
        if mode == "dask":
            return ["--mode", "dask", "--scheduler", request.getfixturevalue("dask_scheduler")]
        return ["--mode", mode]

    return args


@pytest.fixture
def sleeps() -> list[float]:
    """The waits asked for by the sessions of ``session`` (none of them is slept)."""
    return []


@pytest.fixture
def session(sleeps: list[float]) -> Iterator[MakeSession]:
    """Make an HTTP session for calling fetch directly: ``session(settings, **options)``.

    Its sleep only records in ``sleeps``, so retries cost no time; other options (a transport,
    a clock) are passed on. Its connections are closed when the test ends: an unclosed socket
    would be a ResourceWarning, an error here.
    """
    made: list[Session] = []

    def make(settings: HttpSettings, **options: Any) -> Session:
        made.append(Session(settings, **{"sleep": sleeps.append, **options}))
        return made[-1]

    yield make
    for each in made:
        each.close()
