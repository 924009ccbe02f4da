"""The run context: one object per run (plan, HTTP session, cancel token, event sender) that
crosses to workers as plain data; the plan stays the crawl as loaded; tests inject a transport,
a sleep and a clock instead of patching modules."""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, MockTransport, Recorder, Request, Site, list_crawl, response
from yamlcrawl.backends import modes
from yamlcrawl.engine.coordinator import Coordinator
from yamlcrawl.http.session import Session
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import Plan, build_plan
from yamlcrawl.work.cancel import CancelToken, StoppedError, stop_run
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.events import EventSender

API = "http://api.invalid"
JSON = {"Content-Type": "application/json"}


def crossed(value: Any) -> Any:
    """``value`` as another process (a spawned worker, a Dask task) receives it."""
    return pickle.loads(pickle.dumps(value))


def plan_of(config: Path, output: Path, mode: str = "serial") -> Plan:
    loaded = load_spec(config, modes=modes())
    return build_plan(loaded.spec, loaded.source).with_overrides(mode=mode, output_dir=str(output))


# --- the cancel token ---------------------------------------------------------------------


def test_a_token_crossing_to_another_process_is_that_process_token_for_the_run() -> None:
    mine = CancelToken()
    there = crossed(mine)
    assert there is not mine and there.run == mine.run
    assert crossed(mine) is there  # every unit of the run there looks at one token


def test_stopping_a_run_on_a_worker_stops_its_units_and_no_other_run() -> None:
    first, second = CancelToken(), CancelToken()
    first_there, second_there = crossed(first), crossed(second)
    stop_run(first.run)
    assert first_there.stopped and not second_there.stopped
    with pytest.raises(StoppedError, match=r"^stopped: the run was interrupted$"):
        first_there.check()
    second_there.check()
    assert crossed(first).stopped  # a unit of the stopped run arriving later stops too
    assert not first.stopped  # the main process's own token is its own


def test_a_new_token_is_a_new_run() -> None:
    stopped = CancelToken()
    stopped.stop()
    fresh = CancelToken()
    assert fresh.run != stopped.run and not fresh.stopped


# --- the context crosses as plain data ----------------------------------------------------


def test_the_context_crosses_without_its_connections(tmp_path: Path) -> None:
    plan = plan_of(ROOT / "crawler.yaml", tmp_path)
    session = Session(plan.http, throttle_dir=str(tmp_path / "throttle"))
    run = RunContext(plan, session, CancelToken(), EventSender("a-dask-topic"))
    client = session.page_client()
    try:
        copy = crossed(run)
        assert copy.plan == plan
        assert (copy.session.settings, copy.session.throttle_dir) == (
            plan.http,
            session.throttle_dir,
        )
        assert copy.session.page_client() is not client
        assert copy.cancel.run == run.run
        assert copy.events.address == "a-dask-topic"
        copy.session.close()
    finally:
        session.close()


def test_the_plan_is_the_crawl_as_loaded(lol_site: Site, tmp_path: Path) -> None:
    img = f"{lol_site.base}/images/lol/act/img"
    loaded = load_spec(ROOT / "crawler.yaml", {"img": img}, modes())
    output = tmp_path / "out"
    plan = build_plan(loaded.spec, loaded.source).with_overrides(output_dir=str(output))
    coordinator = Coordinator(plan, [Recorder()])
    stats = coordinator.run()
    assert stats.ok and stats.saved == 48
    assert coordinator.context.plan is plan  # not a copy with run-time things in it
    assert coordinator.context.session.settings is plan.http
    assert coordinator.context.session.throttle_dir == str(output / ".yamlcrawl" / "throttle")


# --- a whole run with a fake transport ----------------------------------------------------


def files_site(request: Request) -> Any:
    """A list of two files, then the files; the first file is busy (503) once."""
    if request.url == f"{API}/list":
        body = {"items": [{"name": "a"}, {"name": "b"}]}
        return response(200, json.dumps(body).encode(), JSON)
    return response(200, f"bytes of {request.url}".encode(), {"Content-Type": "image/png"})


def busy_once(handler: Any) -> Any:
    answered: set[str] = set()
    lock = threading.Lock()

    def answer(request: Request) -> Any:
        with lock:
            first = request.url not in answered
            answered.add(request.url)
        if first and request.url.endswith("/a.png"):
            return response(503, b"busy")
        return handler(request)

    return answer


@pytest.mark.parametrize("mode", ["serial", "thread"])
def test_a_run_against_a_fake_transport_needs_no_network_and_no_wait(
    mode: str, tmp_path: Path
) -> None:
    config = list_crawl(
        tmp_path, API, {"url": "{api}/files/{item.name}.png", "save_as": "{item.name}.png"}
    )
    output = tmp_path / "out"
    plan = plan_of(config, output, mode)
    site = MockTransport(busy_once(files_site))
    waits: list[float] = []
    session = Session(plan.http, transport=site.factory, pages=site.pages, sleep=waits.append)
    stats = Coordinator(plan, [Recorder()], session=session).run()
    assert stats.ok, stats.failures
    assert (stats.saved, stats.retries) == (2, 1)
    assert (output / "a.png").read_bytes() == f"bytes of {API}/files/a.png".encode()
    assert (output / "b.png").read_bytes() == f"bytes of {API}/files/b.png".encode()
    asked = sorted(request.url for request in site.requests)
    assert asked == [f"{API}/files/a.png"] * 2 + [f"{API}/files/b.png", f"{API}/list"]
    assert len(waits) == 1 and 0.5 <= waits[0] <= 0.55  # the backoff, asked for, not slept


def test_a_run_stopped_before_it_starts_saves_nothing(tmp_path: Path) -> None:
    config = list_crawl(
        tmp_path, API, {"url": "{api}/files/{item.name}.png", "save_as": "{item.name}.png"}
    )
    plan = plan_of(config, tmp_path / "out")
    cancel = CancelToken()
    cancel.stop()  # as the signal handler does when Ctrl-C comes while the run is set up
    mock = MockTransport(files_site)
    session = Session(plan.http, transport=mock.factory, pages=mock.pages)
    stats = Coordinator(plan, [Recorder()], cancel=cancel, session=session).run()
    assert stats.interrupted and stats.saved == 0


def test_two_runs_in_one_process_share_no_state(tmp_path: Path) -> None:
    config = list_crawl(
        tmp_path, API, {"url": "{api}/files/{item.name}.png", "save_as": "{item.name}.png"}
    )
    stopped = CancelToken()
    stopped.stop()
    first = plan_of(config, tmp_path / "first", "thread")
    site = MockTransport(files_site)
    session = Session(first.http, transport=site.factory, pages=site.pages)
    assert Coordinator(first, [Recorder()], cancel=stopped, session=session).run().interrupted
    second = plan_of(config, tmp_path / "second", "thread")
    session = Session(second.http, transport=site.factory, pages=site.pages)
    stats = Coordinator(second, [Recorder()], session=session).run()
    assert stats.saved == 2  # the first run's stop is not the second's
