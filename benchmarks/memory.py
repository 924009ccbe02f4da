"""Memory of a run: one huge file, and a crawl of very many small files.

    python benchmarks/memory.py huge [--gigabytes 1] [--mode pool]
    python benchmarks/memory.py many [--files 100000] [--mode pool]

A server on 127.0.0.1 generates the bodies (nothing is stored but what the crawl saves). The
crawl runs as `yamlcrawl` in a fresh process; its whole process tree's RSS is read from /proc
every 50 ms. Prints the peak RSS of the largest process and of the tree, and for `many` the
tree's RSS at each tenth of the way, to show whether it grows with the crawl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = bytes(range(256)) * 256  # 64 KiB


class Generated(BaseHTTPRequestHandler):
    """`/huge/N` streams N bytes; `/list/P` lists page P of small files; `/f/I` is a small file."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every kept-alive response waits ~40 ms for an ACK
    files = 100_000
    per_page = 1000

    def do_GET(self) -> None:
        kind, _, arg = self.path.strip("/").partition("/")
        if kind == "huge":
            self.stream(int(arg))
        elif kind == "list":
            page = int(arg)
            first = page * self.per_page
            ids = range(first, min(first + self.per_page, self.files))
            self.reply(json.dumps({"files": list(ids)}).encode())
        elif kind == "pages":
            count = -(-self.files // self.per_page)
            self.reply(json.dumps({"pages": list(range(count))}).encode())
        else:
            self.reply(f"file {arg}\n".encode() * 8)

    def reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def stream(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        while sent < size:
            piece = CHUNK[: min(len(CHUNK), size - sent)]
            self.wfile.write(piece)
            sent += len(piece)

    def log_message(self, *args: object) -> None:
        pass


def tree_rss(root: int) -> dict[int, int]:
    """RSS in bytes of ``root`` and every process below it."""
    return {pid: rss for pid, (rss, _) in tree_memory(root).items()}


def tree_memory(root: int) -> dict[int, tuple[int, int]]:
    """(RSS, peak RSS so far) in bytes of ``root`` and every process below it.

    The peak (VmHWM) belongs to the program a process runs now: unlike getrusage's maxrss, it
    does not keep the size of the (larger) process that forked it before exec.
    """
    parents: dict[int, int] = {}
    sizes: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[1])
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        kilobytes = [int(fields.get(f, "0 kB").split()[0]) for f in ("VmRSS", "VmHWM")]
        sizes[int(entry.name)] = (kilobytes[0] * 1024, kilobytes[1] * 1024)
    members = {root}
    grew = True
    while grew:
        new = {pid for pid, parent in parents.items() if parent in members} - members
        members |= new
        grew = bool(new)
    return {pid: sizes.get(pid, (0, 0)) for pid in members}


def watch(command: list[str], progress: Path | None) -> tuple[int, int, list[int], float]:
    """Run ``command``; sample its tree. Returns largest RSS, tree peak, tenths, seconds."""
    start = time.perf_counter()
    crawl = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    largest = total = 0
    samples: list[tuple[float, int]] = []
    while crawl.poll() is None:
        sizes = tree_rss(crawl.pid)
        largest = max(largest, max(sizes.values(), default=0))
        total = max(total, sum(sizes.values()))
        samples.append((time.perf_counter() - start, sum(sizes.values())))
        time.sleep(0.05)
    took = time.perf_counter() - start
    if crawl.returncode != 0:
        raise SystemExit(f"the crawl failed with exit code {crawl.returncode}")
    tenths = [max((s for t, s in samples if t <= took * k / 10), default=0) for k in range(1, 11)]
    return largest, total, tenths, took


def main(argv: Sequence[str] | None = None) -> int:
    """Serve, crawl, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("scenario", choices=("huge", "many"))
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--mode", default="pool")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    Generated.files = args.files
    server = ThreadingHTTPServer(("127.0.0.1", 0), Generated)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "crawl.yaml"
        config.write_text(crawl_file(args.scenario, base, int(args.gigabytes * 1e9)))
        command = [
            sys.executable, "-m", "yamlcrawl", str(config), "-q", "--output",
            str(Path(scratch) / "out"), "--mode", args.mode, "--workers", str(args.workers),
        ]  # fmt: skip
        largest, total, tenths, took = watch(command, None)
        saved = sum(1 for p in (Path(scratch) / "out").rglob("*") if p.is_file())
    server.shutdown()
    mb = 1 / 1e6
    what = f"{args.gigabytes:g} GB file" if args.scenario == "huge" else f"{args.files:,} files"
    print(f"{what}, mode {args.mode}, {args.workers} workers: {took:.1f} s, {saved:,} files")
    print(f"peak RSS: largest process {largest * mb:.0f} MB, whole tree {total * mb:.0f} MB")
    if args.scenario == "many":
        print("tree RSS by tenth of the run (MB): " + " ".join(f"{t * mb:.0f}" for t in tenths))
    return 0


def crawl_file(scenario: str, base: str, size: int) -> str:
    """The crawl for a scenario."""
    if scenario == "huge":
        return f"""
vars: {{base: "{base}"}}
http: {{timeout: 30}}
output: {{manifest: false}}
stages:
  one:
    url: "{{base}}/pages"
    downloads:
      - {{url: "{{base}}/huge/{size}", save_as: "huge.bin"}}
"""
    return f"""
vars: {{base: "{base}"}}
stages:
  pages:
    url: "{{base}}/pages"
    each: "$.pages[*]"
    as: page
  files:
    from: pages
    url: "{{base}}/list/{{page}}"
    each: "$.files[*]"
    as: id
    downloads:
      - {{url: "{{base}}/f/{{id}}", save_as: "{{page}}/{{id}}.txt"}}
"""


if __name__ == "__main__":
    sys.exit(main())
