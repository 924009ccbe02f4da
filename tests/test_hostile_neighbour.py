"""The progress channel: only this run can write to it, and what arrives there is data.

Workers tell the main process what they do over an AF_UNIX socket in a private folder inside
``.yamlcrawl/``, as JSON checked on receipt. A crafted pickle, junk, or JSON of the wrong shape
never runs code and never becomes an event; another user cannot even connect.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import SAMPLES, Recorder, Site
from yamlcrawl.backends import modes
from yamlcrawl.engine.coordinator import Coordinator
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import build_plan
from yamlcrawl.work import events
from yamlcrawl.work.events import MAX_MESSAGE, MAX_TEXT, Event, EventSender, EventSink, to_wire

GOOD = ["start", "pid 7", "file", [0, 1, 2], "downloading a.jpg", 0]


class Exploit:
    """Unpickling this makes a folder: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.marker),)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[EventSink]:
    events = EventSink(tmp_path / "out")
    try:
        yield events
    finally:
        events.close()


def connect(sink: EventSink) -> socket.socket:
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    peer.connect(sink.address.path)
    return peer


def json_bytes(value: object) -> bytes:
    return json.dumps(value).encode()


def replaced(index: int, value: object) -> bytes:
    message = list(GOOD)
    message[index] = value
    return json_bytes(message)


