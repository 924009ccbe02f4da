"""Range resume: a large file cut off part-way is continued with `Range`/`If-Range`, not fetched
again; a server without Range support, a changed file, a 416 or a wrong Content-Range restart it
cleanly; whatever happens the file is whole under its name or absent, and byte-exact.

The server is the standard library's, on 127.0.0.1 port 0, serving one 20 MB file with an ETag;
a test can make it cut the body after N bytes, ignore Range, change the file, or refuse ranges.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import ROOT, MockTransport, Request, manifest_records, response
from yamlcrawl.http import ranges
from yamlcrawl.http.attempt import AttemptError
from yamlcrawl.http.fetch import download_to
from yamlcrawl.http.session import Session
from yamlcrawl.storage.files import FileSlot
from yamlcrawl.storage.partials import PartialPlace
from yamlcrawl.types import BodyStart, HeldPart, HttpSettings

SIZE = 20 * 1024 * 1024
BODY = random.Random(17).randbytes(SIZE)
CHANGED = random.Random(18).randbytes(SIZE)
HALF = SIZE // 2
_CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d+)-\Z")


@dataclass
class Asked:
    """One request for the file, and what the server did."""

    range: str | None
    if_range: str | None
    status: int = 0
    sent: int = 0  # body bytes written to the socket


@dataclass
class BigFile:
    """What the server serves, and how it misbehaves (a test changes these between runs)."""

    body: bytes = BODY
    etag: str = '"v1"'
    ranges: bool = True  # False: Range is ignored, every answer a 200 with the whole file
    cut_after: list[int] = field(default_factory=list)  # per request, in turn: close after N
    refuse: bool = False  # answer every Range with 416
    wrong_start: bool = False  # answer a Range with a 206 that starts one byte early
    pace: float = 0.0  # seconds between chunks of 256 KiB
    asked: list[Asked] = field(default_factory=list)
    base: str = ""

    def sent_on(self, first: int) -> int:
        """Body bytes sent for requests from number ``first`` on."""
        return sum(asked.sent for asked in self.asked[first:])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        site = self.server.site
        if self.path == "/list":
            items = {"items": [{"name": "big", "url": f"{site.base}/big.bin"}]}
            self._send(200, {"Content-Type": "application/json"}, json.dumps(items).encode())
            return
        asked = Asked(self.headers.get("Range"), self.headers.get("If-Range"))
        site.asked.append(asked)
        self._file(site, asked)

    def _file(self, site: BigFile, asked: Asked) -> None:
        start = _start_of(site, asked)
        headers = {"Content-Type": "application/octet-stream", "ETag": site.etag}
        if start is None:
            asked.status, start = 200, 0
        elif site.refuse:
            asked.status = 416
            self._send(416, {"Content-Range": f"bytes */{len(site.body)}"}, b"")
            return
        else:
            asked.status = 206
            start -= 1 if site.wrong_start else 0
            headers["Content-Range"] = f"bytes {start}-{len(site.body) - 1}/{len(site.body)}"
        cut = site.cut_after.pop(0) if site.cut_after else None
        self._stream(asked, headers, site.body[start:], cut, site.pace)

    def _stream(
        self, asked: Asked, headers: dict[str, str], body: bytes, cut: int | None, pace: float
    ) -> None:
        self.send_response(asked.status)
        headers["Content-Length"] = str(len(body))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        end = len(body) if cut is None else min(cut, len(body))
        try:
            for at in range(0, end, _CHUNK):
                piece = body[at : min(at + _CHUNK, end)]
                self.wfile.write(piece)
                asked.sent += len(piece)
                if pace:
                    time.sleep(pace)
        except OSError:
            pass  # the client went away (killed)
        if cut is not None:
            self.close_connection = True  # cut: the rest never comes

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        headers["Content-Length"] = str(len(body))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _start_of(site: BigFile, asked: Asked) -> int | None:
    """Where the answer starts: None for the whole file (no Range, ignored, or If-Range stale)."""
    if not site.ranges or asked.range is None:
        return None
    match = _RANGE.match(asked.range)
    if match is None or (asked.if_range is not None and asked.if_range != site.etag):
        return None
    return int(match[1])


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # one may wait on a kept-alive connection of this process's engine
    site: BigFile

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-body: expected here


@pytest.fixture
def big() -> Iterator[BigFile]:
    """The 20 MB file served on 127.0.0.1, port 0."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = BigFile()
    server.site.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.site
    finally:
        server.shutdown()
        server.server_close()


