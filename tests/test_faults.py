"""A server that misbehaves on purpose, crawled in every mode.

Recoverable faults (503 bursts, 429 with Retry-After, a reset mid-body, a truncated body, a slow
first byte, a trickling body) end with every file saved and byte-correct; unrecoverable ones (a
redirect loop, a runaway body, HTML where JSON was expected, a 404) are reported with their
reason; hostile names stay inside the output folder; the politeness limits hold across workers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent
from typing import ClassVar

import pytest

from tests.conftest import RunCli
from tests.support import manifest_records, saved_files

MODES = ["serial", "process", "queue", "pool", "thread", "dask"]
BODY = {
    name: (name * 997).encode()[:20_000]
    for name in ("flaky", "busy", "reset", "short", "slow", "trickle", "plain")
}
HOSTILE = ["../../x", "/etc/x", "CON", "nul\x00byte", "名" * 100, "a/b\\c", ".."]
HOSTILE_SAVED = sorted(
    [
        "got/..／..／x.bin",
        "got/／etc／x.bin",
        "got/CON_.bin",  # a device name on Windows, whatever the extension
        "got/nul_byte.bin",
        "got/" + "名" * 62 + "…" + "名" * 20 + ".bin",  # 300 bytes: the middle goes
        "got/a／b＼c.bin",
        "got/...bin",  # `..` + `.bin`: one harmless name, not a way up
    ]
)


class Faulty(BaseHTTPRequestHandler):
    """Routes that fail in a given way on their first tries, then (mostly) recover."""

    protocol_version = "HTTP/1.1"
    hits: ClassVar[Counter[str]] = Counter()
    lock = threading.Lock()
    in_flight = 0
    most_in_flight = 0
    starts: ClassVar[list[float]] = []
    generation = 0  # a request of an earlier test's server, still ending, must not count

    def do_GET(self) -> None:
        with Faulty.lock:
            generation = Faulty.generation
            Faulty.hits[self.path] += 1
            tries = Faulty.hits[self.path]
            Faulty.in_flight += 1
            Faulty.most_in_flight = max(Faulty.most_in_flight, Faulty.in_flight)
            Faulty.starts.append(time.monotonic())
        try:
            self.route(self.path.strip("/").split("/"), tries)
        except (ConnectionError, OSError):
            pass
        finally:
            with Faulty.lock:
                if generation == Faulty.generation:
                    Faulty.in_flight -= 1

    def route(self, parts: list[str], tries: int) -> None:
        kind = parts[0]
        if kind == "list.json":
            self.send(200, json.dumps(LISTING).encode(), "application/json")
        elif kind == "html.json":
            self.send(200, b"<!doctype html><title>502 Bad Gateway</title>", "text/html")
        elif kind == "flaky" and tries <= 2:
            self.send(503, b"busy")
        elif kind == "busy" and tries == 1:
            self.send(429, b"slow down", headers={"Retry-After": "1"})
        elif kind in ("reset", "short") and tries == 1:
            self.cut_short(reset=kind == "reset")
        elif kind == "slow" and tries == 1:
            time.sleep(1.5)  # past the 1 s timeout before any byte
            self.send(200, BODY["slow"])
        elif kind == "trickle":
            self.trickle(BODY["trickle"])
        elif kind == "loop":
            self.send(302, b"", headers={"Location": "/loop"})
        elif kind == "huge":
            self.send(200, b"x" * 300_000)
        elif kind == "missing":
            self.send(404, b"no")
        else:
            self.send(200, BODY.get(kind, BODY["plain"]))

    def send(
        self,
        status: int,
        body: bytes,
        kind: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def cut_short(self, reset: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "20000")
        self.end_headers()
        self.wfile.write(b"partial" * 100)
        self.wfile.flush()
        if reset:
            self.connection.setsockopt(
                socket.SOL_SOCKET,
                socket.SO_LINGER,
                b"\x01\x00\x00\x00\x00\x00\x00\x00",
            )
        self.close_connection = True
        self.connection.close()

    def trickle(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), 4000):
            self.wfile.write(body[start : start + 4000])
            self.wfile.flush()
            time.sleep(0.2)  # each read well within the timeout, the whole longer than it

    def log_message(self, *args: object) -> None:
        pass


LISTING = {
    "files": [
        {"name": name, "url": f"/{name}/1"}
        for name in ("flaky", "busy", "reset", "short", "slow", "trickle")
    ]
    + [
        {"name": "loop", "url": "/loop"},
        {"name": "huge", "url": "/huge"},
        {"name": "missing", "url": "/missing/1"},
    ]
    + [{"name": name, "url": f"/plain/{i}"} for i, name in enumerate(HOSTILE)]
}


@pytest.fixture
def faulty() -> Iterator[str]:
    Faulty.hits = Counter()
    Faulty.generation += 1
    Faulty.in_flight = Faulty.most_in_flight = 0
    Faulty.starts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Faulty)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CRAWL = """
    vars: {{base: "{base}"}}
    run: {{workers: 3}}
    http: {{timeout: 1, retries: 3, backoff: 0.05, max_redirects: 3, max_bytes: 100000}}
    stages:
      files:
        url: "{{base}}/list.json"
        each: "$.files[*]"
        as: f
        downloads:
          - {{url: "{{base}}{{f.url}}", save_as: "got/{{f.name}}.bin"}}
      broken:
        url: "{{base}}/html.json"