HOSTILE = {
    "random junk": os.urandom(200),
    "not UTF-8": b"\xff\xfe[1]",
    "empty JSON object": b"{}",
    "a JSON string": b'"start"',
    "five fields": json_bytes(GOOD[:5]),
    "seven fields": json_bytes([*GOOD, 0]),
    "an unknown kind": replaced(0, "exec"),
    "a kind that is a list": replaced(0, ["start"]),
    "a worker that is a number": replaced(1, 7),
    "a worker too long": replaced(1, "w" * (MAX_TEXT + 1)),
    "an unknown unit kind": replaced(2, "shell"),
    "a key that is a string": replaced(3, "0.1.2"),
    "a key with a negative index": replaced(3, [0, -1]),
    "a key with a float": replaced(3, [0, 1.5]),
    "a key with a boolean": replaced(3, [True]),
    "a key with a huge number": replaced(3, [2**64]),
    "a detail that is an object": replaced(4, {"a": 1}),
    "a detail too long": replaced(4, "d" * (MAX_TEXT + 1)),
    "an amount that is a string": replaced(5, "10"),
    "a negative amount": replaced(5, -5),
    "an amount that is a float": replaced(5, 1.0),
    "nested too deep": b"[" * 100_000 + b"]" * 100_000,
    "too long": json_bytes([*GOOD[:4], "x" * MAX_MESSAGE, 0]),
    "a number of 10,000 digits": replaced(5, 0)[:-2] + b"9" * 10_000 + b"]",
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_anything_but_an_event_is_dropped(sink: EventSink, data: bytes) -> None:
    with connect(sink) as peer:
        peer.send(data)
        peer.send(json_bytes(GOOD))  # the connection still works after a bad message
    assert sink.drain() == [Event("start", "pid 7", ("file", (0, 1, 2)), "downloading a.jpg")]


def test_a_crafted_pickle_never_runs(sink: EventSink, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    crafted = pickle.dumps(Exploit(marker))
    with connect(sink) as peer:
        peer.send(crafted)
    assert sink.drain() == []
    assert not marker.exists()
    pickle.loads(crafted)  # what the old channel did with it
    assert marker.is_dir()


def test_events_sent_with_emit_arrive_whole(sink: EventSink) -> None:
    event = Event("retry", "pid 9 thread 2", ("page", (3,)), "HTTP 503 \u202e\x1b[2J", 0)
    sender = EventSender(sink.address)
    sender.emit(event)
    sender.emit(Event("bytes", "pid 9", ("file", (3, 0)), amount=4096))
    sender.close()
    assert sink.drain() == [event, Event("bytes", "pid 9", ("file", (3, 0)), amount=4096)]


def test_a_long_detail_is_cut_by_its_sender_not_dropped(sink: EventSink) -> None:
    sender = EventSender(sink.address)
    sender.emit(Event("start", "pid 9", ("page", (0,)), "GET " + "u" * 5000))
    sender.close()
    (event,) = sink.drain()
    assert event.detail == ("GET " + "u" * 5000)[:MAX_TEXT]
    assert to_wire(event)[4] == event.detail


@pytest.fixture
def short_path() -> Iterator[Path]:
    """A folder whose path leaves room for a socket's (pytest's own may not, under xdist)."""
    folder = Path(tempfile.mkdtemp(prefix="yc-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_socket_is_private_and_goes_with_the_run(short_path: Path) -> None:
    sink = EventSink(short_path / "out")
    path = Path(sink.address.path)
    folder = path.parent
    assert folder.parent == short_path / "out" / ".yamlcrawl"
    assert folder.name.startswith(f"events-{os.getpid()}-")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(path.stat().st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o600
    sink.close()
    assert not folder.exists()


def test_a_folder_too_deep_for_a_socket_uses_a_private_temporary_one(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    sink = EventSink(deep)
    folder = Path(sink.address.path).parent
    try:
        assert deep not in folder.parents
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        sender = EventSender(sink.address)
        sender.emit(Event("start", "pid 1", ("page", (0,)), "GET /"))
        sender.close()
        assert [e.detail for e in sink.drain()] == ["GET /"]
    finally:
        sink.close()
    assert not folder.exists()


def test_a_state_folder_others_can_write_is_not_used(short_path: Path) -> None:
    state = short_path / "out" / ".yamlcrawl"
    state.mkdir(parents=True)
    state.chmod(0o777)
    sink = EventSink(short_path / "out")
    try:
        assert state not in Path(sink.address.path).parents
    finally:
        sink.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user (setuid)")
def test_another_user_cannot_connect(sink: EventSink) -> None:
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through its exit code)
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            peer = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            peer.connect(sink.address.path)
            peer.send(json_bytes(GOOD))
            code = 1
        except PermissionError:
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "another user reached the socket"
    assert sink.drain() == []


@pytest.mark.parametrize("mode", ["serial", "process", "queue", "pool", "thread"])
def test_events_flow_in_every_mode(mode: str, lol_site: Site, tmp_path: Path) -> None:
    """(dask: tests/test_dask.py, test_progress_comes_from_the_workers)"""
    loaded = load_spec(
        SAMPLES.parent / "crawler.yaml", {"img": f"{lol_site.base}/images/lol/act/img"}, modes()
    )
    plan = build_plan(loaded.spec, loaded.source).with_overrides(
        mode=mode, output_dir=str(tmp_path / "out"), workers=2
    )
    recorder = Recorder()
    stats = Coordinator(plan, [recorder]).run()
    assert stats.saved == 48
    starts = [e for e in recorder.events if e.kind == "start"]
    assert {e.unit[0] for e in starts} == {"page", "file"}
    assert any(e.detail.startswith("downloading ") for e in starts)
    assert all(e.worker.startswith("pid ") for e in starts)
    assert not list((tmp_path / "out" / ".yamlcrawl").glob("events-*"))  # removed at the end


def test_where_no_private_socket_can_be_made_the_run_goes_on_without_events(
    monkeypatch: pytest.MonkeyPatch, lol_site: Site, tmp_path: Path
) -> None:
    # macOS has no AF_UNIX seqpacket sockets: the run must not fail for want of a display feed.
    def refuse(folder: Path) -> EventSink:
        raise OSError(93, "Protocol not supported")  # socket(AF_UNIX, SOCK_SEQPACKET) there

    monkeypatch.setattr(events, "EventSink", refuse)
    loaded = load_spec(
        SAMPLES.parent / "crawler.yaml", {"img": f"{lol_site.base}/images/lol/act/img"}, modes()
    )
    plan = build_plan(loaded.spec, loaded.source).with_overrides(
        mode="thread", output_dir=str(tmp_path / "out"), workers=2
    )
    recorder = Recorder()
    stats = Coordinator(plan, [recorder]).run()
    assert stats.saved == 48
    assert recorder.events == []