def crawl_file(folder: Path, site: BigFile, retries: int = 0, **http: Any) -> Path:
    """A crawl of the server's list: one file, ``big.bin``."""
    stage = {
        "url": "{api}/list",
        "each": "$.items[*]",
        "as": "item",
        "downloads": [{"url": "{item.url}", "save_as": "{item.name}.bin"}],
    }
    spec = {
        "vars": {"api": site.base},
        "http": {"retries": retries, "backoff": 0, **http},
        "stages": {"list": stage},
    }
    path = folder / "crawl.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path


def parts(output: Path) -> list[Path]:
    """The parts kept in the output folder."""
    return sorted((output / ".yamlcrawl" / "partial").glob("*.part"))


def cut_run(run_cli: RunCli, mode: list[str], tmp_path: Path, big: BigFile) -> Path:
    """A first run whose file is cut off half-way (no retry): it fails and keeps its part."""
    big.cut_after = [HALF]
    output = tmp_path / "out"
    first = run_cli(crawl_file(tmp_path, big), "--output", output, *mode)
    assert first.code == 3, first.out + first.err  # its only file failed
    assert not (output / "big.bin").exists()  # never under its name unless whole
    kept = parts(output)
    assert len(kept) == 1
    assert 0 < kept[0].stat().st_size <= HALF
    assert kept[0].read_bytes() == BODY[: kept[0].stat().st_size]
    return output


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_rerun_fetches_only_the_rest_of_a_file_cut_half_way(
    run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, big: BigFile, mode: str
) -> None:
    output = cut_run(run_cli, mode_args(mode), tmp_path, big)
    held = parts(output)[0].stat().st_size
    before = len(big.asked)
    second = run_cli(crawl_file(tmp_path, big), "--output", output, *mode_args(mode))
    assert second.code == 0, second.out + second.err
    rerun = big.asked[before:]
    assert [(a.range, a.if_range, a.status) for a in rerun] == [(f"bytes={held}-", '"v1"', 206)]
    assert big.sent_on(before) == SIZE - held  # about half: only the rest
    assert (output / "big.bin").read_bytes() == BODY
    assert parts(output) == []
    row = next(r for r in manifest_records(output) if r["kind"] == "file")
    assert row["sha256"] == hashlib.sha256(BODY).hexdigest()
    assert (row["bytes"], row["resumed"], row["http_status"]) == (SIZE, held, 206)


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_server_without_range_support_restarts_cleanly(
    run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, big: BigFile, mode: str
) -> None:
    output = cut_run(run_cli, mode_args(mode), tmp_path, big)
    big.ranges = False
    before = len(big.asked)
    second = run_cli(crawl_file(tmp_path, big), "--output", output, *mode_args(mode))
    assert second.code == 0, second.out + second.err
    assert [a.status for a in big.asked[before:]] == [200]
    assert big.sent_on(before) == SIZE
    assert (output / "big.bin").read_bytes() == BODY
    assert parts(output) == []


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_changed_file_restarts(
    run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, big: BigFile, mode: str
) -> None:
    output = cut_run(run_cli, mode_args(mode), tmp_path, big)
    big.body, big.etag = CHANGED, '"v2"'
    before = len(big.asked)
    second = run_cli(crawl_file(tmp_path, big), "--output", output, *mode_args(mode))
    assert second.code == 0, second.out + second.err
    rerun = big.asked[before:]
    assert [(a.if_range, a.status) for a in rerun] == [('"v1"', 200)]  # If-Range: stale
    assert (output / "big.bin").read_bytes() == CHANGED
    assert parts(output) == []


