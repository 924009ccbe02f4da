"""Ctrl-C and SIGTERM stop a run within 2 seconds in every mode: exit 130, a summary, no
worker left running, no `.part` file left behind, nothing that looks finished but is not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MODES = ["serial", "process", "queue", "pool", "thread", "dask"]

TRICKLE_SERVER = """
import http.server, json, sys, time

class Trickle(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/list.json":
            body = json.dumps({"files": [f"/f{i}.bin" for i in range(12)]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", "200000")
        self.end_headers()
        try:
            for _ in range(200):  # 1 KB every 50 ms: 10 s a file
                self.wfile.write(b"x" * 1000)
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
server.daemon_threads = True
print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
"""

CRAWL = """
vars: {{base: "{base}"}}
run: {{workers: 3}}
stages:
  files:
    url: "{{base}}/list.json"
    each: "$.files[*]"
    as: f
    downloads:
      - url: "{{base}}{{f}}"
        save_as: "{{f|basename}}"
"""


@pytest.fixture(scope="module")
def trickle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server whose files take 10 s each to arrive."""
    script = tmp_path_factory.mktemp("trickle") / "server.py"
    script.write_text(TRICKLE_SERVER)
    server = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        yield server.stdout.readline().strip()
    finally:
        server.kill()
        server.communicate()


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def left_behind(workers: set[int]) -> list[str]:
    """The processes of ``workers`` still running once the main process has gone, as
    ``PID COMMAND``.

    Two kinds get a moment to finish going: multiprocessing's resource tracker (started with
    spawned processes: dask mode's), which ends by itself when it reads the end of its pipe from
    the main process, and a process already exiting (its memory, so its command line, is gone;
    on a loaded machine the kernel takes a while to finish a SIGKILLed process's exit).
    """
    deadline = time.monotonic() + 1.0
    while True:
        left = [pid for pid in workers if still_there(pid)]
        ending = [
            pid for pid in left if _command(pid) in ("", "?") or "resource_tracker" in _command(pid)
        ]
        if not ending or time.monotonic() > deadline:
            return [f"{pid} {_command(pid)}" for pid in left]
        time.sleep(0.02)


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def still_there(pid: int) -> bool:
    """A process still running: it exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("mode", MODES)
def test_a_signal_stops_the_run_within_two_seconds(
    mode: str, how: str, trickle: str, tmp_path: Path
) -> None:
    config = tmp_path / "crawl.yaml"
    config.write_text(CRAWL.format(base=trickle))
    output = tmp_path / "out"
    crawl = subprocess.Popen(
        [sys.executable, "-m", "yamlcrawl", str(config), "--mode", mode, "-o", str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    deadline = time.monotonic() + 20
    started = 1 if mode in ("serial", "process") else 3  # downloads writing their temporaries
    while len(list(output.glob(".yamlcrawl/tmp/*.part"))) < started:
        assert time.monotonic() < deadline, "the downloads never started"
        time.sleep(0.05)
    workers = descendants(crawl.pid)
    sent = time.monotonic()
    if how == "SIGINT":  # Ctrl-C in a terminal reaches the whole foreground process group
        os.killpg(crawl.pid, signal.SIGINT)
    else:  # `kill PID` reaches the main process alone
        crawl.send_signal(signal.SIGTERM)
    out, err = crawl.communicate(timeout=10)
    took = time.monotonic() - sent
    assert crawl.returncode == 130, err
    assert took < 2.0, f"took {took:.2f} s to stop"
    assert "interrupted" in out
    assert left_behind(workers) == []
    assert not list(output.rglob("*.part"))
    assert sorted(p.name for p in output.iterdir()) == [".yamlcrawl", "manifest.jsonl"]
