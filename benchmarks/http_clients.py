"""CPU per downloaded file: requests, urllib3 and libcurl (pycurl) side by side, one thread.

    pip install requests pycurl               # benchmark only
    python benchmarks/http_clients.py [--files 1000] [--runs 3] [--transfers 16]

Serves the site of benchmarks/compare.py with nginx (no delay) and fetches the first --files
images with each client in turn (interleaved, run after run), streaming each to a file with its
SHA-256, as yamlcrawl does. Prints the median CPU time per file of each: a requests.Session,
urllib3's PoolManager, one pycurl easy handle reused, and pycurl's multi interface driving
--transfers transfers at once from the same single thread; and yamlcrawl's own engine
(yamlcrawl/http/curl.py: one driver thread on the multi interface) fed by --transfers caller
threads, each waiting for its file's outcome, as a worker's threads do.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import statistics
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.compare import PORT, default_output, prepare  # noqa: E402
from benchmarks.nginx import Nginx, ensure_installed  # noqa: E402

CHUNK = 256 * 1024


def save(chunks: Iterator[bytes], target: Path) -> None:
    """Stream to a part file with its hash, then rename, as yamlcrawl's downloads do."""
    digest = hashlib.sha256()
    part = target.with_suffix(".part")
    with part.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
            digest.update(chunk)
    part.replace(target)


def with_requests(urls: list[str], folder: Path) -> None:
    """A requests.Session, as yamlcrawl used before (trust_env as by default)."""
    import requests

    with requests.Session() as session:
        for n, url in enumerate(urls):
            with session.get(url, stream=True, timeout=(15, 15)) as response:
                save(response.iter_content(CHUNK), folder / str(n))


def with_urllib3(urls: list[str], folder: Path) -> None:
    """urllib3's PoolManager, no retries, streaming."""
    import urllib3

    manager = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(15, 15))
    for n, url in enumerate(urls):
        response = manager.request("GET", url, preload_content=False)
        save(response.stream(CHUNK), folder / str(n))
        response.release_conn()


class Sink:
    """A file being written: a part file and its hash, renamed when whole (libcurl's write
    callback feeds it)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.part = target.with_suffix(".part")
        self.out = self.part.open("wb")
        self.digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        """One chunk of the body."""
        self.out.write(chunk)
        self.digest.update(chunk)

    def close(self) -> None:
        """The body is whole: the part file takes its name."""
        self.out.close()
        self.part.replace(self.target)


def with_pycurl(urls: list[str], folder: Path) -> None:
    """One libcurl easy handle, reused (its connection stays open), one transfer at a time."""
    import pycurl

    curl = pycurl.Curl()
    curl.setopt(pycurl.CONNECTTIMEOUT, 15)
    for n, url in enumerate(urls):
        sink = Sink(folder / str(n))
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.WRITEFUNCTION, sink.write)
        curl.perform()
        sink.close()
    curl.close()


def with_pycurl_multi(urls: list[str], folder: Path, transfers: int = 16) -> None:
    """libcurl's multi interface: ``transfers`` transfers at once, all driven by this thread."""
    import pycurl

    multi = pycurl.CurlMulti()
    idle = [pycurl.Curl() for _ in range(transfers)]
    waiting = deque(enumerate(urls))
    busy: dict[object, Sink] = {}
    while waiting or busy:
        while waiting and idle:
            n, url = waiting.popleft()
            curl = idle.pop()
            busy[curl] = Sink(folder / str(n))
            curl.setopt(pycurl.URL, url)
            curl.setopt(pycurl.WRITEFUNCTION, busy[curl].write)
            multi.add_handle(curl)
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        _collect_done(multi, busy, idle)
        if busy:
            multi.select(1.0)
    for curl in idle:
        curl.close()


class EngineSink(Sink):
    """`Sink` as yamlcrawl's ByteSink (begin, write, discard), for its engine."""

    def begin(self, content_type: str | None) -> None:
        """The body starts (the part file is already open)."""

    def discard(self) -> None:
        """A failed transfer: the benchmark stops on it."""
        raise RuntimeError(f"a transfer failed: {self.target}")


def with_engine(urls: list[str], folder: Path, transfers: int = 16) -> None:
    """yamlcrawl's libcurl engine, one attempt per file, from ``transfers`` threads."""
    from concurrent.futures import ThreadPoolExecutor

    from yamlcrawl.http.curl import fetch_file
    from yamlcrawl.types import HttpSettings

    settings = HttpSettings(user_agent="bench")

    def one(job: tuple[int, str]) -> None:
        sink = EngineSink(folder / str(job[0]))
        fetch_file(settings, job[1], sink)
        sink.close()

    with ThreadPoolExecutor(transfers) as pool:
        list(pool.map(one, enumerate(urls)))


def _collect_done(multi: Any, busy: dict[object, Sink], idle: list[Any]) -> None:
    """Hand the finished transfers' handles back; a failed one stops the benchmark."""
    while True:
        queued, done, failed = multi.info_read()
        for curl in done:
            multi.remove_handle(curl)
            busy.pop(curl).close()
            idle.append(curl)
        if failed:
            raise RuntimeError(f"a transfer failed: {failed[0][2]}")
        if not queued:
            return


def cpu() -> float:
    """This process's CPU time so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    """Time every client, interleaved; print medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transfers", type=int, default=16, help="at once, for pycurl multi")
    parser.add_argument("--site", type=Path, default=Path("/tmp/yamlcrawl-bench/site"))
    args = parser.parse_args(argv)
    ensure_installed()
    prepare(args.site, f"http://127.0.0.1:{PORT}")
    lines = (args.site / "urls.txt").read_text("utf-8").splitlines()[: args.files]
    urls = [line.split("\t")[0] for line in lines]
    clients: dict[str, Callable[[list[str], Path], None]] = {
        "requests.Session": with_requests,
        "urllib3": with_urllib3,
        "pycurl easy": with_pycurl,
        f"pycurl multi ×{args.transfers}": partial(with_pycurl_multi, transfers=args.transfers),
        f"yamlcrawl curl ×{args.transfers}": partial(with_engine, transfers=args.transfers),
    }
    per_file: dict[str, list[float]] = {name: [] for name in clients}
    with Nginx(args.site, PORT), tempfile.TemporaryDirectory(dir=default_output().parent) as out:
        for _ in range(args.runs):
            for name, client in clients.items():
                before = cpu()
                client(urls, Path(out))
                per_file[name].append((cpu() - before) / len(urls) * 1000)
    for name, values in per_file.items():
        print(f"{name:<20} {statistics.median(values):.2f} ms CPU per file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