def test_a_retry_in_the_same_run_continues_after_a_dropped_connection(
    run_cli: RunCli, tmp_path: Path, big: BigFile
) -> None:
    big.cut_after = [HALF]
    output = tmp_path / "out"
    done = run_cli(crawl_file(tmp_path, big, retries=1), "--output", output)
    assert done.code == 0, done.out + done.err
    assert [a.status for a in big.asked] == [200, 206]
    assert big.sent_on(0) == SIZE  # nothing fetched twice
    assert (output / "big.bin").read_bytes() == BODY


@pytest.mark.parametrize(
    ("misbehaviour", "message"),
    [
        ("refuse", f"the server refused the range bytes={HALF}- (HTTP 416); starting over"),
        (
            "wrong_start",
            f"the server's answer to the range bytes={HALF}- does not continue the part kept"
            f" (Content-Range: bytes {HALF - 1}-{SIZE - 1}/{SIZE}); starting over",
        ),
    ],
)
def test_a_range_answered_wrongly_restarts_from_zero(
    run_cli: RunCli, tmp_path: Path, big: BigFile, misbehaviour: str, message: str
) -> None:
    big.cut_after = [HALF]
    setattr(big, misbehaviour, True)
    output = tmp_path / "out"
    done = run_cli(crawl_file(tmp_path, big, retries=2), "--output", output, "-v")
    assert done.code == 0, done.out + done.err
    assert [a.status for a in big.asked] == [200, 416 if misbehaviour == "refuse" else 206, 200]
    assert message in done.out + done.err
    assert (output / "big.bin").read_bytes() == BODY
    assert parts(output) == []


def test_fresh_drops_the_parts(run_cli: RunCli, tmp_path: Path, big: BigFile) -> None:
    output = cut_run(run_cli, ["--mode", "serial"], tmp_path, big)
    before = len(big.asked)
    again = run_cli(crawl_file(tmp_path, big), "--output", output, "--fresh")
    assert again.code == 0, again.out + again.err
    assert [(a.range, a.status) for a in big.asked[before:]] == [(None, 200)]
    assert (output / "big.bin").read_bytes() == BODY


def test_a_small_file_or_resume_above_null_keeps_no_part(
    run_cli: RunCli, tmp_path: Path, big: BigFile
) -> None:
    big.cut_after = [HALF]
    output = tmp_path / "out"
    first = run_cli(crawl_file(tmp_path, big, resume_above=SIZE), "--output", output)
    assert first.code == 3  # its only file failed: nothing succeeded
    assert parts(output) == []
    assert list((output / ".yamlcrawl" / "tmp").iterdir()) == []
    big.cut_after = [HALF]
    second = run_cli(crawl_file(tmp_path, big, resume_above=None), "--output", output)
    assert second.code == 3
    assert parts(output) == []


@pytest.mark.parametrize(
    ("mode", "sent"),
    [
        ("serial", signal.SIGKILL),
        ("queue", signal.SIGKILL),
        ("serial", signal.SIGINT),  # Ctrl-C
        ("pool", signal.SIGINT),
    ],
)
def test_a_crawl_killed_half_way_keeps_the_part_and_the_rerun_finishes_it(
    run_cli: RunCli, tmp_path: Path, big: BigFile, mode: str, sent: signal.Signals
) -> None:
    big.pace = 0.03  # 20 MB in about 2.4 s: time to see the part pass half
    output = tmp_path / "out"
    command = [sys.executable, "-m", "yamlcrawl", crawl_file(tmp_path, big), "--output", output]
    crawl = subprocess.Popen(
        [*command, "--mode", mode],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > HALF for p in parts(output)):
            assert crawl.poll() is None, "the crawl ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.killpg(crawl.pid, sent)  # the crawl and its workers, at once
    finally:
        crawl.wait(30)
    assert not (output / "big.bin").exists()
    held = parts(output)[0].stat().st_size
    assert parts(output)[0].read_bytes() == BODY[:held]
    big.pace = 0.0
    before = len(big.asked)
    again = run_cli(crawl_file(tmp_path, big), "--output", output, "--mode", mode)
    assert again.code == 0, again.out + again.err
    assert [(a.range, a.status) for a in big.asked[before:]] == [(f"bytes={held}-", 206)]
    assert big.sent_on(before) == SIZE - held < HALF
    assert (output / "big.bin").read_bytes() == BODY