"""


@pytest.mark.parametrize("mode", MODES)
def test_every_fault_ends_saved_or_reported(
    mode: str, faulty: str, run_cli: RunCli, tmp_path: Path
) -> None:
    config = tmp_path / "crawl.yaml"
    config.write_text(dedent(CRAWL.format(base=faulty)))
    output = tmp_path / "nest" / "out"
    run = run_cli(config, "--mode", mode, "--output", output, "-q", "--report", tmp_path / "r.json")
    assert run.code == 1
    files = saved_files(output)
    for name in ("flaky", "busy", "reset", "short", "slow", "trickle"):
        assert files.pop(f"got/{name}.bin") == BODY[name], name
    assert sorted(files) == HOSTILE_SAVED
    assert all(data == BODY["plain"] for data in files.values())
    assert len(files) == len(HOSTILE)
    assert all(len(Path(p).name.encode()) <= 255 for p in files)
    outside = {p for p in tmp_path.rglob("*") if output not in (p, *p.parents)}
    assert outside == {config, tmp_path / "nest", tmp_path / "r.json"}
    assert not list(output.rglob("*.part"))
    report = json.loads((tmp_path / "r.json").read_text())
    reasons = {(f["path"] or f["url"].rsplit("/", 1)[-1]): f["reason"] for f in report["failures"]}
    assert "more than 3 redirects" in reasons["got/loop.bin"]
    assert "over the limit of 100,000" in reasons["got/huge.bin"]
    assert "HTTP 404" in reasons["got/missing.bin"]
    assert "returned HTTP 200 text/html, not JSON" in reasons["html.json"]
    assert "b'<!doctype html><title>502 Bad Gateway</title>'" in reasons["html.json"]
    assert len(reasons) == 4
    assert report["retries"] >= 2 + 1 + 1 + 1 + 1  # flaky twice; busy, reset, short, slow once
    statuses = Counter(r["status"] for r in manifest_records(output) if r["kind"] == "file")
    assert statuses == {"saved": 6 + len(HOSTILE), "failed": 3}


@pytest.mark.parametrize("mode", ["process", "queue", "pool", "dask"])
def test_per_host_and_rate_hold_across_worker_processes(
    mode: str, faulty: str, run_cli: RunCli, tmp_path: Path
) -> None:
    config = tmp_path / "crawl.yaml"
    config.write_text(dedent(POLITE.format(base=faulty)))
    start = time.monotonic()
    run = run_cli(config, "--mode", mode, "--workers", "4", "--output", tmp_path / "out", "-q")
    took = time.monotonic() - start
    assert run.code == 0, run.out
    assert Faulty.most_in_flight == 1  # per_host: 1, though four processes ask at once
    # rate: 20/s. The limiter spaces the times requests may start 1/20 s apart; when each one
    # reaches the server also depends on the scheduler of a loaded machine, which can move any
    # single arrival by tens of ms. So the span of all arrivals is checked, with one interval
    # of slack for the first and last, not each gap.
    starts = sorted(Faulty.starts)
    assert len(starts) >= 8
    assert starts[-1] - starts[0] >= (len(starts) - 2) / 20
    assert took >= (len(starts) - 1) / 20


POLITE = """
    vars: {{base: "{base}"}}
    http: {{rate: 20, per_host: 1}}
    stages:
      files:
        url: "{{base}}/list.json"
        each: "$.files[*]"
        as: f
        downloads:
          - {{url: "{{base}}/plain/p{{f.name|quote}}", save_as: "{{f.name}}.bin"}}
"""
