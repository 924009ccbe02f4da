"""Time and memory of one big page: a single response listing N items, each a file to save.

    python benchmarks/big_page.py [--items 10000 100000 1000000] [--mode serial] [--runs 1]

A server on 127.0.0.1 serves ``/page/N`` (N items, each an id and a name) and ``/f/I`` (a small
file). The crawl fans out over the page's items, one download per item, and runs as
`yamlcrawl --dry-run` in a fresh process: it fetches the page and names every file (the work a
big page costs the coordinator), and saves none. Prints, per size, the exit code, the seconds,
the microseconds per item (flat when time is linear), and the peak RSS of the largest process
and of the process tree. A page over `run.max_items` (default 100,000) fails at once.
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
from typing import ClassVar

from benchmarks.memory import tree_memory

ROOT = Path(__file__).resolve().parents[1]


class Pages(BaseHTTPRequestHandler):
    """``/page/N``: N items; ``/f/I``: a few bytes."""

    protocol_version = "HTTP/1.1"
    cache: ClassVar[dict[int, bytes]] = {}

    def do_GET(self) -> None:
        kind, _, arg = self.path.strip("/").partition("/")
        if kind == "page":
            size = int(arg)
            if size not in self.cache:
                items = [{"id": i, "name": f"item {i}"} for i in range(size)]
                self.cache[size] = json.dumps({"items": items}).encode()
            self.reply(self.cache[size], "application/json")
        else:
            self.reply(f"file {arg}\n".encode(), "text/plain")

    def reply(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def crawl_file(base: str, items: int) -> str:
    return f"""
run: {{workers: 2}}
http: {{max_page_bytes: 200000000, timeout: 120}}
stages:
  big:
    url: "{base}/page/{items}"
    each: "$.items[*]"
    as: item
    downloads:
      - url: "{base}/f/{{item.id}}"
        save_as: "{{item.name}}.bin"
"""


def measure(command: list[str]) -> tuple[int, float, int, int]:
    """Run ``command``: its exit code, seconds, and peak RSS of its largest process and tree."""
    start = time.perf_counter()
    crawl = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    largest = tree = 0
    while crawl.poll() is None:
        sizes = tree_memory(crawl.pid)
        largest = max(largest, max((peak for _, peak in sizes.values()), default=0))
        tree = max(tree, sum(rss for rss, _ in sizes.values()))
        time.sleep(0.05)
    return crawl.returncode, time.perf_counter() - start, largest, tree


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--mode", default="serial")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"one page of N items, a file each; --dry-run --mode {args.mode}; best of {args.runs}")
    print(
        f"{'items':>9} {'exit':>4} {'seconds':>8} {'us/item':>8} {'largest MB':>10} {'tree MB':>8}"
    )
    with tempfile.TemporaryDirectory(prefix="yamlcrawl-big-") as scratch:
        for items in args.items:
            crawl = Path(scratch) / f"big{items}.yaml"
            crawl.write_text(crawl_file(base, items), "utf-8")
            command = [sys.executable, "-m", "yamlcrawl", str(crawl), "--dry-run", "-q"]
            command += ["--mode", args.mode, "-o", str(Path(scratch) / "out")]
            runs = [measure(command) for _ in range(args.runs)]
            code, seconds, largest, tree = min(runs, key=lambda run: run[1])
            print(
                f"{items:>9} {code:>4} {seconds:>8.2f} {seconds / items * 1e6:>8.1f}"
                f" {largest / 1e6:>10.0f} {tree / 1e6:>8.0f}"
            )
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