def _writer_of(part: Path) -> int | None:
    """The process (not this one) that has ``part`` open."""
    for fd_folder in Path("/proc").glob("[0-9]*/fd"):
        pid = int(fd_folder.parent.name)
        if pid == os.getpid():
            continue
        with contextlib.suppress(OSError):
            for fd in fd_folder.iterdir():
                with contextlib.suppress(OSError):
                    if fd.readlink() == part:
                        return pid
    return None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="finds the worker through /proc")
@pytest.mark.parametrize("mode", ["queue", "pool"])
def test_a_worker_killed_half_way_leaves_its_part_to_the_retry(
    run_cli: RunCli, tmp_path: Path, big: BigFile, mode: str
) -> None:
    big.pace = 0.03
    output = tmp_path / "out"
    killed: list[int] = []

    def kill_the_writer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            with contextlib.suppress(OSError):
                kept = [p for p in parts(output) if p.stat().st_size > HALF]
                pid = _writer_of(kept[0]) if kept else None
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    big.pace = 0.0
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_writer)
    killer.start()
    try:
        run = run_cli(crawl_file(tmp_path, big), "--output", output, "--mode", mode)
    finally:
        killer.join()
    assert killed, "no worker was found writing the part"
    assert run.code == 0, run.out + run.err
    assert [(a.range is not None, a.status) for a in big.asked] == [(False, 200), (True, 206)]
    held = int(str(big.asked[1].range).removeprefix("bytes=").removesuffix("-"))
    assert big.sent_on(1) == SIZE - held < HALF  # the retry asked for the rest alone
    assert (output / "big.bin").read_bytes() == BODY


# --- the sink and the test transport, without a crawl ----------------------------------------


