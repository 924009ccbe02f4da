"""`yamlcrawl plan` draws the stages and each mode's topology without touching the network."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.support import ROOT

TOPOLOGY = {
    "serial": ["serial: one process, one unit at a time"],
    "process": [
        "process: a multiprocessing.Process per unit of work, at most 3 alive, each started and"
        " joined",
        "Process(target=run_group): a page of skins (once per hero of heroes)",
        "Process(target=run_group): all the files of download [0] of a skins page",
        "results: over the process's own Pipe; then it exits and is joined",
    ],
    "queue": [
        "queue: a JoinableQueue feeding 3 daemon consumer processes",
        "JoinableQueue(maxsize=18): pages and files; put() waits while it is full",
        "consumer 3 (daemon process, threads: 2): get() -> do the unit -> Pipe -> task_done()",
        "join()s the queue at the end",
    ],
    "pool": [
        "pool: multiprocessing.Pool(3), the plan handed to each worker once by its initializer",
        "apply_async(run_task, (unit,)), at most 9 outstanding; close() and join() at the end",
        "task: one file (per skin) of download [1] of a skins page",
        "pool worker 3",
    ],
    "thread": ["thread: one process, 6 daemon threads (workers × threads)"],
    "dask": [
        "dask: a local cluster started for the run: 3 worker processes × 2 threads, started by"
        " spawn, each under a nanny that restarts it if it dies",
        "main process (Dask client + coordinator): client.submit(run_task, run, units), a task"
        " per page, downloads in batches of up to 32, at most 96 units per worker thread"
        " outstanding",
        "scheduler: hands tasks to workers; a task whose worker dies runs again on another",
        "task: a page of skins (once per hero of heroes)",
        "progress: Dask events on the run's topic, relayed by the client to the display",
    ],
}


@pytest.mark.parametrize("mode", list(TOPOLOGY))
def test_plan_draws_the_stages_and_the_topology(
    mode: str, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # one tree node a line
    run = run_cli(
        "plan",
        ROOT / "crawler.yaml",
        "--mode", mode, "--workers", "3", "--threads", "2",
        "--set", "img=http://192.0.2.1:9/unreachable",  # never contacted
    )  # fmt: skip
    assert run.code == 0, run.err
    text = " ".join(run.out.split())
    for expected in [
        "heroes: GET {img}/js/heroList/hero_list.js, once",
        "skins: GET {img}/js/hero/{hero.heroId}.js, once per hero of heroes",
        "hero_name = $.hero.name",
        "each $.skins[*] as skin",
        "download [0] 电脑版: {skin.mainImg} -> {hero_name}/{skin.name}电脑版.jpg",
        *TOPOLOGY[mode],
    ]:
        assert " ".join(expected.split()) in text


def test_plan_says_in_one_line_that_the_scheduler_did_not_answer(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    with socket.socket() as probe:  # a port nothing listens on (a cluster: test_dask_describe)
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    run = run_cli("plan", ROOT / "crawler.yaml", "--mode", "dask", "--scheduler", address)
    assert run.code == 0, run.err
    said = f"the scheduler at {address}: could not reach it within 3 s (OSError)"
    assert f"dask: the cluster of {said}" in run.out


def test_plan_refuses_an_unknown_mode(run_cli: RunCli) -> None:
    run = run_cli("plan", ROOT / "crawler.yaml", "--mode", "warp")
    assert run.code == 2
    assert "unknown mode 'warp' for --mode — expected one of: serial, process, queue" in run.err


PAGED = """\
vars: {api: "http://192.0.2.1:9"}
http:
  proxies: {https: "${PROXY}"}
stages:
  books:
    url: "${API_BASE}/books?key=${API_KEY}"
    paginate: {by: page, param: page, size: 50, size_param: per_page, has_more: $.more}
    fields: {total: $.total, shelf: {path: $.shelf, required: true}}
    each: $.items[*]
    as: book
    where:
      "{book.pages}": {gt: 100}
      "{book.lang}": {in: [en, fr]}
      "{book.kind}": novel
      "{book.published}": {ge: 2024-01-01}
    incremental: {cursor: $.updated, stop: seen}
    emit: {to: books.csv, fields: {id: "{book.id}", title: "{book.title}"}}
    downloads:
      - {url: "{book.cover}", save_as: "{book.id}.jpg", name: covers}
      - {url: "{book.back}", save_as: "{book.id}-back.jpg", required: true}
  reviews:
    from: books
    url: "{api}/books/{book.id}/reviews"
    paginate: {by: next, from: $.next}
"""


def test_plan_shows_where_paginate_and_emit_with_secrets_masked(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("API_BASE", "http://user:pa55word@api.example")
    monkeypatch.setenv("API_KEY", "abc-key-123")
    monkeypatch.setenv("PROXY", "http://u:hunter22@proxy:3128")
    crawl = tmp_path / "books.yaml"
    crawl.write_text(PAGED, "utf-8")
    run = run_cli("plan", crawl, "--set", "http.rate=2")
    assert run.code == 0, run.err
    lines = [line.strip(" │└├─") for line in run.out.splitlines()]
    assert lines[1:16] == [
        "books: GET ***/books?key=***, once",
        "total = $.total",
        "shelf = $.shelf (required)",
        "each $.items[*] as book",
        "where {book.pages} gt 100",
        'where {book.lang} in ["en", "fr"]',
        'where {book.kind} equals "novel"',
        "where {book.published} ge 2024-01-01",
        "paginate by page: param: page, start: 1, size: 50, size_param: per_page,"
        " has_more: $.more, max_pages: 1000",
        "incremental: cursor $.updated, stop seen",
        "emit -> books.csv: id = {book.id}, title = {book.title}",
        "download [0] covers: {book.cover} -> {book.id}.jpg",
        "download [1] back: {book.back} -> {book.id}-back.jpg (required)",  # from save_as
        "reviews: GET {api}/books/{book.id}/reviews, once per book of books",
        "paginate by next: from: $.next, max_pages: 1000",
    ]
    assert "http: timeout 15 s, retries 3, rate 2 per second, deadline 300 s" in lines
    for secret in ("pa55word", "abc-key-123", "hunter22"):
        assert secret not in run.out + run.err