def test_the_test_transport_resumes_a_part_kept_by_a_failed_attempt(tmp_path: Path) -> None:
    """`fetch._transport_attempt` (MockTransport) asks for the rest as libcurl does."""
    body = BODY[: 3 * 1024 * 1024]

    def answer(request: Request) -> Any:
        asked = request.headers.get("Range")
        headers = {"ETag": '"v1"', "Content-Type": "application/octet-stream"}
        if asked is None:  # announce it all, send a third
            return response(200, body[: len(body) // 3], headers, length=len(body))
        start = int(asked.removeprefix("bytes=").removesuffix("-"))
        rest = {**headers, "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"}
        return response(206, body[start:], rest)

    mock = MockTransport(answer)
    session = Session(HttpSettings(retries=1, backoff=0), transport=mock.factory)
    keep = PartialPlace(tmp_path, "f.bin", "http://h/f.bin", 1024)
    with FileSlot(tmp_path, "f.bin", keep=keep) as slot:
        attempts = download_to(session, "http://h/f.bin", slot)
        written = slot.commit()
    assert attempts == 2
    assert [r.headers.get("Range") for r in mock.requests] == [None, f"bytes={len(body) // 3}-"]
    assert [r.headers.get("If-Range") for r in mock.requests] == [None, '"v1"']
    assert (tmp_path / "f.bin").read_bytes() == body
    assert written.sha256 == hashlib.sha256(body).hexdigest()
    assert (slot.resumed, written.bytes) == (len(body) // 3, len(body))
    assert not keep.part.exists() and not keep.sidecar.exists()


class _Recording:
    """A range sink that records what it was told."""

    def __init__(self) -> None:
        self.started: list[BodyStart] = []
        self.forgotten = 0

    def begin(self, content_type: str | None) -> None:
        raise AssertionError("a range sink is begun with begin_body")

    def write(self, chunk: bytes) -> None:
        pass

    def discard(self) -> None:
        pass

    def held(self) -> HeldPart | None:
        return None

    def begin_body(self, start: BodyStart) -> None:
        self.started.append(start)

    def forget(self) -> None:
        self.forgotten += 1


HELD = HeldPart(100, '"v1"', 300)
NOT_CONTINUED = (
    "the server's answer to the range bytes=100- does not continue the part kept"
    " (Content-Range: {}); starting over"
)


@pytest.mark.parametrize(
    ("status", "headers", "offset", "total", "failure"),
    [
        (206, {"content-range": "bytes 100-299/300"}, 100, 300, None),
        (206, {"content-range": "BYTES 100-299/300"}, 100, 300, None),
        (200, {"content-length": "300"}, 0, 300, None),  # no Range support, or changed
        (200, {"content-length": "300", "content-encoding": "gzip"}, 0, None, None),
        (
            206,
            {"content-range": "bytes 99-299/300"},
            0,
            0,
            NOT_CONTINUED.format("bytes 99-299/300"),
        ),
        (
            206,
            {"content-range": "bytes 100-199/300"},
            0,
            0,
            NOT_CONTINUED.format("bytes 100-199/300"),
        ),
        (
            206,
            {"content-range": "bytes 100-399/400"},
            0,
            0,
            NOT_CONTINUED.format("bytes 100-399/400"),
        ),
        (206, {"content-range": "bytes */300"}, 0, 0, NOT_CONTINUED.format("bytes */300")),
        (206, {}, 0, 0, NOT_CONTINUED.format("none")),
        (
            206,
            {"content-range": "bytes 100-299/300", "content-encoding": "gzip"},
            0,
            0,
            NOT_CONTINUED.format("bytes 100-299/300"),
        ),
    ],
)
def test_what_an_answer_to_a_range_does(
    status: int, headers: dict[str, str], offset: int, total: int | None, failure: str | None
) -> None:
    sink = _Recording()
    if failure is not None:
        with pytest.raises(AttemptError) as caught:
            ranges.begin(sink, sink, HELD, status, headers.get)
        assert (caught.value.cause, caught.value.retryable) == (failure, True)
        assert (sink.forgotten, sink.started) == (1, [])
        return
    ranges.begin(sink, sink, HELD, status, headers.get)
    assert [(s.offset, s.total) for s in sink.started] == [(offset, total)]
    assert sink.forgotten == 0


def test_a_416_drops_the_part() -> None:
    sink = _Recording()
    with pytest.raises(AttemptError) as caught:
        ranges.refused(sink, HELD, 416)
    assert caught.value.cause == "the server refused the range bytes=100- (HTTP 416); starting over"
    assert sink.forgotten == 1
    ranges.refused(sink, None, 416)  # no Range asked: an ordinary 416, check_status says it
    assert sink.forgotten == 1


@pytest.mark.parametrize(
    ("sidecar", "part", "kept"),
    [
        ({}, b"x" * 10, HeldPart(10, '"v1"', 100)),
        ({"etag": 'W/"weak"'}, b"x" * 10, HeldPart(10, "Mon, 01 Dec 2026 00:00:00 GMT", 100)),
        ({"etag": 'W/"weak"', "last_modified": ""}, b"x" * 10, None),  # nothing to check with
        ({"url": "http://h/other"}, b"x" * 10, None),
        ({"path": "other.bin"}, b"x" * 10, None),
        ({"total": 5}, b"x" * 10, None),  # more than the whole file
        ({}, b"", None),
        ({"total": "100"}, b"x" * 10, None),
        ("not json", b"x" * 10, None),
        ({}, None, None),  # the part is gone
        ({}, "link", None),  # a link in its place is not followed
    ],
)
def test_which_parts_a_rerun_continues(
    tmp_path: Path, sidecar: Any, part: bytes | str | None, kept: HeldPart | None
) -> None:
    place = PartialPlace(tmp_path, "f.bin", "http://h/f.bin", 1, look=True)
    place.part.parent.mkdir(parents=True)
    start = BodyStart(200, "image/png", 0, 100, '"v1"', "Mon, 01 Dec 2026 00:00:00 GMT")
    place.record(start, 0)
    if isinstance(sidecar, dict):
        data = json.loads(place.sidecar.read_text("utf-8"))
        place.sidecar.write_text(json.dumps({**data, **sidecar}), "utf-8")
    else:
        place.sidecar.write_text(sidecar, "utf-8")
    if part == "link":
        (tmp_path / "elsewhere").write_bytes(b"x" * 10)
        place.part.symlink_to(tmp_path / "elsewhere")
    elif isinstance(part, bytes):
        place.part.write_bytes(part)
    found = place.load()
    assert (found.held if found is not None else None) == kept
